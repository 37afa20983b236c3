// The TURN allocation table (RFC 8656 §2.2, §7, §9, §12), sans-I/O: allocations keyed by their
// 5-tuple and by their relayed address, lifetimes, permissions, channel bindings, quotas, a
// per-allocation bandwidth limiter and counters. Time is passed in (monotonic milliseconds);
// relayed addresses are supplied by the caller, which owns the sockets, and it hears about every
// removal through the callback so that it can close them.
// Thread: one (the relay thread that owns these allocations); nothing here locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

#include "address.hpp"
#include "auth.hpp"
#include "peer_policy.hpp"
#include "stun.hpp"

namespace palaver::turn {

struct AllocationLimits {
  int64_t default_lifetime_s = 600;     // RFC 8656 §7.2
  int64_t max_lifetime_s = 3600;
  int64_t permission_lifetime_s = 300;  // RFC 8656 §9
  int64_t channel_lifetime_s = 600;     // RFC 8656 §12
  size_t max_allocations = 0;           // whole table; 0 = unlimited
  size_t max_allocations_per_user = 0;  // 0 = unlimited
  size_t max_permissions = 64;          // per allocation
  size_t max_channels = 64;             // per allocation
  uint64_t bandwidth_bytes_per_s = 0;   // per allocation, both directions together; 0 = unlimited
  uint64_t bandwidth_burst_bytes = 0;   // bucket size; 0 = one second's worth
};

enum class CreateError {
  kExists,     // the 5-tuple has an allocation (437)
  kUserQuota,  // allocations per user (486)
  kCapacity,   // allocations in total (508)
};

// Allocation quotas shared by the tables of several relay threads (each thread owns its own
// table, but "allocations per user" and "in total" are for the whole server). Consulted only
// when an allocation is made or removed, never on the data path. Thread-safe.
class SharedQuota {
 public:
  SharedQuota(size_t max_total, size_t max_per_user) : max_total_(max_total), max_per_user_(max_per_user) {}
  // Counts one more allocation for `user`, unless a quota is reached (nothing counted then).
  std::optional<CreateError> TryAcquire(std::string_view user);
  // Whether TryAcquire would succeed now (racy by nature: TryAcquire decides).
  std::optional<CreateError> Check(std::string_view user) const;
  void Release(std::string_view user);
  size_t total() const;

 private:
  std::optional<CreateError> CheckLocked(std::string_view user) const;

  const size_t max_total_;
  const size_t max_per_user_;
  mutable std::mutex mu_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> per_user_;
};

// A token bucket in bytes. Integer arithmetic in milli-bytes: refilling `rate` bytes/s for
// `ms` milliseconds adds rate * ms milli-bytes, so nothing is lost to rounding.
class TokenBucket {
 public:
  TokenBucket() = default;  // unlimited
  TokenBucket(uint64_t rate_bytes_per_s, uint64_t burst_bytes, int64_t now_ms);
  // Takes `bytes` if there are enough tokens; false (nothing taken) otherwise.
  bool Take(size_t bytes, int64_t now_ms);
  bool unlimited() const { return rate_ == 0; }
  // Whether the bucket would be full at `now_ms` (nothing taken that has not been refilled).
  bool Full(int64_t now_ms) const;

 private:
  uint64_t rate_ = 0;
  uint64_t capacity_milli_ = 0;
  uint64_t tokens_milli_ = 0;
  int64_t last_ms_ = 0;
};

// The engine's socket for a relayed address, opaque here: the core only carries it from the
// allocation to the Output that sends from it, so that the data path needs no lookup. The engine's
// relay type derives from it (and casts back); tests use a type of their own.
class RelaySocket {
 protected:
  RelaySocket() = default;
  ~RelaySocket() = default;
};

// Why an allocation left the table.
enum class RemovalReason : uint8_t {
  kExpired,  // its lifetime ran out
  kDeleted,  // Refresh with LIFETIME 0
  kClosed,   // its TCP/TLS connection closed (RFC 8656 §3.1)
};
std::string_view RemovalReasonName(RemovalReason reason);

struct Permission {
  Address ip;  // port 0
  int64_t expires_ms = 0;
};

struct ChannelBinding {
  uint16_t number = 0;
  Address peer;
  int64_t expires_ms = 0;
};

struct AllocationCounters {
  uint64_t packets_to_peer = 0;
  uint64_t bytes_to_peer = 0;
  uint64_t packets_to_client = 0;
  uint64_t bytes_to_client = 0;
  uint64_t dropped = 0;  // no permission, rate-limited, forbidden
};

// One allocation. Owned by the table; pointers stay valid until it is removed.
struct Allocation {
  uint64_t id = 0;
  FiveTuple tuple;
  Address relayed;
  RelaySocket* relay_socket = nullptr;  // the engine's socket for `relayed` (may be null in tests)
  std::string username;  // as authenticated; later requests must use the same (RFC 8656 §5)
  std::string user;      // quota identity
  PeerScope scope = PeerScope::kMember;  // a guest's (AuthResult::guest): the peer policy's stricter rule
  LongTermKey key{};
  TransactionId allocate_tid{};  // to answer a retransmitted Allocate again instead of 437
  uint32_t lifetime_s = 0;       // last granted
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  std::vector<Permission> permissions;
  std::vector<ChannelBinding> channels;
  TokenBucket bucket;
  AllocationCounters counters;

