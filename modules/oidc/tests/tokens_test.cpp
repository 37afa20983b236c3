#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "subject.hpp"
#include "tokens.hpp"

namespace palaver::oidc {
namespace {

const char kIssuer[] = "https://meet.example.org";

Identity Anna() {
  return Identity{.raw_id = "u-anna",
                  .username = "anna",
                  .display_name = "Anna Example",
                  .given_name = "Anna",
                  .family_name = "Example",
                  .email = "anna@example.org"};
}

Grant AnnaGrant() {
  Grant g;
  g.who = Anna();
  g.client_id = "app";
  g.scopes = {"openid", "profile", "email"};
  g.auth_time = 1000;
  return g;
}

IdTokenOptions Options() {
  IdTokenOptions o;
  o.issuer = kIssuer;
  o.now = 5000;
  o.lifetime = 600;
  return o;
}

const char* kProfileClaims[] = {"name", "given_name", "family_name", "preferred_username"};

std::string Str(const Poco::JSON::Object& o, const std::string& name) { return o.getValue<std::string>(name); }

// Claims as they come back from a signed token: serialized and parsed again.
Poco::JSON::Object Reparsed(const Poco::JSON::Object& o) {
  std::ostringstream out;
  o.stringify(out);
  Poco::JSON::Parser parser;
  return *parser.parse(out.str()).extract<Poco::JSON::Object::Ptr>();
}

// ---------------------------------------------------------------------------------------------
// Identity

TEST(Identity, SubjectIsKonnectDerivation) {
  Identity local = Anna();
  EXPECT_EQ(local.Subject(), PublicSubject("u-anna", "identifier-palaver"));
  EXPECT_STREQ(local.Manager(), "identifier-palaver");
  Identity guest{.raw_id = "u-anna", .guest = true};
  EXPECT_STREQ(guest.Manager(), "guest");
  EXPECT_EQ(guest.Subject(), PublicSubject("u-anna", "guest"));
  EXPECT_NE(guest.Subject(), local.Subject());
  // Only the raw id (and manager) count, not the profile.
  Identity renamed = Anna();
  renamed.display_name = "Someone Else";
  EXPECT_EQ(renamed.Subject(), local.Subject());
}

TEST(Grant, HasScope) {
  Grant g = AnnaGrant();
  EXPECT_TRUE(g.HasScope("openid"));
  EXPECT_TRUE(g.HasScope("email"));
  EXPECT_FALSE(g.HasScope("offline_access"));
  EXPECT_FALSE(g.HasScope("open"));
}

// ---------------------------------------------------------------------------------------------
// IdTokenClaims

TEST(IdTokenClaims, StandardClaims) {
  auto c = IdTokenClaims(AnnaGrant(), Options());
  EXPECT_EQ(Str(c, "iss"), kIssuer);
  EXPECT_EQ(Str(c, "sub"), PublicSubject("u-anna", kManagerLocal));
  EXPECT_EQ(Str(c, "aud"), "app");
  EXPECT_EQ(c.getValue<int64_t>("iat"), 5000);
  EXPECT_EQ(c.getValue<int64_t>("exp"), 5600);
  // Optional ones are absent when not given.
  for (const char* absent : {"nonce", "at_hash", "c_hash", "sid", "auth_time", "guest"}) {
    EXPECT_FALSE(c.has(absent)) << absent;
  }
}

TEST(IdTokenClaims, AllProfileAndEmailWithoutAccessToken) {
  auto c = IdTokenClaims(AnnaGrant(), Options());
  EXPECT_EQ(Str(c, "name"), "Anna Example");
  EXPECT_EQ(Str(c, "given_name"), "Anna");
  EXPECT_EQ(Str(c, "family_name"), "Example");
  EXPECT_EQ(Str(c, "preferred_username"), "anna");
  EXPECT_EQ(Str(c, "email"), "anna@example.org");
  EXPECT_TRUE(c.getValue<bool>("email_verified"));
}

TEST(IdTokenClaims, OnlyGrantedScopesWithoutAccessToken) {
  Grant profile_only = AnnaGrant();
  profile_only.scopes = {"openid", "profile"};
  auto p = IdTokenClaims(profile_only, Options());
  EXPECT_TRUE(p.has("name"));
  EXPECT_TRUE(p.has("preferred_username"));
  EXPECT_FALSE(p.has("email"));
  EXPECT_FALSE(p.has("email_verified"));

  Grant email_only = AnnaGrant();
  email_only.scopes = {"openid", "email"};
  auto e = IdTokenClaims(email_only, Options());
  EXPECT_TRUE(e.has("email"));
  for (const char* name : kProfileClaims) EXPECT_FALSE(e.has(name)) << name;

  Grant bare = AnnaGrant();
  bare.scopes = {"openid"};
  auto b = IdTokenClaims(bare, Options());
  EXPECT_FALSE(b.has("email"));
  for (const char* name : kProfileClaims) EXPECT_FALSE(b.has(name)) << name;
}

TEST(IdTokenClaims, WithAccessTokenOnlyNamedClaims) {
  IdTokenOptions o = Options();
  o.with_access_token = true;
  auto none = IdTokenClaims(AnnaGrant(), o);
  for (const char* name : kProfileClaims) EXPECT_FALSE(none.has(name)) << name;
  EXPECT_FALSE(none.has("email"));
  EXPECT_FALSE(none.has("email_verified"));

  Grant named = AnnaGrant();
  named.id_token_claims = {"name", "email"};
  auto c = IdTokenClaims(named, o);
  EXPECT_EQ(Str(c, "name"), "Anna Example");
  EXPECT_EQ(Str(c, "email"), "anna@example.org");
  EXPECT_TRUE(c.getValue<bool>("email_verified"));
  EXPECT_FALSE(c.has("given_name"));
  EXPECT_FALSE(c.has("family_name"));
  EXPECT_FALSE(c.has("preferred_username"));

  // email_verified alone asks for the e-mail pair too.
  Grant verified = AnnaGrant();
  verified.id_token_claims = {"email_verified"};
  auto v = IdTokenClaims(verified, o);
  EXPECT_TRUE(v.has("email"));
  EXPECT_TRUE(v.has("email_verified"));
}

TEST(IdTokenClaims, NamedClaimsEvenWithoutTheScope) {
  Grant g = AnnaGrant();
  g.scopes = {"openid"};
  g.id_token_claims = {"preferred_username"};
  IdTokenOptions o = Options();
  o.with_access_token = true;
  auto c = IdTokenClaims(g, o);
  EXPECT_EQ(Str(c, "preferred_username"), "anna");
  EXPECT_FALSE(c.has("name"));
}

TEST(IdTokenClaims, EmptyValuesAreOmitted) {
  Grant g = AnnaGrant();
  g.who.given_name.clear();
  g.who.family_name.clear();
  g.who.email.clear();
  auto c = IdTokenClaims(g, Options());
  EXPECT_TRUE(c.has("name"));
  EXPECT_FALSE(c.has("given_name"));
  EXPECT_FALSE(c.has("family_name"));
  EXPECT_FALSE(c.has("email"));
  EXPECT_FALSE(c.has("email_verified"));
}

TEST(IdTokenClaims, NonceHashesSidAndAuthTime) {
  Grant g = AnnaGrant();
  g.sid = "session-7";
  IdTokenOptions o = Options();
  o.nonce = "n-0S6_WzA2Mj";
  o.at_hash = "at-hash";
  o.c_hash = "c-hash";
  o.include_auth_time = true;
  auto c = IdTokenClaims(g, o);
  EXPECT_EQ(Str(c, "nonce"), "n-0S6_WzA2Mj");
  EXPECT_EQ(Str(c, "at_hash"), "at-hash");
  EXPECT_EQ(Str(c, "c_hash"), "c-hash");
  EXPECT_EQ(Str(c, "sid"), "session-7");
  EXPECT_EQ(c.getValue<int64_t>("auth_time"), 1000);
}

TEST(IdTokenClaims, AuthTimeWhenNamedInClaimsRequest) {
  Grant g = AnnaGrant();
  g.id_token_claims = {"auth_time"};
  auto c = IdTokenClaims(g, Options());
  ASSERT_TRUE(c.has("auth_time"));
  EXPECT_EQ(c.getValue<int64_t>("auth_time"), 1000);
}

TEST(IdTokenClaims, Guest) {
  Grant g;
  g.who = Identity{.raw_id = "g-42", .display_name = "(Guest) Bob", .email = "bob@example.org", .guest = true};
  g.client_id = "kpop-https://meet.example.org/meet";
  g.scopes = {"openid", "profile", "email", "konnect/guestok", "kopano/kwm"};
  auto c = IdTokenClaims(g, Options());
  EXPECT_EQ(Str(c, "sub"), PublicSubject("g-42", kManagerGuest));
  EXPECT_NE(Str(c, "sub"), PublicSubject("g-42", kManagerLocal));
  ASSERT_TRUE(c.has("guest"));
  EXPECT_TRUE(c.getValue<bool>("guest"));
  EXPECT_EQ(Str(c, "name"), "(Guest) Bob");
  // A guest's e-mail address was never verified.
  ASSERT_TRUE(c.has("email_verified"));
  EXPECT_FALSE(c.getValue<bool>("email_verified"));
  // Not a guest: no guest claim at all.
  EXPECT_FALSE(IdTokenClaims(AnnaGrant(), Options()).has("guest"));
}

// ---------------------------------------------------------------------------------------------
// AccessTokenFor

TEST(AccessTokenFor, FieldMapping) {
  Grant g = AnnaGrant();
  g.scopes = {"openid", "kopano/kwm"};
  g.claims_json = R"({"id_token":{"name":null}})";
  auto r = AccessTokenFor(g, 900);
  EXPECT_EQ(r.subject, PublicSubject("u-anna", kManagerLocal));
  EXPECT_EQ(r.audience, "app");
  EXPECT_EQ(r.scopes, (std::vector<std::string>{"openid", "kopano/kwm"}));
  EXPECT_EQ(r.user_id, "u-anna");
  EXPECT_EQ(r.username, "anna");
  EXPECT_EQ(r.display_name, "Anna Example");
  EXPECT_FALSE(r.guest);
  EXPECT_EQ(r.authorized_claims, R"({"id_token":{"name":null}})");
  EXPECT_EQ(r.lifetime, std::chrono::seconds(900));

  Grant guest = g;
  guest.who.guest = true;
  auto gr = AccessTokenFor(guest, 60);
  EXPECT_TRUE(gr.guest);
  EXPECT_EQ(gr.subject, PublicSubject("u-anna", kManagerGuest));
  EXPECT_EQ(gr.lifetime, std::chrono::seconds(60));
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens

Grant RichGrant() {
  Grant g = AnnaGrant();
  g.scopes = {"openid", "profile", "offline_access", "kopano/kwm"};
  g.claims_json = R"({"id_token":{"auth_time":{"essential":true},"name":null},"userinfo":{"email":null}})";
  g.id_token_claims = {"auth_time", "name"};
  g.sid = "sid-1";
  return g;
}

TEST(RefreshToken, ClaimsShape) {
  auto c = RefreshTokenClaims(RichGrant(), kIssuer, "jti-1", "fam-1", 2000, 3600);
  EXPECT_EQ(Str(c, "iss"), kIssuer);
  EXPECT_EQ(Str(c, "sub"), PublicSubject("u-anna", kManagerLocal));
  EXPECT_EQ(Str(c, "aud"), "app");
  EXPECT_EQ(c.getValue<int64_t>("iat"), 2000);
  EXPECT_EQ(c.getValue<int64_t>("exp"), 5600);
  EXPECT_EQ(Str(c, "jti"), "jti-1");
  EXPECT_TRUE(c.getValue<bool>("kc.isRefreshToken"));
  EXPECT_EQ(Str(c, "kc.ref"), "fam-1");
  EXPECT_EQ(Str(c, "kc.provider"), kManagerLocal);
}

TEST(RefreshToken, RoundTrip) {
  Grant g = RichGrant();
  auto claims = Reparsed(RefreshTokenClaims(g, kIssuer, "jti-1", "fam-1", 2000, 3600));
  auto info = ReadRefreshToken(claims, kIssuer, "app");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->jti, "jti-1");
  EXPECT_EQ(info->family, "fam-1");
  EXPECT_EQ(info->expires_at, 5600);
  const Grant& back = info->grant;
  EXPECT_EQ(back.client_id, "app");
  EXPECT_EQ(back.scopes, g.scopes);
  EXPECT_EQ(back.id_token_claims, g.id_token_claims);
  EXPECT_EQ(back.auth_time, 1000);
  EXPECT_EQ(back.sid, "sid-1");
  EXPECT_EQ(back.who.raw_id, "u-anna");
  EXPECT_EQ(back.who.username, "anna");
  EXPECT_EQ(back.who.display_name, "Anna Example");
  EXPECT_FALSE(back.who.guest);
  EXPECT_EQ(back.who.Subject(), g.who.Subject());
  // The approved claims request survives as equivalent JSON.
  ASSERT_FALSE(back.claims_json.empty());
  Poco::JSON::Parser parser;
  auto approved = parser.parse(back.claims_json).extract<Poco::JSON::Object::Ptr>();
  ASSERT_TRUE(approved->getObject("id_token"));
  EXPECT_TRUE(approved->getObject("id_token")->getObject("auth_time")->getValue<bool>("essential"));
  ASSERT_TRUE(approved->getObject("userinfo"));
  EXPECT_TRUE(approved->getObject("userinfo")->has("email"));
  // And a rotated token built from the read grant reads back the same.
  auto again = ReadRefreshToken(Reparsed(RefreshTokenClaims(back, kIssuer, "jti-2", info->family, 3000, 3600)),
                                kIssuer, "app");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->family, "fam-1");
  EXPECT_EQ(again->jti, "jti-2");
  EXPECT_EQ(again->grant.scopes, g.scopes);
  EXPECT_EQ(again->grant.id_token_claims, g.id_token_claims);
}

TEST(RefreshToken, RoundTripGuestAndMinimalGrant) {
  Grant g;
  g.who = Identity{.raw_id = "g-9", .guest = true};
  g.client_id = "kpop-https://meet.example.org/meet";
  g.scopes = {"openid"};
  auto info = ReadRefreshToken(Reparsed(RefreshTokenClaims(g, kIssuer, "j", "f", 10, 20)), kIssuer,
                               "kpop-https://meet.example.org/meet");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(info->grant.who.guest);
  EXPECT_EQ(info->grant.who.raw_id, "g-9");
  EXPECT_TRUE(info->grant.who.username.empty());
  EXPECT_TRUE(info->grant.claims_json.empty());
  EXPECT_TRUE(info->grant.id_token_claims.empty());
  EXPECT_TRUE(info->grant.sid.empty());
  EXPECT_EQ(info->grant.who.Subject(), PublicSubject("g-9", kManagerGuest));
}

void ExpectInvalidGrant(const Result<RefreshTokenInfo>& r, const std::string& context) {
  ASSERT_FALSE(r) << context;
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated) << context;
  EXPECT_FALSE(r.error().public_message.empty()) << context;
}

