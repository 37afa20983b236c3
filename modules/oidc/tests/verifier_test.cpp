#include <gtest/gtest.h>

#include <sstream>

#include <Poco/JSON/Array.h>

#include "tokens.hpp"
#include "verifier.hpp"

namespace palaver::oidc {
namespace {

constexpr const char* kIss = "https://meet.example.org";

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = SigningKey::Generate(JwsAlg::kES256, "k1");
    ASSERT_TRUE(key);
    keys_ = std::make_shared<KeySet>(KeySet{*key, {*key}});
    verifier_.SetKeys(keys_);
  }
  Poco::JSON::Object AccessClaims() {
    Poco::JSON::Object c;
    c.set("iss", kIss);
    c.set("sub", "hashed-sub");
    c.set("aud", "kpop-https://meet.example.org/meet/");
    c.set("exp", now_ + 600);
    c.set("iat", now_);
    c.set("kc.isAccessToken", true);
    Poco::JSON::Array::Ptr scopes = new Poco::JSON::Array;
    scopes->add("openid");
    scopes->add("kopano/kwm");
    c.set("kc.authorizedScopes", scopes);
    Poco::JSON::Object::Ptr identity = new Poco::JSON::Object;
    identity->set("kc.i.id", "u1");
    identity->set("kc.i.un", "alice");
    identity->set("kc.i.dn", "Alice");
    c.set("kc.identity", identity);
    return c;
  }
  std::string Sign(const Poco::JSON::Object& c) { return *SignJwt(keys_->signing, c); }

  int64_t now_ = 1'800'000'000;
  std::shared_ptr<KeySet> keys_;
  LocalTokenVerifier verifier_{[] { return std::string(kIss); }, [this] { return now_; }};
};

TEST_F(VerifierTest, AcceptsOwnAccessTokens) {
  auto claims = verifier_.VerifyAccessToken(Sign(AccessClaims()));
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->subject, "hashed-sub");
  EXPECT_EQ(claims->user_id, "u1");
  EXPECT_EQ(claims->username, "alice");
  EXPECT_TRUE(claims->HasScope("kopano/kwm"));
  EXPECT_FALSE(claims->HasScope("kopano/kvs"));
  EXPECT_FALSE(claims->guest);
}

TEST_F(VerifierTest, RejectsOtherIssuerExpiredAndNonAccessTokens) {
  auto other_iss = AccessClaims();
  other_iss.set("iss", "https://evil.example.org");
  EXPECT_FALSE(verifier_.VerifyAccessToken(Sign(other_iss)));
  auto expired = AccessClaims();
  expired.set("exp", now_ - 31);
  auto r = verifier_.VerifyAccessToken(Sign(expired));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().public_message, "token expired");
  auto id_token = AccessClaims();
  id_token.remove("kc.isAccessToken");
  EXPECT_FALSE(verifier_.VerifyAccessToken(Sign(id_token)));
  auto refresh = AccessClaims();
  refresh.set("kc.isAccessToken", "true");  // a string is not the boolean
  EXPECT_FALSE(verifier_.VerifyAccessToken(Sign(refresh)));
  auto no_sub = AccessClaims();
  no_sub.remove("sub");
  EXPECT_FALSE(verifier_.VerifyAccessToken(Sign(no_sub)));
}

TEST_F(VerifierTest, RejectsTokensOfKeysNoLongerPublished) {
  std::string token = Sign(AccessClaims());
  auto fresh = SigningKey::Generate(JwsAlg::kES256, "k2");
  verifier_.SetKeys(std::make_shared<KeySet>(KeySet{*fresh, {*fresh}}));
  EXPECT_FALSE(verifier_.VerifyAccessToken(token));
}

TEST_F(VerifierTest, IssuedTokensVerify) {
  sdk::AccessTokenRequest req{.subject = "s1", .audience = "client", .scopes = {"openid", "kopano/gc"},
                              .user_id = "u9", .username = "zoe", .display_name = "Zoe"};
  auto token = verifier_.IssueAccessToken(req);
  ASSERT_TRUE(token);
  auto claims = verifier_.VerifyAccessToken(*token);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->subject, "s1");
  EXPECT_EQ(claims->user_id, "u9");
  EXPECT_EQ(claims->expires_at, now_ + 600);
  EXPECT_TRUE(claims->HasScope("kopano/gc"));
  now_ += 700;  // past its lifetime (plus leeway)
  EXPECT_FALSE(verifier_.VerifyAccessToken(*token));
  EXPECT_FALSE(verifier_.IssueAccessToken({}));
}

