#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

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

}  // namespace
}  // namespace palaver::oidc
