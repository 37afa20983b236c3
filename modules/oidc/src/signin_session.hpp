// The sign-in session cookie and the failed-sign-in limiter. Sans-I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

#include "palaver/sdk/status.hpp"

namespace palaver::oidc {

inline constexpr const char* kSessionCookie = "__Secure-KKT";
inline constexpr const char* kSessionCookiePath = "/signin/v1/identifier/_/";

/// Who is signed in, as kept in the session cookie.
struct SigninSession {
  std::string user_id;
  std::string username;
  std::string display_name;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  std::string sid;  // random per sign-in; the ID token's `sid`
};

/// Seals sessions into cookie values with AES-256-GCM (random 96-bit nonce, authenticated) and
/// opens them again. Thread-safe (immutable after construction).
class SessionSealer {
 public:
  /// `key` must be 32 bytes.
  explicit SessionSealer(std::string key) : key_(std::move(key)) {}
  std::string Seal(const SigninSession& session) const;
  /// Null for anything that was not sealed with this key, was altered, or has expired.
  std::optional<SigninSession> Open(std::string_view value, int64_t now_s) const;
  /// Seals any text for one `purpose` (bound as associated data: a value sealed for one purpose
  /// never opens for another).
  std::string SealText(std::string_view purpose, std::string_view plain) const;
  std::optional<std::string> OpenText(std::string_view purpose, std::string_view value) const;

 private:
  std::string key_;
};

/// `Set-Cookie` values for the session cookie (Secure, HttpOnly, SameSite=Lax, session scope).
std::string SessionCookieHeader(const std::string& value);
std::string ClearSessionCookieHeader();
/// The value of cookie `name` in a `Cookie` header, if present.
std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name);

/// Counts sign-in attempts per key (account, address) in a sliding window: the failures inside
/// the window plus the attempts still being checked. An attempt counts from the moment it starts,
/// so a burst of concurrent attempts cannot all pass the check before the first failure is
/// recorded. Thread: net loop only. Bounded: at most `max_keys` keys with failures are tracked
/// (the oldest are forgotten first); keys with attempts in flight are never forgotten.
class FailureLimiter {
 public:
  FailureLimiter(int max_failures, std::chrono::seconds window, size_t max_keys = 100000)
      : max_failures_(max_failures), window_s_(window.count()), max_keys_(max_keys) {}
  /// Starts an attempt for `key`: false (and nothing counted) while the failures in the window
  /// plus the attempts in flight reach `max_failures`. Every true must be followed by one End.
  bool TryBegin(const std::string& key, int64_t now_s);
  /// Ends an attempt begun with TryBegin; a failed one stays counted for the window.
  void End(const std::string& key, int64_t now_s, bool failed);
  /// Forgets the failures of `key` (attempts in flight still count).
  void Reset(const std::string& key);
  /// Failures in the window plus attempts in flight.
  int Count(const std::string& key, int64_t now_s);

 private:
  struct Entry {
    std::deque<int64_t> failures;
    int in_flight = 0;
  };
  void Prune(std::deque<int64_t>& times, int64_t now_s) const;
  void Bound();
  int max_failures_;
  int64_t window_s_;
  size_t max_keys_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // insertion order of keys, for the bound
};

}  // namespace palaver::oidc
