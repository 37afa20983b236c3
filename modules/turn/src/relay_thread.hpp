// One relay thread of the engine: an epoll loop that owns a Server (its allocation table), a
// socket on every UDP/TCP/TLS listener (SO_REUSEPORT), the relay sockets of its allocations and
// its stream connections. Datagrams go through a UdpBatch; streams (TCP, TLS, and external ones
// handed over by the net loop) are cut into frames and answered in stream_io.cpp.
//
// Files: relay_thread.cpp (loop, UDP, relays, timer), stream_io.cpp (TCP/TLS/external streams),
// udp_batch.cpp (recvmmsg/sendmmsg), engine_metrics.cpp (palaver_turn_* export).
// Thread: everything runs on the thread that calls Run(), except Post() (any thread) and the
// atomics read by Engine::Snapshot().
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <stop_token>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "address.hpp"
#include "allocations.hpp"
#include "auth.hpp"
#include "engine.hpp"
#include "engine_metrics.hpp"
#include "peer_policy.hpp"
#include "server.hpp"
#include "udp_batch.hpp"

namespace palaver::turn {

enum class HandleKind : uint8_t { kUdpListener, kStreamListener, kRelay, kStream, kWake, kTimer };

// What an epoll event points at.
struct Handle {
  HandleKind kind;
  int fd = -1;
  explicit Handle(HandleKind k) : kind(k) {}
  virtual ~Handle() = default;
};

struct UdpListener final : Handle {
  Address bound;
  bool wildcard = false;
  UdpListener() : Handle(HandleKind::kUdpListener) {}
};

struct StreamListener final : Handle {
  Address bound;
  bool tls = false;
  StreamListener() : Handle(HandleKind::kStreamListener) {}
};

// The socket of a relayed address; the Server carries it as RelaySocket* in each Output to a peer.
struct Relay final : Handle, RelaySocket {
  Address advertised;
  Relay() : Handle(HandleKind::kRelay) {}
};

// A TCP or TLS connection of a client, accepted here or attached from outside (`external`).
struct Stream final : Handle {
  FiveTuple tuple;
  SSL* ssl = nullptr;
  bool handshaking = false;
  bool external = false;
  uint64_t external_id = 0;
  ExternalStream ext;
  std::vector<uint8_t> in;
  std::vector<uint8_t> out;
  size_t out_off = 0;
  bool want_out = false;  // EPOLLOUT registered
  int64_t created_ms = 0;
  int64_t last_ms = 0;
  Stream() : Handle(HandleKind::kStream) {}
};

// What the threads of one engine share. Owned by the Engine; outlives its threads.
struct EngineShared {
  const EngineOptions& options;
  const Authenticator& auth;
  SharedQuota& quota;
  const EngineMetrics& metrics;
  std::atomic<size_t>& streams;  // open TCP/TLS connections, all threads
};

class RelayThread final : public RelayAllocator {
 public:
  RelayThread(const EngineShared& shared, int index);
  ~RelayThread() override;
  RelayThread(const RelayThread&) = delete;
  RelayThread& operator=(const RelayThread&) = delete;

  // Before Run (the control thread).
  Status Init();
  void AddUdp(int fd, const Address& bound);
  void AddStreamListener(int fd, const Address& bound, bool tls);

  // Starts the thread through the host's ThreadHost (named "turn-relay-N", signals blocked),
  // running the loop until RequestStop.
  Status Launch(sdk::ThreadHost& threads);
  // Any thread. The loop stops at its next wake-up; Join waits for it.
  void RequestStop();
  void Join();
  // Runs `fn` on the relay thread. Any thread.
  void Post(std::function<void()> fn);

  // External streams (on the relay thread, through Post).
  void Attach(uint64_t id, ExternalStream ext);
  void ExternalData(uint64_t id, const std::vector<uint8_t>& bytes);
  void ExternalClosed(uint64_t id);

  size_t allocations() const { return allocations_.load(std::memory_order_relaxed); }
  // After Join: takes this thread's share out of the gauges.
  void RetractGauges() { export_.RetractGauges(); }

  // RelayAllocator (the Server calls these on this thread).
  RelayResult Open(const FiveTuple& client, Family family, bool even_port) override;
  void Close(const Address& relayed) override;

 private:
  void Run(std::stop_token stop);
  void Watch(Handle& h, uint32_t events);
  void Modify(Handle& h, uint32_t events);
  // A handle closed during this round of events: later events of the round skip it, and it is
  // freed once the round is over.
  void Retire(std::unique_ptr<Handle> h);
  bool Retired(const Handle* h) const { return !stale_.empty() && stale_.count(h) != 0; }

  // UDP and relays (relay_thread.cpp).
  void OnUdp(UdpListener& l);
  void OnRelay(Relay& r);
  void Dispatch(const Output& o, bool peer_bytes_in_batch);
  const UdpListener* ListenerFor(const Address& server) const;
  std::optional<Address> OtherFamilyAddress(Family family) const;
  void OnWake();
  void OnTimer();

  // Streams (stream_io.cpp).
  void OnAccept(StreamListener& l);
  void OnStream(Stream& s, uint32_t events);
  bool ContinueHandshake(Stream& s);       // false: fatal TLS error
  bool ProcessStreamInput(Stream& s);      // false: garbage (close the stream)
  bool FlushStream(Stream& s);             // false: fatal write error
  void SetWantOut(Stream& s, bool want);
  void StreamSend(Stream& s, std::span<const uint8_t> bytes);
  void CloseStream(Stream& s, bool tell_external);
  void CloseIdleStreams();

  const EngineShared shared_;
  const EngineOptions& opt_;
  std::unique_ptr<sdk::Thread> thread_;
  int index_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> allocations_{0};
  std::mt19937 rng_;
  int ep_ = -1;
  Handle wake_{HandleKind::kWake};
  Handle timer_{HandleKind::kTimer};
  std::unique_ptr<PeerPolicy> policy_;  // this thread's copy (see late_own_endpoints)
  std::vector<Address> late_endpoints_;
  std::unique_ptr<Server> server_;
  std::vector<std::unique_ptr<UdpListener>> udp_;
  std::vector<std::unique_ptr<StreamListener>> listeners_;
  std::unordered_map<Address, std::unique_ptr<Relay>, AddressHash> relays_;
  std::unordered_map<FiveTuple, std::unique_ptr<Stream>, FiveTupleHash> streams_;
  std::unordered_map<uint64_t, Stream*> external_;
  std::unordered_set<const Handle*> stale_;
  std::vector<std::unique_ptr<Handle>> graveyard_;
  std::mutex mu_;
  std::vector<std::function<void()>> commands_;  // guarded by mu_
  int64_t now_ = 0;

  EngineDrops drops_;
  UdpBatch batch_{drops_};
  MetricsExport export_;
};

}  // namespace palaver::turn
