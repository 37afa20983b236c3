// The TURN request handler, sans-I/O: bytes from a client (or from a peer, at a relayed address)
// go in with the time; at most one thing to send comes out. It ties together the codec, the
// authenticator, the peer policy and the allocation table:
//
//   Binding            → success with XOR-MAPPED-ADDRESS (unauthenticated, so nothing else)
//   Allocate           → 401 (REALM, NONCE) first; 438 stale nonce; 437 5-tuple in use (a
//                        retransmission of the Allocate that made it is answered again); 400;
//                        420 DONT-FRAGMENT (we cannot set DF); 442 not UDP; 440 family; 486 user
//                        quota; 508 total capacity, no relay port, EVEN-PORT R / RESERVATION-TOKEN
//                        (no reservations); success with XOR-RELAYED-ADDRESS, LIFETIME,
//                        XOR-MAPPED-ADDRESS (and ADDRESS-ERROR-CODE 440 for an
//                        ADDITIONAL-ADDRESS-FAMILY: no dual allocations)
//   Refresh            → 437; 441 other username; 443 family; LIFETIME 0 deletes
//   CreatePermission   → 437; 441; 400; 443; 403 forbidden peer (all or nothing); 508 full
//   ChannelBind        → 437; 441; 400 (number, peer, rebinding rules of RFC 8656 §12.2); 443;
//                        403 forbidden peer (with its port); 508 full
//   Send indication    → data to the peer, or silently dropped
//   ChannelData        → data to the peer, or silently dropped
//   peer data          → ChannelData (padded on TCP/TLS) when a channel is bound, else a Data
//                        indication; dropped without a permission
//
// Amplification: unauthenticated answers (Binding success, 400, 401, 420 before credentials)
// carry only what the RFCs require — never SOFTWARE — plus FINGERPRINT when the request had one.
// Malformed datagrams get no answer at all.
//
// Relayed addresses come from an injected RelayAllocator: opening and binding a UDP socket does
// not block, so the handler asks synchronously and an allocation is never half made.
//
// Thread: one (the relay thread that owns these allocations).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "address.hpp"
#include "allocations.hpp"
#include "auth.hpp"
#include "peer_policy.hpp"
#include "stun.hpp"

