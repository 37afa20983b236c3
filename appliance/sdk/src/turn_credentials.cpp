#include "palaver/sdk/services/turn_credentials.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "palaver/sdk/encoding.hpp"

namespace palaver::sdk {

TurnCredential MakeTurnCredential(std::string_view secret, std::string_view user_id, int64_t now_s, int64_t ttl_s,
                                  std::vector<std::string> uris, TurnUser who) {
  TurnCredential c;
  c.username = std::to_string(now_s + ttl_s) + ":" +
               std::string(who == TurnUser::kGuest ? kTurnGuestUserPrefix : std::string_view()) + std::string(user_id);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(c.username.data()),
       c.username.size(), mac, &len);
  c.password = Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), len));
  c.ttl = ttl_s;
  c.uris = std::move(uris);
  return c;
}

}  // namespace palaver::sdk
