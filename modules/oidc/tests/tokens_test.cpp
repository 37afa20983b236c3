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

}  // namespace
}  // namespace palaver::oidc