TEST(RefreshToken, NotARefreshToken) {
  auto good = Reparsed(RefreshTokenClaims(RichGrant(), kIssuer, "jti-1", "fam-1", 2000, 3600));
  ASSERT_TRUE(ReadRefreshToken(good, kIssuer, "app"));

  Poco::JSON::Object missing(good);
  missing.remove("kc.isRefreshToken");
  ExpectInvalidGrant(ReadRefreshToken(missing, kIssuer, "app"), "missing flag");
  Poco::JSON::Object falsy(good);
  falsy.set("kc.isRefreshToken", false);
  ExpectInvalidGrant(ReadRefreshToken(falsy, kIssuer, "app"), "false flag");
  Poco::JSON::Object stringy(good);
  stringy.set("kc.isRefreshToken", "true");
  ExpectInvalidGrant(ReadRefreshToken(stringy, kIssuer, "app"), "string flag");

  // An ID token of the same grant is not a refresh token.
  ExpectInvalidGrant(ReadRefreshToken(Reparsed(IdTokenClaims(RichGrant(), Options())), kIssuer, "app"), "id token");
}

TEST(RefreshToken, OtherIssuerOrAudience) {
  auto good = Reparsed(RefreshTokenClaims(RichGrant(), kIssuer, "jti-1", "fam-1", 2000, 3600));
  ExpectInvalidGrant(ReadRefreshToken(good, "https://other.example.org", "app"), "issuer");
  ExpectInvalidGrant(ReadRefreshToken(good, kIssuer, "other-app"), "audience");
  Poco::JSON::Object no_iss(good);
  no_iss.remove("iss");
  ExpectInvalidGrant(ReadRefreshToken(no_iss, kIssuer, "app"), "no iss");
}

