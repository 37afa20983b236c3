// Where grants live between steps: authorization codes (in memory, single use, 2 minutes) and
// refresh token ids (SQLite, rotated on every use; a reused one revokes its whole family).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

#include "palaver/sdk/store.hpp"
#include "tokens.hpp"

namespace palaver::oidc {

struct AuthCode {
  Grant grant;
  std::string redirect_uri;    // exactly as sent to authorize
  std::string code_challenge;  // S256; empty: none was sent
  std::string nonce;
  bool id_token_issued = false;  // hybrid flows already returned an ID token
  int64_t expires_at = 0;
};

/// Codes in memory. Thread: net loop only. Bounded: past `max_codes` the oldest are dropped.
class CodeStore {
 public:
  static constexpr int64_t kLifetimeSeconds = 120;
  explicit CodeStore(size_t max_codes = 20000) : max_codes_(max_codes) {}
  /// Stores `code` (expiry set here) and returns its random value.
  std::string Put(AuthCode code, int64_t now_s);
  /// The code's grant, once: a second Take of the same code, or one after expiry, is nullopt.
  std::optional<AuthCode> Take(const std::string& code, int64_t now_s);
  size_t size() const { return codes_.size(); }

 private:
  void Prune(int64_t now_s);
  size_t max_codes_;
  std::unordered_map<std::string, AuthCode> codes_;
  std::deque<std::pair<int64_t, std::string>> order_;  // (expiry, code) in insertion order
};

/// Refresh token ids. Blocking (SQLite): workers only.
class RefreshStore {
 public:
  explicit RefreshStore(sdk::Store& store) : store_(store) {}
  static std::vector<sdk::Migration> Migrations();
  Status Record(const std::string& jti, const std::string& family, const std::string& client_id,
                const std::string& user_id, int64_t expires_at);
  enum class Use { kOk, kReused, kUnknown };
  /// Marks `jti` used. kReused when it was used before: the whole family is revoked (RFC 6819
  /// §5.2.2.3, the OAuth 2.0 Security BCP's refresh token rotation). kUnknown for ids never
  /// recorded, expired or revoked.
  Result<Use> Consume(const std::string& jti, int64_t now_s);
  /// Forgets expired ids.
  Status Prune(int64_t now_s);

 private:
  sdk::Store& store_;
};

/// Sign-in sessions, server-side: the cookie names a session here, and only a session still
/// recorded counts. Sign-out and end session delete it; the user's session epoch (recorded at
/// sign-in, compared with the directory's) ends all of a user's sessions at once. Blocking
/// (SQLite): workers only.
class SessionStore {
 public:
  explicit SessionStore(sdk::Store& store) : store_(store) {}
  static std::vector<sdk::Migration> Migrations();
  Status Add(const std::string& sid, const std::string& user_id, int64_t epoch, int64_t expires_at);
  /// The epoch the session was signed in under; nullopt when it is unknown, ended, expired or
  /// of another user.
  Result<std::optional<int64_t>> Epoch(const std::string& sid, const std::string& user_id, int64_t now_s);
  Status End(const std::string& sid);
  /// Forgets expired sessions.
  Status Prune(int64_t now_s);

 private:
  sdk::Store& store_;
};

}  // namespace palaver::oidc