namespace palaver::turn {

enum class RelayStatus : uint8_t { kOk, kFamilyUnsupported, kNoCapacity };
struct RelayResult {
  RelayStatus status = RelayStatus::kNoCapacity;
  Address relayed;
  RelaySocket* socket = nullptr;  // kept in the allocation and handed back in Output::relay_socket
};

// Implemented by the engine (sockets in the relay port range); a fake in tests.
class RelayAllocator {
 public:
  virtual ~RelayAllocator() = default;
  // A new relayed transport address of `family` for `client`; `even_port`: RFC 8656 EVEN-PORT.
  virtual RelayResult Open(const FiveTuple& client, Family family, bool even_port) = 0;
  // The allocation on `relayed` is gone (expired, deleted): close its socket.
  virtual void Close(const Address& relayed) = 0;
};

// Answers to requests that are not (yet) authenticated — Binding, 401 challenges, 400s — per
// client IPv4 address or IPv6 /64: a token bucket of `per_second` with room for `burst`. Beyond it such requests are
// dropped without an answer, so the server cannot be used to flood a spoofed address and a
// password guesser gets nowhere fast. At most `max_sources` IPs are tracked; when that many are,
// new ones share a single bucket (fail closed, bounded memory). per_second 0: unlimited.
struct UnauthenticatedLimit {
  uint32_t per_second = 50;
  uint32_t burst = 200;
  size_t max_sources = 65536;
};

// What happened to an allocation or an authenticated request, for the operator's log (the
// engine logs these at debug: "why does my call not connect"). Per allocation and per refusal,
// never per packet. Carries names and addresses only, never a password or key.
enum class EventKind : uint8_t {
  kAllocationCreated,
  kAllocationRemoved,  // expired, deleted (LIFETIME 0) or its connection closed: `removal`
  kRefused,            // a request with credentials answered with an error: `method`, `code`, `reason`
};

struct Event {
  EventKind kind = EventKind::kAllocationCreated;
  FiveTuple tuple;            // the client
  std::string_view username;  // as sent (refusals) or as authenticated; may be empty
  Method method = Method::kAllocate;
  Address relayed;            // created, removed
  uint32_t lifetime_s = 0;    // created
  int64_t age_ms = 0;         // removed: since the allocation was made
  RemovalReason removal = RemovalReason::kExpired;
  int code = 0;               // refused: the STUN error code
  // refused: "credentials" (`auth` says why), "quota" (per user), "capacity" (in total),
  // "forbidden_peer", "no_relay" (no relay port free), "family", "mismatch" (5-tuple in use),
  // "no_allocation", "wrong_user", "bad_request", "transport", "full" (permissions or channels),
  // "unsupported" (port reservations), "unknown_attribute"
  std::string_view reason;
  AuthFailure auth = AuthFailure::kNone;
  std::optional<Address> peer;  // refused for a peer (forbidden_peer)
};
using EventSink = std::function<void(const Event&)>;

struct ServerOptions {
  AllocationLimits limits;
  UnauthenticatedLimit unauthenticated;
  // SOFTWARE in responses to authenticated requests; empty: none.
  std::string software;
  // Random bytes for seeding Data indication transaction ids; null: OpenSSL's RAND_bytes.
  std::function<void(std::span<uint8_t>)> random;
  // Called on the Server's thread for every Event; must not block. Null: no events.
  EventSink events;
};

enum class OutputKind : uint8_t { kNone, kToClient, kToPeer };

// What to send. `bytes` points into the Server's buffer (responses, data to a client) or into
// the caller's input (data to a peer); it is valid until the next call into the Server.
struct Output {
  OutputKind kind = OutputKind::kNone;
  std::span<const uint8_t> bytes;
  FiveTuple tuple;  // kToClient: the client connection to send on
  Address relayed;  // kToPeer: the relay socket to send from
  Address peer;     // kToPeer: where to
  RelaySocket* relay_socket = nullptr;  // kToPeer: the RelayResult::socket of `relayed`
};

struct ServerCounters {
  // Requests and data in.
  uint64_t binding_requests = 0;
  uint64_t allocate_requests = 0;
  uint64_t refresh_requests = 0;
  uint64_t create_permission_requests = 0;
  uint64_t channel_bind_requests = 0;
  uint64_t send_indications = 0;
  uint64_t channel_data_in = 0;
  uint64_t peer_data_in = 0;
  // Answers.
  uint64_t error_responses = 0;
  uint64_t challenges = 0;     // 401 to requests without credentials (the normal first step)
  uint64_t auth_failures = 0;  // 401/400 to requests with credentials that do not hold
  uint64_t stale_nonces = 0;   // 438
  uint64_t forbidden_peers = 0;     // 403
  uint64_t quota_rejections = 0;    // 486, and 508 for the total
  uint64_t relay_failures = 0;      // the engine had no relay address (508/440)
  // Relayed.
  uint64_t packets_to_peer = 0;
  uint64_t bytes_to_peer = 0;
  uint64_t packets_to_client = 0;
  uint64_t bytes_to_client = 0;
  // Dropped.
  uint64_t dropped_malformed = 0;
  uint64_t dropped_no_allocation = 0;
  uint64_t dropped_no_channel = 0;
  uint64_t dropped_no_permission = 0;
  uint64_t dropped_forbidden = 0;
  uint64_t dropped_rate_limited = 0;         // bandwidth per allocation
  uint64_t dropped_unauthenticated_limit = 0;  // answers withheld by UnauthenticatedLimit
  uint64_t dropped_too_big = 0;
};

class Server {
 public:
  // Caller keeps ownership of `auth`, `policy` and `relays`; they must outlive this object.
  Server(ServerOptions options, const Authenticator& auth, const PeerPolicy& policy, RelayAllocator& relays);

