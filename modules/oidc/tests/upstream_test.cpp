#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

#include "config.hpp"
#include "upstream.hpp"

namespace palaver::oidc {
namespace {

constexpr const char* kUp = "https://sso.example.org/realms/ucs";
constexpr int64_t kNow = 1'800'000'000;

class UpstreamTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = SigningKey::Generate(JwsAlg::kES256, "up1");
    ASSERT_TRUE(key);
    key_ = *key;
    auto other = SigningKey::Generate(JwsAlg::kES256, "up1");  // same kid, other key
    ASSERT_TRUE(other);
    forger_ = *other;
  }
  Poco::JSON::Object Claims() {
    Poco::JSON::Object c;
    c.set("iss", kUp);
    c.set("sub", "f0e1");
    c.set("aud", "palaver");
    c.set("exp", kNow + 300);
    c.set("iat", kNow);
    c.set("nonce", "n-123");
    c.set("preferred_username", "anna");
    return c;
  }
  Result<Poco::JSON::Object::Ptr> Check(const Poco::JSON::Object& c, const SigningKey& signer,
                                        const std::string& nonce = "n-123") {
    return VerifyUpstreamIdToken(*SignJwt(signer, c), {*key_}, kUp, "palaver", nonce, kNow);
  }
  std::optional<SigningKey> key_, forger_;
};

TEST_F(UpstreamTokenTest, AcceptsAValidIdToken) {
  auto claims = Check(Claims(), *key_);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(UserClaimValue(**claims, "preferred_username"), "anna");
  EXPECT_EQ(UserClaimValue(**claims, "email"), "");
}

TEST_F(UpstreamTokenTest, RefusesEachFailedCheck) {
  EXPECT_FALSE(Check(Claims(), *forger_));  // bad signature
  auto c = Claims();
  c.set("iss", "https://evil.example.org");
  EXPECT_FALSE(Check(c, *key_));
  c = Claims();
  c.set("aud", "someone-else");
  EXPECT_FALSE(Check(c, *key_));
  c = Claims();
  c.set("exp", kNow - 120);
  EXPECT_FALSE(Check(c, *key_));
  EXPECT_FALSE(Check(Claims(), *key_, "n-124"));  // wrong nonce
  EXPECT_FALSE(Check(Claims(), *key_, ""));
  c = Claims();
  c.remove("nonce");
  EXPECT_FALSE(Check(c, *key_));
  c = Claims();
  c.remove("sub");
  EXPECT_FALSE(Check(c, *key_));
  auto err = Check(Claims(), *key_, "other");
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(err.error().message.find("nonce"), std::string::npos);
}

TEST_F(UpstreamTokenTest, AudienceArraysNeedAzp) {
  auto c = Claims();
  Poco::JSON::Array::Ptr aud = new Poco::JSON::Array;
  aud->add("palaver");
  aud->add("account");
  c.set("aud", aud);
  EXPECT_FALSE(Check(c, *key_));
  c.set("azp", "palaver");
  EXPECT_TRUE(Check(c, *key_));
}

TEST(UpstreamDiscovery, NeedsTheIssuerAndHttpsEndpoints) {
  std::string good = std::string("{\"issuer\":\"") + kUp +
                     "\",\"authorization_endpoint\":\"https://sso.example.org/a\",\"token_endpoint\":"
                     "\"https://sso.example.org/t\",\"jwks_uri\":\"https://sso.example.org/k\",\"end_session_endpoint\":"
                     "\"https://sso.example.org/logout\",\"id_token_signing_alg_values_supported\":[\"RS256\",\"HS256\"]}";
  auto e = ParseUpstreamDiscovery(good, kUp);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->end_session, "https://sso.example.org/logout");
  EXPECT_EQ(e->algs.size(), 1u);
  EXPECT_FALSE(ParseUpstreamDiscovery(good, "https://other.example.org"));
  std::string plain = good;
  plain.replace(plain.find("https://sso.example.org/t"), 8, "http://");
  EXPECT_FALSE(ParseUpstreamDiscovery(plain, kUp));
  EXPECT_FALSE(ParseUpstreamDiscovery("[1]", kUp));
  EXPECT_FALSE(ParseUpstreamDiscovery(std::string("{\"issuer\":\"") + kUp + "\",\"token_endpoint\":5}", kUp));
}

TEST(UpstreamPkce, MatchesRfc7636) {
  EXPECT_EQ(PkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(UpstreamAttempt, RoundTripsAndExpires) {
  UpstreamAttempt a{"s1", "n1", "v1", "oidc", "client_id=x&scope=openid", kNow + 600};
  auto back = UpstreamAttempt::FromJson(a.ToJson(), kNow);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state, "s1");
  EXPECT_EQ(back->query, "client_id=x&scope=openid");
  EXPECT_FALSE(UpstreamAttempt::FromJson(a.ToJson(), kNow + 600));
  EXPECT_FALSE(UpstreamAttempt::FromJson("{}", kNow));
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("", ""));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abcd"));
}

}  // namespace
}  // namespace palaver::oidc