TEST(RefreshToken, MissingIds) {
  auto good = Reparsed(RefreshTokenClaims(RichGrant(), kIssuer, "jti-1", "fam-1", 2000, 3600));
  Poco::JSON::Object no_jti(good);
  no_jti.remove("jti");
  ExpectInvalidGrant(ReadRefreshToken(no_jti, kIssuer, "app"), "no jti");
  Poco::JSON::Object empty_jti(good);
  empty_jti.set("jti", "");
  ExpectInvalidGrant(ReadRefreshToken(empty_jti, kIssuer, "app"), "empty jti");
  Poco::JSON::Object no_family(good);
  no_family.remove("kc.ref");
  ExpectInvalidGrant(ReadRefreshToken(no_family, kIssuer, "app"), "no family");
  ExpectInvalidGrant(
      ReadRefreshToken(Reparsed(RefreshTokenClaims(RichGrant(), kIssuer, "", "fam", 1, 2)), kIssuer, "app"),
      "built without jti");
}

TEST(RefreshToken, IdentityMustMatchSubject) {
  auto good = Reparsed(RefreshTokenClaims(RichGrant(), kIssuer, "jti-1", "fam-1", 2000, 3600));
  Poco::JSON::Object other_sub(good);
  other_sub.set("sub", PublicSubject("u-mallory", kManagerLocal));
  ExpectInvalidGrant(ReadRefreshToken(other_sub, kIssuer, "app"), "other sub");

  Poco::JSON::Object other_id(good);
  Poco::JSON::Object::Ptr identity = new Poco::JSON::Object(*good.getObject("kc.identity"));
  identity->set("kc.i.id", "u-mallory");
  other_id.set("kc.identity", identity);
  ExpectInvalidGrant(ReadRefreshToken(other_id, kIssuer, "app"), "other raw id");

  // Turning the user into a guest changes the subject derivation.
  Poco::JSON::Object as_guest(good);
  Poco::JSON::Object::Ptr guest_identity = new Poco::JSON::Object(*good.getObject("kc.identity"));
  guest_identity->set("kc.i.guest", true);
  as_guest.set("kc.identity", guest_identity);
  ExpectInvalidGrant(ReadRefreshToken(as_guest, kIssuer, "app"), "guest flag");

  Poco::JSON::Object no_identity(good);
  no_identity.remove("kc.identity");
  ExpectInvalidGrant(ReadRefreshToken(no_identity, kIssuer, "app"), "no identity");

  Poco::JSON::Object empty_id(good);
  Poco::JSON::Object::Ptr empty_identity = new Poco::JSON::Object;
  empty_id.set("kc.identity", empty_identity);
  ExpectInvalidGrant(ReadRefreshToken(empty_id, kIssuer, "app"), "empty identity");
}

