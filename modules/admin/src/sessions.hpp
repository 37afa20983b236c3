// The admin console's server-side sessions (cookie → signed-in admin) and pending sign-ins
// (OIDC state → PKCE verifier). In memory: a restart signs admins out. Sans-I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "palaver/sdk/check.hpp"

namespace palaver::admin {

/// A signed-in admin. Value type.
struct ConsoleSession {
  std::string id;       // the cookie value (random, 256 bits)
  std::string user_id;  // the directory user
  std::string username;
  std::string display_name;
  std::string csrf;     // the form token of this session (random, 256 bits)
  int64_t created_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t session_epoch = 0;  // the user's session epoch at sign-in (the access token's)
};

/// A sign-in under way. Value type.
struct PendingSignin {
  std::string state;
  std::string verifier;  // PKCE code verifier
  std::string nonce;
  std::string return_to;  // a path under /admin/
  int64_t created_ms = 0;
};

/// Thread-safe. `now_ms` is the clock (injected for tests).
class SessionTable {
 public:
  SessionTable(int64_t idle_ms, int64_t absolute_ms, std::function<int64_t()> now_ms)
      : now_ms_(std::move(now_ms)), idle_ms_(idle_ms), absolute_ms_(absolute_ms) {}

  /// A new session for a signed-in admin; returns it (with its id and CSRF token).
  /// `session_epoch`: the user's epoch the sign-in happened under; a higher one ends the session.
  ConsoleSession Create(const std::string& user_id, const std::string& username, const std::string& display_name,
                        int64_t session_epoch = 0);
  /// The live session with this id, its last use moved to now; nullopt when unknown, idle for
  /// longer than the idle limit or older than the absolute limit (it is then removed).
  std::optional<ConsoleSession> Touch(const std::string& id);
  void Remove(const std::string& id);
  /// Ends every session of a user (their admin flag was revoked, they were disabled or deleted).
  void RemoveUser(const std::string& user_id);
  size_t Count() const;

  /// Records a sign-in under way (kept 10 minutes, at most 1000 at once: the oldest go first).
  PendingSignin BeginSignin(const std::string& return_to);
  /// Takes the sign-in with this state (single use); nullopt when unknown or expired.
  std::optional<PendingSignin> TakeSignin(const std::string& state);

  /// Drops expired sessions and sign-ins.
  void Sweep();

  /// New limits (a reload): they apply to every session from its next use on, so a shorter one
  /// can end sessions that were fine under the old.
  void SetLimits(int64_t idle_ms, int64_t absolute_ms);

 private:
  // REQUIRES: mu_ held.
  void SweepLocked(int64_t now);

  std::function<int64_t()> now_ms_;
  mutable std::mutex mu_;
  int64_t idle_ms_ PALAVER_GUARDED_BY(mu_);
  int64_t absolute_ms_ PALAVER_GUARDED_BY(mu_);
  std::map<std::string, ConsoleSession> sessions_ PALAVER_GUARDED_BY(mu_);
  std::map<std::string, PendingSignin> signins_ PALAVER_GUARDED_BY(mu_);
};

/// Constant-time comparison of two secrets.
bool SecretEquals(const std::string& a, const std::string& b);

}  // namespace palaver::admin
