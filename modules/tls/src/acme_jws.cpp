#include "acme_jws.hpp"

#include <memory>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "identity.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::tls {
namespace {

struct BnDeleter {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter>;

constexpr int kCoordinateBytes = 32;  // P-256

Result<std::string> Coordinate(EVP_PKEY& key, const char* param) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(&key, param, &raw) != 1) {
    return Fail(ErrorCode::kInvalidArgument, "the ACME account key is not an EC key: " + OpenSslErrors());
  }
  BnPtr bn(raw);
  std::string out(kCoordinateBytes, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), kCoordinateBytes) != kCoordinateBytes) {
    return Fail(ErrorCode::kInvalidArgument, "the ACME account key is not on P-256");
  }
  return out;
}

std::string Sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

Result<std::string> JwkOf(EVP_PKEY& key) {
  char curve[64] = {0};
  size_t curve_len = 0;
  if (EVP_PKEY_get_utf8_string_param(&key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, &curve_len) != 1 ||
      std::string_view(curve, curve_len) != "prime256v1") {
    return Fail(ErrorCode::kInvalidArgument, "the ACME account key must be ECDSA P-256");
  }
  PALAVER_ASSIGN_OR_RETURN(std::string x, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X));
  PALAVER_ASSIGN_OR_RETURN(std::string y, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y));
  return R"({"crv":"P-256","kty":"EC","x":")" + sdk::Base64UrlEncode(x) + R"(","y":")" + sdk::Base64UrlEncode(y) +
         R"("})";
}

Result<std::string> JwkThumbprint(EVP_PKEY& key) {
  PALAVER_ASSIGN_OR_RETURN(std::string jwk, JwkOf(key));
  return sdk::Base64UrlEncode(Sha256(jwk));
}

Result<std::string> SignEs256(EVP_PKEY& key, std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Fail(ErrorCode::kInternal, "out of memory");
  size_t der_len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, &key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Fail(ErrorCode::kInternal, "ES256 signing failed: " + OpenSslErrors());
  }
  std::string der(der_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &der_len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Fail(ErrorCode::kInternal, "ES256 signing failed: " + OpenSslErrors());
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!sig) return Fail(ErrorCode::kInternal, "ES256 signature not DER: " + OpenSslErrors());
  std::string out(2 * kCoordinateBytes, '\0');
  auto* raw = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw, kCoordinateBytes) != kCoordinateBytes ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw + kCoordinateBytes, kCoordinateBytes) != kCoordinateBytes) {
    return Fail(ErrorCode::kInternal, "ES256 signature does not fit P-256");
  }
  return out;
}

bool VerifyEs256(EVP_PKEY& key, std::string_view data, std::string_view signature) {
  if (signature.size() != 2 * kCoordinateBytes) return false;
  const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw, kCoordinateBytes, nullptr);
  BIGNUM* s = BN_bin2bn(raw + kCoordinateBytes, kCoordinateBytes, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, &key) == 1 &&
            EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_len),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  OPENSSL_free(der);
  return ok;
}

Result<std::string> HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t out_len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof out, &out_len) == nullptr) {
    return Fail(ErrorCode::kInternal, "HMAC-SHA256 failed: " + OpenSslErrors());
  }
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

Result<std::string> JwsEs256(EVP_PKEY& key, const std::string& protected_json, const std::string& payload) {
  std::string protected_b64 = sdk::Base64UrlEncode(protected_json);
  std::string payload_b64 = sdk::Base64UrlEncode(payload);
  PALAVER_ASSIGN_OR_RETURN(std::string sig, SignEs256(key, protected_b64 + "." + payload_b64));
  return R"({"protected":")" + protected_b64 + R"(","payload":")" + payload_b64 + R"(","signature":")" +
         sdk::Base64UrlEncode(sig) + R"("})";
}

Result<std::string> JwsHs256(std::string_view mac_key, const std::string& protected_json, const std::string& payload) {
  std::string protected_b64 = sdk::Base64UrlEncode(protected_json);
  std::string payload_b64 = sdk::Base64UrlEncode(payload);
  PALAVER_ASSIGN_OR_RETURN(std::string mac, HmacSha256(mac_key, protected_b64 + "." + payload_b64));
  return R"({"protected":")" + protected_b64 + R"(","payload":")" + payload_b64 + R"(","signature":")" +
         sdk::Base64UrlEncode(mac) + R"("})";
}

std::string KeyAuthorization(std::string_view token, std::string_view thumbprint) {
  return std::string(token) + "." + std::string(thumbprint);
}

}  // namespace palaver::tls