// ---------------------------------------------------------------------------------------------
// The claims are written as JSON text directly; the text must be what the earlier Poco-built
// objects gave (tokens issued before and after compare equal). The oracles below are that
// earlier code, kept here verbatim.

std::string PocoText(const Poco::JSON::Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

Poco::JSON::Object OracleIdTokenClaims(const Grant& grant, const IdTokenOptions& o) {
  Poco::JSON::Object c;
  c.set("iss", o.issuer);
  c.set("sub", grant.who.Subject());
  c.set("aud", grant.client_id);
  c.set("iat", o.now);
  c.set("exp", o.now + o.lifetime);
  if (!o.nonce.empty()) c.set("nonce", o.nonce);
  if (!o.at_hash.empty()) c.set("at_hash", o.at_hash);
  if (!o.c_hash.empty()) c.set("c_hash", o.c_hash);
  if (!grant.sid.empty()) c.set("sid", grant.sid);
  if (o.include_auth_time || grant.id_token_claims.count("auth_time")) c.set("auth_time", grant.auth_time);
  auto wanted = [&](const char* name, const char* scope) {
    return grant.id_token_claims.count(name) > 0 || (!o.with_access_token && grant.HasScope(scope));
  };
  auto add = [&c](const char* name, const std::string& value) {
    if (!value.empty()) c.set(name, value);
  };
  const Identity& w = grant.who;
  if (wanted("name", "profile")) add("name", w.display_name);
  if (wanted("given_name", "profile")) add("given_name", w.given_name);
  if (wanted("family_name", "profile")) add("family_name", w.family_name);
  if (wanted("preferred_username", "profile")) add("preferred_username", w.username);
  if (!w.email.empty() && (wanted("email", "email") || wanted("email_verified", "email"))) {
    c.set("email", w.email);
    c.set("email_verified", !w.guest);
  }
  if (w.guest) c.set("guest", true);
  return c;
}

Poco::JSON::Object OracleRefreshTokenClaims(const Grant& grant, const std::string& issuer, const std::string& jti,
                                            const std::string& family, int64_t now, int64_t lifetime) {
  Poco::JSON::Object c;
  c.set("iss", issuer);
  c.set("sub", grant.who.Subject());
  c.set("aud", grant.client_id);
  c.set("iat", now);
  c.set("exp", now + lifetime);
  c.set("jti", jti);
  c.set("kc.isRefreshToken", true);
  Poco::JSON::Array::Ptr scopes = new Poco::JSON::Array;
  for (const auto& s : grant.scopes) scopes->add(s);
  c.set("kc.approvedScopes", scopes);
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(grant.claims_json);
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) c.set("kc.approvedClaims", v.extract<Poco::JSON::Object::Ptr>());
  } catch (const Poco::Exception&) {
  }
  Poco::JSON::Array::Ptr names = new Poco::JSON::Array;
  for (const auto& n : grant.id_token_claims) names->add(n);
  c.set("kc.idTokenClaims", names);
  Poco::JSON::Object::Ptr identity = new Poco::JSON::Object;
  identity->set("kc.i.id", grant.who.raw_id);
  if (!grant.who.username.empty()) identity->set("kc.i.un", grant.who.username);
  if (!grant.who.display_name.empty()) identity->set("kc.i.dn", grant.who.display_name);
  if (grant.who.guest) identity->set("kc.i.guest", true);
  c.set("kc.identity", identity);
  c.set("kc.provider", grant.who.Manager());
  c.set("kc.ref", family);
  c.set("auth_time", grant.auth_time);
  if (!grant.sid.empty()) c.set("sid", grant.sid);
  if (!grant.who.guest) c.set(kSessionEpochClaim, grant.session_epoch);
  return c;
}

