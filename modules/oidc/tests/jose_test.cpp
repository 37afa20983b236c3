#include <gtest/gtest.h>

#include "jose.hpp"

namespace palaver::oidc {
namespace {

Poco::JSON::Object Claims(int64_t exp) {
  Poco::JSON::Object c;
  c.set("iss", "https://meet.example.org");
  c.set("sub", "user-1");
  c.set("exp", exp);
  return c;
}

std::string Part(const std::string& token, int i) {
  size_t a = token.find('.'), b = token.find('.', a + 1);
  if (i == 0) return token.substr(0, a);
  if (i == 1) return token.substr(a + 1, b - a - 1);
  return token.substr(b + 1);
}

TEST(Base64Url, RoundTripsAndIsStrict) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00", 3)}) {
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zm9v="));  // padding
  EXPECT_FALSE(Base64UrlDecode("Zm+v"));   // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Z"));      // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh"));     // non-canonical trailing bits
}

class JoseAlgTest : public ::testing::TestWithParam<JwsAlg> {};

TEST_P(JoseAlgTest, SignsAndVerifies) {
  auto key = SigningKey::Generate(GetParam(), "k1");
  ASSERT_TRUE(key);
  auto token = SignJwt(*key, Claims(2000000000));
  ASSERT_TRUE(token);
  auto claims = VerifyJwt(*token, {*key});
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ((*claims)->getValue<std::string>("sub"), "user-1");
  auto header = Base64UrlDecode(Part(*token, 0));
  EXPECT_NE(header->find(std::string("\"alg\":\"") + AlgName(GetParam()) + "\""), std::string::npos);
  EXPECT_NE(header->find("\"kid\":\"k1\""), std::string::npos);
  // The PEM round trip keeps the key.
  auto again = SigningKey::FromPrivatePem(key->PrivatePem(), GetParam(), "k1");
  ASSERT_TRUE(again);
  EXPECT_TRUE(VerifyJwt(*token, {*again}));
  EXPECT_EQ(again->PublicJwk(), key->PublicJwk());
}

INSTANTIATE_TEST_SUITE_P(Algs, JoseAlgTest, ::testing::Values(JwsAlg::kES256, JwsAlg::kRS256, JwsAlg::kPS256));

TEST(Jose, Es256SignatureIsRaw64Bytes) {
  auto key = SigningKey::Generate(JwsAlg::kES256, "k");
  auto token = SignJwt(*key, Claims(1));
  EXPECT_EQ(Base64UrlDecode(Part(*token, 2))->size(), 64u);
  std::string jwk = key->PublicJwk();
  EXPECT_NE(jwk.find("\"kty\":\"EC\",\"crv\":\"P-256\""), std::string::npos);
}

TEST(Jose, RejectsTamperingNoneHmacAndConfusion) {
  auto es = SigningKey::Generate(JwsAlg::kES256, "es");
  auto rs = SigningKey::Generate(JwsAlg::kRS256, "rs");
  auto token = *SignJwt(*es, Claims(2000000000));
  // Tampered payload.
  Poco::JSON::Object evil = Claims(2000000000);
  evil.set("sub", "admin");
  std::ostringstream evil_json;
  evil.stringify(evil_json);
  std::string tampered = Part(token, 0) + "." + Base64UrlEncode(evil_json.str()) + "." + Part(token, 2);
  EXPECT_FALSE(VerifyJwt(tampered, {*es}));
  // alg none, with and without a signature.
  std::string none_header = Base64UrlEncode("{\"alg\":\"none\",\"kid\":\"es\"}");
  EXPECT_FALSE(VerifyJwt(none_header + "." + Part(token, 1) + ".", {*es}));
  EXPECT_FALSE(VerifyJwt(none_header + "." + Part(token, 1) + "." + Part(token, 2), {*es}));
  // HS256 with the public key as the secret (classic confusion) is not even an accepted alg.
  std::string hs_header = Base64UrlEncode("{\"alg\":\"HS256\",\"kid\":\"rs\"}");
  EXPECT_FALSE(VerifyJwt(hs_header + "." + Part(token, 1) + ".AAAA", {*rs}));
  // A header claiming RS256 for the EC key's kid.
  std::string rs_header = Base64UrlEncode("{\"alg\":\"RS256\",\"kid\":\"es\"}");
  auto wrong_alg = VerifyJwt(rs_header + "." + Part(token, 1) + "." + Part(token, 2), {*es});
  ASSERT_FALSE(wrong_alg);
  EXPECT_EQ(wrong_alg.error().public_message, "invalid token");
  // Unknown kid; another key with the same kid.
  EXPECT_FALSE(VerifyJwt(token, {*rs}));
  auto other = SigningKey::Generate(JwsAlg::kES256, "es");
  EXPECT_FALSE(VerifyJwt(token, {*other}));
}

TEST(Jose, RejectsMalformedTokens) {
  auto key = SigningKey::Generate(JwsAlg::kES256, "k");
  for (const std::string& bad : std::vector<std::string>{"", "a", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.", "W10.e30.AA",
                          std::string(kMaxTokenBytes + 1, 'a')}) {
    auto r = VerifyJwt(bad, {*key});
    ASSERT_FALSE(r) << bad.substr(0, 20);
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  }
  std::string crit = Base64UrlEncode("{\"alg\":\"ES256\",\"kid\":\"k\",\"crit\":[\"x\"]}");
  EXPECT_FALSE(ParseJwt(crit + "." + Base64UrlEncode("{}") + ".AA"));
}

TEST(Jose, TokenTimes) {
  Poco::JSON::Object c = Claims(1000);
  EXPECT_TRUE(CheckTokenTimes(c, 990, 0));
  EXPECT_FALSE(CheckTokenTimes(c, 1000, 0));
  EXPECT_TRUE(CheckTokenTimes(c, 1020, 30));  // leeway
  c.set("nbf", 2000);
  EXPECT_FALSE(CheckTokenTimes(c, 990, 30));
  Poco::JSON::Object no_exp;
  EXPECT_FALSE(CheckTokenTimes(no_exp, 0, 0));
  Poco::JSON::Object bad_exp;
  bad_exp.set("exp", "soon");
  EXPECT_FALSE(CheckTokenTimes(bad_exp, 0, 0));
}

TEST(Jose, KeyAlgMismatchOnLoadIsRefused) {
  auto ec = SigningKey::Generate(JwsAlg::kES256, "k");
  EXPECT_FALSE(SigningKey::FromPrivatePem(ec->PrivatePem(), JwsAlg::kRS256, "k"));
  EXPECT_FALSE(SigningKey::FromPrivatePem("not a key", JwsAlg::kES256, "k"));
}

}  // namespace
}  // namespace palaver::oidc
