// TURN credentials, sans-I/O: coturn-compatible TURN REST API (shared-secret) credentials,
// optional static users, the long-term credential key, and stateless nonces.
//
// REST username forms accepted (coturn's get_rest_api_timestamp, ":" separator):
//   "<expiry>:<user>"  what the REST API draft, our `signaling` (sdk::MakeTurnCredential) and
//                      coturn's `turnutils_uclient -W <secret> -u <user>` send
//                      ("<now + 86400>:<user>");
//   "<user>:<expiry>"  the older order coturn also accepts (its test: is the first field all
//                      digits?);
//   "<expiry>"         no user part.
// Unlike coturn (atol), the expiry must be all digits; anything else is not a REST username.
// password = base64(HMAC-SHA1(secret, username)); the credential is valid while now <= expiry.
//
// Usernames, realms and passwords are used as bytes: no SASLprep/OpaqueString (REST passwords
// are base64, hence ASCII; a static user with a non-ASCII password must be entered prepared).
//
// Thread: const methods are safe from any thread (the clock must be, too).
#pragma once

#include <atomic>
#include <memory>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address.hpp"
#include "stun.hpp"

namespace palaver::turn {

using LongTermKey = std::array<uint8_t, 16>;

// MD5(username ":" realm ":" password) (RFC 8489 §9.2.2, PASSWORD-ALGORITHM MD5).
LongTermKey MakeLongTermKey(std::string_view username, std::string_view realm, std::string_view password);

struct RestUsername {
  int64_t expiry = 0;     // unix seconds
  std::string_view user;  // the part that names the user (quota identity); may be empty
};
std::optional<RestUsername> ParseRestUsername(std::string_view username);
// base64(HMAC-SHA1(secret, username)).
std::string RestPassword(std::string_view secret, std::string_view username);

enum class NonceStatus { kOk, kStale, kBad };

struct AuthOptions {
  std::string realm = "palaver";
  // TURN REST shared secrets; every one is accepted (the first is the one handed out; keeping the
  // previous one for a while makes rotation seamless). Empty: no REST credentials.
  std::vector<std::string> secrets;
  // Secrets replaced by a rotation: each still accepts the REST usernames whose expiry is at most
  // `max_expiry` (the rotation time plus the credential lifetime), i.e. the credentials handed out
  // before the rotation, and nothing a holder of the old secret could mint afterwards.
  struct RetiredSecret {
    std::string secret;
    int64_t max_expiry = 0;
  };
  std::vector<RetiredSecret> retired;
  // Static users (name → password) for clients that cannot do REST credentials. A name matches
  // exactly and wins over the REST interpretation.
  std::map<std::string, std::string, std::less<>> static_users;
  // HMAC key for nonces. Empty: 32 random bytes (nonces then die with the process; clients
  // just get a 438 and retry).
  std::string nonce_key;
  int64_t nonce_lifetime_s = 600;
  // Unix seconds. REQUIRED.
  std::function<int64_t()> now;
};

// The outcome of authenticating a request (RFC 8489 §9.2.4 order, which checks the nonce after
// the integrity, so that 438 goes only to holders of valid credentials).
enum class AuthStatus {
  kOk,
  kChallenge,     // no MESSAGE-INTEGRITY(-SHA256): 401 with REALM and NONCE
  kBadRequest,    // integrity without USERNAME/USERHASH, REALM or NONCE, or oversized ones: 400
  kUnauthorized,  // unknown or expired user, wrong realm, wrong MAC, USERHASH: 401
  kStaleNonce,    // credentials fine, nonce expired or not ours: 438 (signed with `key`)
};

// Why credentials did not hold (kBadRequest, kUnauthorized), for the operator's log.
enum class AuthFailure : uint8_t {
  kNone,
  kMalformed,      // USERNAME/USERHASH, REALM or NONCE missing or oversized
  kUserhash,       // USERHASH without USERNAME (we offer no anonymity)
  kWrongRealm,
  kExpired,        // a REST username whose expiry has passed
  kUnknownUser,    // neither a static user nor a REST username (or no REST secret)
  kWrongPassword,  // MESSAGE-INTEGRITY does not match
};
std::string_view AuthFailureName(AuthFailure failure);

struct AuthResult {
  AuthStatus status = AuthStatus::kChallenge;
  AuthFailure failure = AuthFailure::kNone;  // kBadRequest, kUnauthorized
  LongTermKey key{};     // kOk, kStaleNonce
  std::string username;  // as sent (kOk, kStaleNonce)
  std::string user;      // quota identity: the REST user part, or the static user's name
  bool guest = false;    // a REST user part that starts with sdk::kTurnGuestUserPrefix (kOk)
  bool sha256 = false;   // the request was protected by MESSAGE-INTEGRITY-SHA256
};

// Checks long-term credentials on requests and makes/checks nonces. Immutable after
// construction (a config change builds a new one), except for the REST secrets, which a rotation
// replaces at run time (SetSecrets: any thread; requests see the old or the new set, whole).
class Authenticator {
 public:
  explicit Authenticator(AuthOptions options);

  const std::string& realm() const { return options_.realm; }

  // expiry ‖ base64url(HMAC-SHA256(nonce key, expiry ‖ transport ‖ client address)[0..16]):
  // 12 lowercase hex digits then 22 characters, 34 in all; bound to the client's transport
  // address, so a nonce seen on the wire is useless from elsewhere.
  std::string MakeNonce(const Address& client, Transport transport) const;
  // kBad for anything not made by MakeNonce with this key for this client (checked before the
  // expiry, so a forged expiry is never "stale").
  NonceStatus CheckNonce(std::string_view nonce, const Address& client, Transport transport) const;

  AuthResult Check(const StunMessage& request, const Address& client, Transport transport) const;

  void SetSecrets(std::vector<std::string> secrets, std::vector<AuthOptions::RetiredSecret> retired);

 private:
  struct SecretSet {
    std::vector<std::string> secrets;
    std::vector<AuthOptions::RetiredSecret> retired;
  };
  std::string NonceMac(std::string_view expiry_hex, const Address& client, Transport transport) const;

  AuthOptions options_;  // its secrets are in secrets_
  std::map<std::string, LongTermKey, std::less<>> static_keys_;
  std::atomic<std::shared_ptr<const SecretSet>> secrets_;
};

}  // namespace palaver::turn
