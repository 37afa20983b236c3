#include "acme_jws.hpp"

#include <string>

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "identity.hpp"
#include "local_ca.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::tls {
namespace {

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// The P-256 key of RFC 7515 Appendix A.3 (public part), built from its JWK coordinates.
EvpPkeyPtr Rfc7515A3PublicKey() {
  std::string x = *sdk::Base64UrlDecode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
  std::string y = *sdk::Base64UrlDecode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
  std::string point = "\x04" + x + y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return EvpPkeyPtr(key);
}

TEST(AcmeJws, VerifiesTheRfc7515Es256Example) {
  EvpPkeyPtr key = Rfc7515A3PublicKey();
  ASSERT_TRUE(key);
  std::string input =
      "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  std::string sig =
      *sdk::Base64UrlDecode("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
  EXPECT_TRUE(VerifyEs256(*key, input, sig));
  EXPECT_FALSE(VerifyEs256(*key, input + "x", sig));
  // Its JWK, in thumbprint order.
  Result<std::string> jwk = JwkOf(*key);
  ASSERT_TRUE(jwk) << jwk.error().message;
  EXPECT_EQ(*jwk,
            R"({"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})");
}

TEST(AcmeJws, SignsVerifiablyWithRawSignatures) {
  Result<EvpPkeyPtr> key = GenerateKey();
  ASSERT_TRUE(key);
  Result<std::string> sig = SignEs256(**key, "hello");
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(VerifyEs256(**key, "hello", *sig));
  EXPECT_FALSE(VerifyEs256(**key, "hellO", *sig));
}

TEST(AcmeJws, ThumbprintIsSha256OfTheJwk) {
  Result<EvpPkeyPtr> key = GenerateKey();
  ASSERT_TRUE(key);
  std::string jwk = *JwkOf(**key);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(jwk.data()), jwk.size(), digest);
  EXPECT_EQ(*JwkThumbprint(**key), sdk::Base64UrlEncode(std::string(reinterpret_cast<char*>(digest), sizeof digest)));
  EXPECT_EQ(KeyAuthorization("tok", "thumb"), "tok.thumb");
}

TEST(AcmeJws, FlattenedJwsCarriesVerifiableParts) {
  Result<EvpPkeyPtr> key = GenerateKey();
  ASSERT_TRUE(key);
  Result<std::string> jws = JwsEs256(**key, R"({"alg":"ES256"})", R"({"a":1})");
  ASSERT_TRUE(jws);
  std::string protected_b64 = sdk::Base64UrlEncode(R"({"alg":"ES256"})");
  std::string payload_b64 = sdk::Base64UrlEncode(R"({"a":1})");
  std::string prefix = R"({"protected":")" + protected_b64 + R"(","payload":")" + payload_b64 + R"(","signature":")";
  ASSERT_EQ(jws->rfind(prefix, 0), 0u) << *jws;
  std::string sig_b64 = jws->substr(prefix.size(), jws->size() - prefix.size() - 2);
  EXPECT_TRUE(VerifyEs256(**key, protected_b64 + "." + payload_b64, *sdk::Base64UrlDecode(sig_b64)));
  // POST-as-GET: an empty payload.
  Result<std::string> get = JwsEs256(**key, R"({"alg":"ES256"})", "");
  ASSERT_TRUE(get);
  EXPECT_NE(get->find(R"("payload":"")"), std::string::npos);
}

TEST(AcmeJws, RefusesNonP256Keys) {
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  ASSERT_NE(rsa, nullptr);
  EvpPkeyPtr key(rsa);
  EXPECT_FALSE(JwkOf(*key));
}

TEST(AcmeJws, HmacSha256MatchesRfc4231) {
  Result<std::string> mac = HmacSha256("Jefe", "what do ya want for nothing?");
  ASSERT_TRUE(mac);
  EXPECT_EQ(Hex(*mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace palaver::tls
