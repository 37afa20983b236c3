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

/// The user part of a guest's TURN username starts with this: `<expiry>:guest/<guest id>`. The
/// username is covered by the password's HMAC, so a guest cannot drop the mark; the built-in TURN
/// server relays such an allocation into private networks only where `[turn] guest_private_peers`
/// allows (a registered user's name never gets the mark; one that starts so by chance is only
/// held to the guests' stricter rule).
inline constexpr std::string_view kTurnGuestUserPrefix = "guest/";

/// Whose credential it is.
enum class TurnUser { kMember, kGuest };

/// Published by the `turn` module (its own secret and URIs). Thread-safe, non-blocking.
class TurnCredentials {
 public:
  virtual ~TurnCredentials() = default;
  /// A guest's username carries kTurnGuestUserPrefix before `user_id`.
  virtual Result<TurnCredential> Issue(std::string_view user_id, TurnUser who) = 0;
};

/// The TURN REST API credential (draft-uberti-behave-turn-rest, coturn `use-auth-secret`):
/// username `<now + ttl>:<user>` (`<now + ttl>:guest/<user>` for a guest), password
/// base64(HMAC-SHA1(secret, username)). Pure.
TurnCredential MakeTurnCredential(std::string_view secret, std::string_view user_id, int64_t now_s, int64_t ttl_s,
                                  std::vector<std::string> uris, TurnUser who = TurnUser::kMember);

}  // namespace palaver::sdk