  // Data path lookups; expired entries count as absent.
  bool HasPermission(const Address& peer, int64_t now_ms) const;
  const ChannelBinding* ChannelByNumber(uint16_t number, int64_t now_ms) const;
  const ChannelBinding* ChannelByPeer(const Address& peer, int64_t now_ms) const;
};

struct NewAllocation {
  FiveTuple tuple;
  Address relayed;
  std::string username;
  std::string user;
  LongTermKey key{};
  TransactionId tid{};
  uint32_t lifetime_s = 0;
  RelaySocket* relay_socket = nullptr;
  PeerScope scope = PeerScope::kMember;
};

enum class BindResult {
  kOk,
  kChannelTaken,  // the number is bound to another peer (400)
  kPeerTaken,     // the peer is bound to another number (400)
  kFull,          // max_channels or max_permissions reached (508)
};

struct TableStats {
  size_t allocations = 0;
  size_t permissions = 0;
  size_t channels = 0;
  uint64_t created_total = 0;
  uint64_t expired_total = 0;
  uint64_t deleted_total = 0;  // Refresh with lifetime 0, or the connection closed
  uint64_t quota_rejected_total = 0;
};

class AllocationTable {
 public:
  using RemoveCallback = std::function<void(const Allocation&, RemovalReason)>;

  // `on_remove` runs for every allocation that expires or is removed (not on destruction).
  explicit AllocationTable(AllocationLimits limits, RemoveCallback on_remove = nullptr);
  // Releases the live allocations' share of the SharedQuota (no on_remove calls).
  ~AllocationTable();
  AllocationTable(const AllocationTable&) = delete;
  AllocationTable& operator=(const AllocationTable&) = delete;
  // Quotas shared with other tables, checked in addition to `limits` (which then usually leave
  // max_allocations and max_allocations_per_user at 0). Must outlive the table; set before use.
  void SetSharedQuota(SharedQuota* shared) { shared_ = shared; }

  const AllocationLimits& limits() const { return limits_; }

  // RFC 8656 §7.2/§7.5: zero stays zero (delete); otherwise min(requested, max), but at least
  // the default; no LIFETIME attribute means the default.
  uint32_t DesiredLifetime(std::optional<uint32_t> requested) const;

  // Whether a new allocation for `user` fits the quotas (ask before opening a relay).
  std::optional<CreateError> CheckQuota(std::string_view user) const;
  tl::expected<Allocation*, CreateError> Create(NewAllocation spec, int64_t now_ms);

  // An expired allocation found here is removed on the spot and reported absent.
  Allocation* Find(const FiveTuple& tuple, int64_t now_ms);
  Allocation* FindByRelay(const Address& relayed, int64_t now_ms);

  // REQUIRES: lifetime_s > 0 (use Remove for 0).
  void Refresh(Allocation& a, uint32_t lifetime_s, int64_t now_ms);
  // Deletes (Refresh with lifetime 0, or its connection closed); `a` is invalid afterwards.
  void Remove(Allocation& a, RemovalReason reason = RemovalReason::kDeleted);

  // Installs or refreshes the permission for `peer`'s IP. False when the allocation already
  // has max_permissions live ones.
  bool InstallPermission(Allocation& a, const Address& peer, int64_t now_ms);
  // Binds or refreshes `number` ↔ `peer` (RFC 8656 §12.2) and installs/refreshes the permission
  // for the peer's IP. Nothing changes unless the result is kOk.
  BindResult Bind(Allocation& a, uint16_t number, const Address& peer, int64_t now_ms);

  // Removes expired allocations (on_remove for each), permissions and channel bindings.
  // Returns the number of allocations removed. Call it about once a second.
  size_t Sweep(int64_t now_ms);

  size_t size() const { return by_tuple_.size(); }
  TableStats Stats() const;

 private:
  void Erase(Allocation& a, RemovalReason reason);
  static void Compact(Allocation& a, int64_t now_ms);

  AllocationLimits limits_;
  RemoveCallback on_remove_;
  SharedQuota* shared_ = nullptr;
  std::unordered_map<FiveTuple, std::unique_ptr<Allocation>, FiveTupleHash> by_tuple_;
  std::unordered_map<Address, Allocation*, AddressHash> by_relay_;
  std::unordered_map<std::string, size_t> per_user_;
  uint64_t next_id_ = 1;
  uint64_t created_total_ = 0;
  uint64_t expired_total_ = 0;
  uint64_t deleted_total_ = 0;
  uint64_t quota_rejected_total_ = 0;
};

}  // namespace palaver::turn