  // A datagram (UDP) or one frame cut by NextFrame (TCP/TLS) from the client of `tuple`.
  Output HandleClient(std::span<const uint8_t> bytes, const FiveTuple& tuple, int64_t now_ms);
  // A datagram from `peer` that arrived at the relayed address `relayed`.
  Output HandlePeer(const Address& relayed, const Address& peer, std::span<const uint8_t> data, int64_t now_ms);
  // The TCP/TLS connection of `tuple` closed: its allocation ends with it (RFC 8656 §3.1).
  void ConnectionClosed(const FiveTuple& tuple, int64_t now_ms);
  // Expires allocations (closing their relays), permissions and channels. About once a second.
  // Also forgets unauthenticated-request buckets that have refilled.
  size_t Sweep(int64_t now_ms);

  const ServerCounters& counters() const { return counters_; }
  const AllocationTable& allocations() const { return table_; }
  AllocationTable& allocations() { return table_; }

 private:
  Output Binding(const StunMessage& m, const FiveTuple& t);
  Output Authenticated(const StunMessage& m, const FiveTuple& t, int64_t now_ms);
  Output Allocate(const StunMessage& m, const FiveTuple& t, const AuthResult& a, int64_t now_ms);
  Output AllocateSuccess(const StunMessage& m, const FiveTuple& t, const AuthResult& a, const Allocation& al);
  Output Refresh(const StunMessage& m, const FiveTuple& t, const AuthResult& a, int64_t now_ms);
  Output CreatePermission(const StunMessage& m, const FiveTuple& t, const AuthResult& a, int64_t now_ms);
  Output ChannelBind(const StunMessage& m, const FiveTuple& t, const AuthResult& a, int64_t now_ms);
  Output SendIndication(const StunMessage& m, const FiveTuple& t, int64_t now_ms);
  Output ClientChannelData(std::span<const uint8_t> bytes, const FiveTuple& t, int64_t now_ms);
  // The allocation of `t` for a request authenticated as `a`: null and `*error` set (437, 441)
  // when there is none or it belongs to another username.
  Allocation* OwnAllocation(const FiveTuple& t, const AuthResult& a, int64_t now_ms, int* error);

  MessageBuilder Begin(const StunMessage& m, MessageClass cls);
  // SOFTWARE and integrity (when `auth`), FINGERPRINT (when the request had one).
  Output Finish(MessageBuilder& b, const StunMessage& m, const FiveTuple& t, const AuthResult* auth);
  Output Fail(const StunMessage& m, const FiveTuple& t, int code, const AuthResult* auth);
  // Fail, and an Event (kRefused) naming `reason` (for requests with credentials).
  Output Refuse(const StunMessage& m, const FiveTuple& t, int code, std::string_view reason, const AuthResult& auth,
                const Address* peer = nullptr);
  void EmitRefused(const StunMessage& m, const FiveTuple& t, int code, std::string_view reason, const AuthResult& auth,
                   const Address* peer);
  void EmitCredentialsRefused(const StunMessage& m, const FiveTuple& t, int code, const AuthResult& auth);
  // The table's removal callback: an Event, then the relay socket is closed.
  void OnRemoved(const Allocation& a, RemovalReason reason);
  void Emit(const Event& e) {
    if (options_.events) options_.events(e);
  }
  // 401 or 438 with REALM and a fresh NONCE.
  Output Challenge(const StunMessage& m, const FiveTuple& t, int code, const AuthResult* auth);
  Output ToPeer(Allocation& al, const Address& peer, std::span<const uint8_t> data, int64_t now_ms);
  TransactionId NextTransactionId();
  // Whether an unauthenticated answer may go to `client` now (UnauthenticatedLimit).
  // Decided once per call (a Challenge and its Finish take one token, not two).
  bool AllowUnauthenticated(const Address& client);
  bool TakeUnauthenticatedToken(const Address& client);

  ServerOptions options_;
  const Authenticator& auth_;
  const PeerPolicy& policy_;
  RelayAllocator& relays_;
  AllocationTable table_;
  ServerCounters counters_;
  std::vector<uint8_t> out_;
  uint64_t tid_state_ = 0;
  int64_t now_ms_ = 0;  // of the call being handled
  int unauth_verdict_ = -1;  // -1: not asked in this call
  std::unordered_map<Address, TokenBucket, AddressHash> unauth_;
  TokenBucket unauth_overflow_;
};

// The reason phrase used for an error code ("Stale Nonce").
std::string_view ReasonPhrase(int code);

}  // namespace palaver::turn
