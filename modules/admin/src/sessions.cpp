#include "sessions.hpp"

#include <openssl/crypto.h>

#include "palaver/sdk/encoding.hpp"

namespace palaver::admin {
namespace {

constexpr int64_t kSigninLifetimeMs = 10 * 60 * 1000;
constexpr size_t kMaxPendingSignins = 1000;

}  // namespace

bool SecretEquals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

ConsoleSession SessionTable::Create(const std::string& user_id, const std::string& username,
                                    const std::string& display_name, int64_t session_epoch) {
  int64_t now = now_ms_();
  ConsoleSession s{.id = sdk::RandomToken(32), .user_id = user_id, .username = username,
                   .display_name = display_name, .csrf = sdk::RandomToken(32), .created_ms = now, .last_seen_ms = now,
                   .session_epoch = session_epoch};
  std::lock_guard lock(mu_);
  SweepLocked(now);
  sessions_[s.id] = s;
  return s;
}

std::optional<ConsoleSession> SessionTable::Touch(const std::string& id) {
  int64_t now = now_ms_();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (now - it->second.last_seen_ms > idle_ms_ || now - it->second.created_ms > absolute_ms_) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_seen_ms = now;
  return it->second;
}

void SessionTable::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

void SessionTable::RemoveUser(const std::string& user_id) {
  std::lock_guard lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.user_id == user_id ? sessions_.erase(it) : std::next(it);
  }
}

size_t SessionTable::Count() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

PendingSignin SessionTable::BeginSignin(const std::string& return_to) {
  int64_t now = now_ms_();
  PendingSignin p{.state = sdk::RandomToken(24), .verifier = sdk::RandomToken(32), .nonce = sdk::RandomToken(16),
                  .return_to = return_to, .created_ms = now};
  std::lock_guard lock(mu_);
  SweepLocked(now);
  while (signins_.size() >= kMaxPendingSignins) {
    auto oldest = signins_.begin();
    for (auto it = signins_.begin(); it != signins_.end(); ++it) {
      if (it->second.created_ms < oldest->second.created_ms) oldest = it;
    }
    signins_.erase(oldest);
  }
  signins_[p.state] = p;
  return p;
}

std::optional<PendingSignin> SessionTable::TakeSignin(const std::string& state) {
  int64_t now = now_ms_();
  std::lock_guard lock(mu_);
  auto it = signins_.find(state);
  if (it == signins_.end()) return std::nullopt;
  PendingSignin p = it->second;
  signins_.erase(it);
  if (now - p.created_ms > kSigninLifetimeMs) return std::nullopt;
  return p;
}

void SessionTable::Sweep() {
  std::lock_guard lock(mu_);
  SweepLocked(now_ms_());
}

void SessionTable::SetLimits(int64_t idle_ms, int64_t absolute_ms) {
  std::lock_guard lock(mu_);
  idle_ms_ = idle_ms;
  absolute_ms_ = absolute_ms;
}

void SessionTable::SweepLocked(int64_t now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    bool dead = now - it->second.last_seen_ms > idle_ms_ || now - it->second.created_ms > absolute_ms_;
    it = dead ? sessions_.erase(it) : std::next(it);
  }
  for (auto it = signins_.begin(); it != signins_.end();) {
    it = now - it->second.created_ms > kSigninLifetimeMs ? signins_.erase(it) : std::next(it);
  }
}

}  // namespace palaver::admin
