#include "allocations.hpp"

#include <algorithm>

#include "palaver/sdk/check.hpp"

namespace palaver::turn {

// --- TokenBucket ------------------------------------------------------------------------------------

TokenBucket::TokenBucket(uint64_t rate_bytes_per_s, uint64_t burst_bytes, int64_t now_ms)
    : rate_(rate_bytes_per_s),
      capacity_milli_((burst_bytes == 0 ? rate_bytes_per_s : burst_bytes) * 1000),
      tokens_milli_(capacity_milli_),
      last_ms_(now_ms) {}

bool TokenBucket::Take(size_t bytes, int64_t now_ms) {
  if (rate_ == 0) return true;
  if (now_ms > last_ms_) {
    // Cap the elapsed time so that rate * elapsed cannot overflow; a full bucket is reached
    // long before 10^6 s anyway.
    auto elapsed = static_cast<uint64_t>(std::min<int64_t>(now_ms - last_ms_, 1'000'000'000));
    uint64_t room = capacity_milli_ - tokens_milli_;
    tokens_milli_ += (elapsed >= room / rate_ + 1) ? room : std::min(room, elapsed * rate_);
    last_ms_ = now_ms;
  }
  uint64_t need = static_cast<uint64_t>(bytes) * 1000;
  if (need > tokens_milli_) return false;
  tokens_milli_ -= need;
  return true;
}

bool TokenBucket::Full(int64_t now_ms) const {
  if (rate_ == 0) return true;
  if (tokens_milli_ >= capacity_milli_) return true;
  if (now_ms <= last_ms_) return false;
  auto elapsed = static_cast<uint64_t>(std::min<int64_t>(now_ms - last_ms_, 1'000'000'000));
  uint64_t missing = capacity_milli_ - tokens_milli_;
  return elapsed >= (missing + rate_ - 1) / rate_;  // Take refills elapsed * rate
}

// --- SharedQuota ------------------------------------------------------------------------------------

std::optional<CreateError> SharedQuota::CheckLocked(std::string_view user) const {
  if (max_total_ != 0 && total_ >= max_total_) return CreateError::kCapacity;
  if (max_per_user_ != 0) {
    auto it = per_user_.find(std::string(user));
    if (it != per_user_.end() && it->second >= max_per_user_) return CreateError::kUserQuota;
  }
  return std::nullopt;
}

std::optional<CreateError> SharedQuota::Check(std::string_view user) const {
  std::lock_guard lock(mu_);
  return CheckLocked(user);
}

std::optional<CreateError> SharedQuota::TryAcquire(std::string_view user) {
  std::lock_guard lock(mu_);
  if (auto e = CheckLocked(user)) return e;
  ++total_;
  ++per_user_[std::string(user)];
  return std::nullopt;
}

void SharedQuota::Release(std::string_view user) {
  std::lock_guard lock(mu_);
  auto it = per_user_.find(std::string(user));
  if (it == per_user_.end()) return;  // never counted: releasing it must not free someone else's
  if (--it->second == 0) per_user_.erase(it);
  if (total_ > 0) --total_;
}

size_t SharedQuota::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

// --- Allocation -------------------------------------------------------------------------------------

bool Allocation::HasPermission(const Address& peer, int64_t now_ms) const {
  for (const auto& p : permissions) {
    if (p.ip.SameIp(peer) && p.expires_ms > now_ms) return true;
  }
  return false;
}

const ChannelBinding* Allocation::ChannelByNumber(uint16_t number, int64_t now_ms) const {
  for (const auto& c : channels) {
    if (c.number == number && c.expires_ms > now_ms) return &c;
  }
  return nullptr;
}

const ChannelBinding* Allocation::ChannelByPeer(const Address& peer, int64_t now_ms) const {
  for (const auto& c : channels) {
    if (c.peer == peer && c.expires_ms > now_ms) return &c;
  }
  return nullptr;
}

std::string_view RemovalReasonName(RemovalReason reason) {
  switch (reason) {
    case RemovalReason::kExpired: return "expired";
    case RemovalReason::kDeleted: return "deleted";
    case RemovalReason::kClosed: return "closed";
  }
  return "removed";
}

// --- AllocationTable --------------------------------------------------------------------------------

AllocationTable::AllocationTable(AllocationLimits limits, RemoveCallback on_remove)
    : limits_(limits), on_remove_(std::move(on_remove)) {}

AllocationTable::~AllocationTable() {
  if (shared_ == nullptr) return;
  for (const auto& [tuple, a] : by_tuple_) shared_->Release(a->user);  // the shared quota outlives us
}

uint32_t AllocationTable::DesiredLifetime(std::optional<uint32_t> requested) const {
  if (!requested) return static_cast<uint32_t>(limits_.default_lifetime_s);
  if (*requested == 0) return 0;
  int64_t v = std::min<int64_t>(*requested, limits_.max_lifetime_s);
  return static_cast<uint32_t>(std::max<int64_t>(v, limits_.default_lifetime_s));
}

std::optional<CreateError> AllocationTable::CheckQuota(std::string_view user) const {
  if (limits_.max_allocations != 0 && by_tuple_.size() >= limits_.max_allocations) return CreateError::kCapacity;
  if (limits_.max_allocations_per_user != 0) {
    auto it = per_user_.find(std::string(user));
    if (it != per_user_.end() && it->second >= limits_.max_allocations_per_user) return CreateError::kUserQuota;
  }
  if (shared_ != nullptr) return shared_->Check(user);
  return std::nullopt;
}

tl::expected<Allocation*, CreateError> AllocationTable::Create(NewAllocation spec, int64_t now_ms) {
  if (Find(spec.tuple, now_ms) != nullptr) return tl::unexpected(CreateError::kExists);
  if (auto quota = CheckQuota(spec.user)) {
    ++quota_rejected_total_;
    return tl::unexpected(*quota);
  }
  PALAVER_CHECK(by_relay_.find(spec.relayed) == by_relay_.end());  // the engine handed out a relay twice
  if (shared_ != nullptr) {
    if (auto quota = shared_->TryAcquire(spec.user)) {
      ++quota_rejected_total_;
      return tl::unexpected(*quota);
    }
  }
  auto a = std::make_unique<Allocation>();
  a->id = next_id_++;
  a->tuple = spec.tuple;
  a->relayed = spec.relayed;
  a->relay_socket = spec.relay_socket;
  a->username = std::move(spec.username);
  a->user = std::move(spec.user);
  a->scope = spec.scope;
  a->key = spec.key;
  a->allocate_tid = spec.tid;
  a->lifetime_s = spec.lifetime_s;
  a->created_ms = now_ms;
  a->expires_ms = now_ms + int64_t{spec.lifetime_s} * 1000;
  if (limits_.bandwidth_bytes_per_s != 0) {
    a->bucket = TokenBucket(limits_.bandwidth_bytes_per_s, limits_.bandwidth_burst_bytes, now_ms);
  }
  Allocation* raw = a.get();
  ++per_user_[raw->user];
  by_relay_.emplace(raw->relayed, raw);
  by_tuple_.emplace(raw->tuple, std::move(a));
  ++created_total_;
  return raw;
}

Allocation* AllocationTable::Find(const FiveTuple& tuple, int64_t now_ms) {
  auto it = by_tuple_.find(tuple);
  if (it == by_tuple_.end()) return nullptr;
  if (it->second->expires_ms <= now_ms) {
    Erase(*it->second, RemovalReason::kExpired);
    return nullptr;
  }
  return it->second.get();
}

Allocation* AllocationTable::FindByRelay(const Address& relayed, int64_t now_ms) {
  auto it = by_relay_.find(relayed);
  if (it == by_relay_.end()) return nullptr;
  if (it->second->expires_ms <= now_ms) {
    Erase(*it->second, RemovalReason::kExpired);
    return nullptr;
  }
  return it->second;
}

void AllocationTable::Refresh(Allocation& a, uint32_t lifetime_s, int64_t now_ms) {
  PALAVER_DCHECK(lifetime_s > 0);
  a.lifetime_s = lifetime_s;
  a.expires_ms = now_ms + int64_t{lifetime_s} * 1000;
}

void AllocationTable::Remove(Allocation& a, RemovalReason reason) { Erase(a, reason); }

void AllocationTable::Erase(Allocation& a, RemovalReason reason) {
  auto it = by_tuple_.find(a.tuple);
  PALAVER_CHECK(it != by_tuple_.end() && it->second.get() == &a);
  std::unique_ptr<Allocation> owned = std::move(it->second);
  by_tuple_.erase(it);
  by_relay_.erase(owned->relayed);
  if (auto u = per_user_.find(owned->user); u != per_user_.end() && --u->second == 0) per_user_.erase(u);
  if (shared_ != nullptr) shared_->Release(owned->user);
  ++(reason == RemovalReason::kExpired ? expired_total_ : deleted_total_);
  if (on_remove_) on_remove_(*owned, reason);
}

void AllocationTable::Compact(Allocation& a, int64_t now_ms) {
  std::erase_if(a.permissions, [&](const Permission& p) { return p.expires_ms <= now_ms; });
  std::erase_if(a.channels, [&](const ChannelBinding& c) { return c.expires_ms <= now_ms; });
}

bool AllocationTable::InstallPermission(Allocation& a, const Address& peer, int64_t now_ms) {
  int64_t expires = now_ms + limits_.permission_lifetime_s * 1000;
  for (auto& p : a.permissions) {
    if (p.ip.SameIp(peer) && p.expires_ms > now_ms) {
      p.expires_ms = expires;
      return true;
    }
  }
  Compact(a, now_ms);
  if (a.permissions.size() >= limits_.max_permissions) return false;
  a.permissions.push_back(Permission{peer.WithPort(0), expires});
  return true;
}

BindResult AllocationTable::Bind(Allocation& a, uint16_t number, const Address& peer, int64_t now_ms) {
  const ChannelBinding* by_number = a.ChannelByNumber(number, now_ms);
  const ChannelBinding* by_peer = a.ChannelByPeer(peer, now_ms);
  if (by_number != nullptr && by_number->peer != peer) return BindResult::kChannelTaken;
  if (by_peer != nullptr && by_peer->number != number) return BindResult::kPeerTaken;
  bool new_channel = by_number == nullptr;
  bool new_permission = !a.HasPermission(peer, now_ms);
  Compact(a, now_ms);  // invalidates by_number/by_peer
  if ((new_channel && a.channels.size() >= limits_.max_channels) ||
      (new_permission && a.permissions.size() >= limits_.max_permissions)) {
    return BindResult::kFull;
  }
  int64_t expires = now_ms + limits_.channel_lifetime_s * 1000;
  if (new_channel) {
    a.channels.push_back(ChannelBinding{number, peer, expires});
  } else {
    for (auto& c : a.channels) {
      if (c.number == number) c.expires_ms = expires;
    }
  }
  PALAVER_CHECK(InstallPermission(a, peer, now_ms));  // room was checked above
  return BindResult::kOk;
}

size_t AllocationTable::Sweep(int64_t now_ms) {
  std::vector<Allocation*> expired;
  for (auto& [tuple, a] : by_tuple_) {
    if (a->expires_ms <= now_ms) {
      expired.push_back(a.get());
    } else {
      Compact(*a, now_ms);
    }
  }
  for (Allocation* a : expired) Erase(*a, RemovalReason::kExpired);
  return expired.size();
}

TableStats AllocationTable::Stats() const {
  TableStats s;
  s.allocations = by_tuple_.size();
  for (const auto& [tuple, a] : by_tuple_) {
    s.permissions += a->permissions.size();
    s.channels += a->channels.size();
  }
  s.created_total = created_total_;
  s.expired_total = expired_total_;
  s.deleted_total = deleted_total_;
  s.quota_rejected_total = quota_rejected_total_;
  return s;
}

}  // namespace palaver::turn
