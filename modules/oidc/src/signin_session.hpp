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

/// Counts failed sign-ins per key (account, address) in a sliding window. Thread: net loop only.
/// Bounded: at most `max_keys` keys are tracked (the oldest are forgotten first).
class FailureLimiter {
 public:
  FailureLimiter(int max_failures, std::chrono::seconds window, size_t max_keys = 100000)
      : max_failures_(max_failures), window_s_(window.count()), max_keys_(max_keys) {}
  /// False while `key` has `max_failures` failures inside the window.
  bool Allowed(const std::string& key, int64_t now_s);
  void RecordFailure(const std::string& key, int64_t now_s);
  void Reset(const std::string& key) { failures_.erase(key); }

 private:
  void Prune(std::deque<int64_t>& times, int64_t now_s) const;
  int max_failures_;
  int64_t window_s_;
  size_t max_keys_;
  std::unordered_map<std::string, std::deque<int64_t>> failures_;
  std::deque<std::string> order_;  // insertion order of keys, for the bound
};

}  // namespace palaver::oidc