// Grants covering every optional member, escaping and non-ASCII text.
std::vector<Grant> GrantVariants() {
  std::vector<Grant> out;
  for (int bits = 0; bits < 64; ++bits) {
    Grant g = bits & 1 ? RichGrant() : AnnaGrant();
    if (bits & 2) g.who.guest = true;
    if (bits & 4) {
      g.who.display_name = "J\xc3\xbcrgen \"JJ\" M\xc3\xbcller\\<b>/\t";
      g.who.username = "j\u00fc";
      g.who.email.clear();
    }
    if (bits & 8) {
      g.who.given_name.clear();
      g.who.family_name = std::string("Ctl\x01\x1f", 5);
      g.scopes = {"openid", "email", "offline_access"};
    }
    if (bits & 16) {
      g.id_token_claims = {"name", "email_verified", "preferred_username", "auth_time", "family_name"};
      g.claims_json = R"({"id_token":{"name":{"essential":true}},"passthru":{"kopano/kwm/guest":{"path":"/a\/b"}}})";
    }
    if (bits & 32) {
      g.sid = "s\"id";
      g.session_epoch = 42;
      g.claims_json = "not json";
    }
    out.push_back(std::move(g));
  }
  return out;
}

TEST(ClaimsJson, IdTokenIsThePocoText) {
  int compared = 0;
  for (const Grant& g : GrantVariants()) {
    for (int bits = 0; bits < 16; ++bits) {
      IdTokenOptions o = Options();
      if (bits & 1) o.nonce = "n/\"1\"";
      if (bits & 2) o.at_hash = "at-hash";
      if (bits & 4) o.c_hash = "c-hash";
      o.with_access_token = (bits & 8) != 0;
      o.include_auth_time = (bits & 3) == 3;
      std::string expected = PocoText(OracleIdTokenClaims(g, o));
      ASSERT_EQ(IdTokenClaimsJson(g, o), expected);
      o.subject = g.who.Subject();  // passed in: the same text
      ASSERT_EQ(IdTokenClaimsJson(g, o), expected);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 64 * 16);
}

TEST(ClaimsJson, RefreshTokenIsThePocoText) {
  for (const Grant& g : GrantVariants()) {
    std::string expected = PocoText(OracleRefreshTokenClaims(g, kIssuer, "jti-1", "fam\\1", 2000, 3600));
    ASSERT_EQ(RefreshTokenClaimsJson(g, kIssuer, "jti-1", "fam\\1", 2000, 3600), expected);
    ASSERT_EQ(RefreshTokenClaimsJson(g, kIssuer, "jti-1", "fam\\1", 2000, 3600, g.who.Subject()), expected);
  }
}

}  // namespace
}  // namespace palaver::oidc
