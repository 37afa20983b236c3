// TurnCredentials: short-lived TURN credentials for a user (coturn's TURN REST API scheme).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// What a WebRTC client puts in its ICE server entry. Value type.
struct TurnCredential {
  std::string username;  // "<expiry unix seconds>:<user id>"
  std::string password;  // base64(HMAC-SHA1(secret, username))
  int64_t ttl = 0;       // seconds
  std::vector<std::string> uris;
};

/// Published by the `turn` module (its own secret and URIs). Thread-safe, non-blocking.
class TurnCredentials {
 public:
  virtual ~TurnCredentials() = default;
  virtual Result<TurnCredential> Issue(std::string_view user_id) = 0;
};

/// The TURN REST API credential (draft-uberti-behave-turn-rest, coturn `use-auth-secret`):
/// username `<now + ttl>:<user>`, password base64(HMAC-SHA1(secret, username)). Pure.
TurnCredential MakeTurnCredential(std::string_view secret, std::string_view user_id, int64_t now_s, int64_t ttl_s,
                                  std::vector<std::string> uris);

}  // namespace palaver::sdk
