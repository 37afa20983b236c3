#include "subject.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <memory>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::oidc {

std::string PublicSubject(std::string_view raw_user_id, std::string_view manager) {
  static const char kKey[] = "konnect-IDToken-v1";
  std::string input = std::string(raw_user_id) + " " + std::string(manager);
  // Fetched once: an EVP_MAC is immutable and may be shared between threads (OpenSSL 3).
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "BLAKE2BMAC", nullptr);
  PALAVER_CHECK(mac != nullptr);  // part of OpenSSL 3's default provider
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_new(mac), EVP_MAC_CTX_free);
  size_t out_len = 64;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &out_len), OSSL_PARAM_construct_end()};
  unsigned char digest[64];
  size_t written = 0;
  PALAVER_CHECK(EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(kKey), sizeof kKey - 1, params) == 1);
  PALAVER_CHECK(EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  PALAVER_CHECK(EVP_MAC_final(ctx.get(), digest, &written, sizeof digest) == 1 && written == 64);
  return sdk::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), written)) + "@konnect";
}

}  // namespace palaver::oidc