TEST_F(VerifierTest, WithoutKeysIsUnavailable) {
  LocalTokenVerifier empty([] { return std::string(kIss); }, [] { return int64_t{0}; });
  auto r = empty.VerifyAccessToken("a.b.c");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

// ID tokens: expired ones and ones issued to another client are refused (finding 15).
TEST_F(VerifierTest, IdTokensNeedTimeAndAudience) {
  auto id_token = [&](int64_t exp, const Poco::Dynamic::Var& aud) {
    Poco::JSON::Object c;
    c.set("iss", kIss);
    c.set("sub", "hashed-sub");
    c.set("aud", aud);
    c.set("iat", now_ - 10);
    c.set("exp", exp);
    c.set("name", "Alice");
    return Sign(c);
  };
  const std::string client = "kpop-https://meet.example.org/meet/";
  auto ok = verifier_.VerifyIdToken(id_token(now_ + 600, client), client);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->subject, "hashed-sub");
  EXPECT_EQ(ok->name, "Alice");
  EXPECT_FALSE(verifier_.VerifyIdToken(id_token(now_ + 600, client), "other-client"));
  EXPECT_FALSE(verifier_.VerifyIdToken(id_token(now_ + 600, client), ""));
  auto expired = verifier_.VerifyIdToken(id_token(now_ - LocalTokenVerifier::kLeewaySeconds - 1, client), client);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(verifier_.VerifyIdToken(id_token(now_ - 5, client), client));  // inside the leeway
  Poco::JSON::Array::Ptr auds = new Poco::JSON::Array;
  auds->add("someone-else");
  auds->add(client);
  EXPECT_TRUE(verifier_.VerifyIdToken(id_token(now_ + 600, auds), client));
  EXPECT_FALSE(verifier_.VerifyIdToken(id_token(now_ + 600, auds), "third"));
  Poco::JSON::Object no_exp;
  no_exp.set("iss", kIss);
  no_exp.set("sub", "s");
  no_exp.set("aud", client);
  EXPECT_FALSE(verifier_.VerifyIdToken(Sign(no_exp), client));
}

// A trusted external issuer cannot name a local user (and so never a local administrator):
// whatever its kc.identity or sub say, the user id is namespaced by issuer.
TEST_F(VerifierTest, ExternalIssuersNeverNameLocalUsers) {
  const std::string other = "https://konnect.other.example";
  auto key = SigningKey::Generate(JwsAlg::kES256, "x1");
  ASSERT_TRUE(key);
  auto external = std::make_shared<ExternalIssuers>(std::vector<std::string>{other}, "");
  external->SetKeys(other, {*key});
  verifier_.SetExternal(external, [](std::string) {});
  // The local directory: "admin-id" is an administrator.
  int lookups = 0;
  verifier_.SetStanding([&](const std::string& id) -> Result<sdk::UserStanding> {
    ++lookups;
    if (id == "admin-id") return sdk::UserStanding{true, 0};
    return Fail(ErrorCode::kNotFound, "no user");
  });
  auto c = AccessClaims();
  c.set("iss", other);
  Poco::JSON::Object::Ptr identity = new Poco::JSON::Object;
  identity->set("kc.i.id", "admin-id");
  identity->set("kc.i.un", "admin");
  c.set("kc.identity", identity);
  c.set("sub", "admin-id");
  auto claims = verifier_.VerifyActiveAccessToken(*SignJwt(*key, c));
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_TRUE(claims->external);
  EXPECT_NE(claims->user_id, "admin-id");
  EXPECT_EQ(claims->user_id, ExternalUserId(other, "admin-id"));
  EXPECT_EQ(claims->user_id.rfind("ext:", 0), 0u);
  EXPECT_EQ(lookups, 0);  // never looked up as a local user
  c.remove("kc.identity");  // the standard claims only: sub names the user
  claims = verifier_.VerifyAccessToken(*SignJwt(*key, c));
  ASSERT_TRUE(claims);
  EXPECT_NE(claims->user_id, "admin-id");
  // Different issuers, different namespaces.
  EXPECT_NE(ExternalUserId("https://a.example", "u"), ExternalUserId("https://b.example", "u"));
  // Our own tokens keep naming local users.
  auto own = verifier_.VerifyAccessToken(Sign(AccessClaims()));
  ASSERT_TRUE(own);
  EXPECT_FALSE(own->external);
  EXPECT_EQ(own->user_id, "u1");
}

// Tokens of removed or disabled users, or issued before the user's sessions were ended, are
// refused by VerifyActiveAccessToken (finding 4).
TEST_F(VerifierTest, ActiveTokensFollowTheUsersStanding) {
  auto token = Sign(AccessClaims());  // user u1, no epoch claim: epoch 0
  EXPECT_EQ(verifier_.VerifyActiveAccessToken(token).error().code, ErrorCode::kUnavailable);  // no directory
  Result<sdk::UserStanding> standing = sdk::UserStanding{true, 0};
  std::string asked;
  verifier_.SetStanding([&](const std::string& id) -> Result<sdk::UserStanding> {
    asked = id;
    return standing;
  });
  ASSERT_TRUE(verifier_.VerifyActiveAccessToken(token));
  EXPECT_EQ(asked, "u1");
  standing = sdk::UserStanding{false, 0};
  EXPECT_EQ(verifier_.VerifyActiveAccessToken(token).error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(verifier_.VerifyAccessToken(token));  // the signature alone still checks out
  standing = sdk::UserStanding{true, 1};             // password changed
  EXPECT_EQ(verifier_.VerifyActiveAccessToken(token).error().code, ErrorCode::kUnauthenticated);
  standing = Fail(ErrorCode::kNotFound, "removed");
  EXPECT_EQ(verifier_.VerifyActiveAccessToken(token).error().code, ErrorCode::kUnauthenticated);
  standing = Fail(ErrorCode::kUnavailable, "database busy");
  EXPECT_EQ(verifier_.VerifyActiveAccessToken(token).error().code, ErrorCode::kUnavailable);
  // Tokens issued under the current epoch carry it and pass.
  standing = sdk::UserStanding{true, 3};
  auto fresh = verifier_.IssueAccessToken({.subject = "s", .audience = "a", .user_id = "u1", .session_epoch = 3});
  ASSERT_TRUE(fresh);
  auto claims = verifier_.VerifyActiveAccessToken(*fresh);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->session_epoch, 3);
  // Guests have no account to ask about.
  asked.clear();
  auto guest = verifier_.IssueAccessToken({.subject = "g", .audience = "a", .user_id = "g1", .guest = true});
  EXPECT_TRUE(verifier_.VerifyActiveAccessToken(*guest));
  EXPECT_TRUE(asked.empty());
}

// The access token's claims are written as JSON text directly: the text must be what the
// earlier Poco-built object gave (that code, kept here as the oracle).
TEST_F(VerifierTest, IssuedAccessTokenClaimsAreThePocoText) {
  const std::vector<sdk::AccessTokenRequest> requests = {
      {.subject = "s1", .audience = "kpop-https://meet.example.org/meet/", .scopes = {"openid", "kopano/kwm"},
       .user_id = "u9", .username = "zoe", .display_name = "Zo\xc3\xab \"Z\" /\\", .session_epoch = 7},
      {.subject = "s2", .audience = "a", .scopes = {}, .guest = true,
       .authorized_claims = R"({"id_token":{"name":null,"guest":{"essential":true,"value":"g\/1"}}})"},
      {.subject = "s3", .audience = "a", .scopes = {"openid"}, .user_id = "u3",
       .authorized_claims = R"({ "userinfo" : {"email":null}, "id_token":{} })"},
  };
  for (const auto& req : requests) {
    auto token = verifier_.IssueAccessToken(req);
    ASSERT_TRUE(token) << token.error().message;
    auto parts = ParseJwt(*token);
    ASSERT_TRUE(parts);
    std::string payload = *Base64UrlDecode(token->substr(token->find('.') + 1, token->rfind('.') - token->find('.') - 1));
    Poco::JSON::Object c;
    c.set("iss", kIss);
    c.set("sub", req.subject);
    c.set("aud", req.audience);
    c.set("iat", now_);
    c.set("exp", now_ + 600);
    c.set("jti", parts->claims->getValue<std::string>("jti"));  // random
    c.set("kc.isAccessToken", true);
    Poco::JSON::Array::Ptr scopes = new Poco::JSON::Array;
    for (const auto& s : req.scopes) scopes->add(s);
    c.set("kc.authorizedScopes", scopes);
    Poco::JSON::Object::Ptr identity = new Poco::JSON::Object;
    identity->set("kc.i.id", req.user_id.empty() ? req.subject : req.user_id);
    if (!req.username.empty()) identity->set("kc.i.un", req.username);
    if (!req.display_name.empty()) identity->set("kc.i.dn", req.display_name);
    if (req.guest) identity->set("kc.i.guest", true);
    c.set("kc.identity", identity);
    if (!req.guest) c.set(kSessionEpochClaim, req.session_epoch);
    c.set("kc.provider", req.guest ? "guest" : "identifier-palaver");
    if (!req.authorized_claims.empty()) c.set("kc.authorizedClaims", ParseJsonObject(req.authorized_claims));
    std::ostringstream expected;
    c.stringify(expected);
    EXPECT_EQ(payload, expected.str());
    EXPECT_TRUE(verifier_.VerifyAccessToken(*token));
  }
  EXPECT_FALSE(verifier_.IssueAccessToken({.subject = "s", .audience = "a", .authorized_claims = "[1]"}));
}

}  // namespace
}  // namespace palaver::oidc
