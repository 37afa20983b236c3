// The TURN relay engine: sockets and threads around the sans-I/O Server.
//
// Each relay thread owns an epoll loop, one Server (so its own allocation table), a socket on
// every UDP/TCP/TLS listener address (SO_REUSEPORT: the kernel spreads clients over the threads
// by their address, and a client's datagrams keep landing on the same thread), the relay sockets
// of its allocations, and its stream connections. An allocation therefore lives on exactly one
// thread and nothing on the data path locks. Datagrams move in batches (recvmmsg/sendmmsg); the
// destination address a client used comes from IP_PKTINFO/IPV6_PKTINFO so that wildcard
// listeners answer from the right address. A 1 s timerfd drives expiry, idle stream cut-off and
// the metrics export.
//
// Streams from outside the engine (TURN over TLS on the HTTPS port, handed over by the host's
// raw fallback on the net loop) are attached with AttachStream and fed with StreamData; what the
// engine sends back goes through the callbacks given at attach time, called on the relay thread.
//
// Where things are: engine.cpp (start, stop, handing work to threads), relay_thread.cpp (a
// thread's epoll loop, UDP listeners, relay sockets, timer), stream_io.cpp (TCP/TLS/external
// streams), udp_batch.cpp (recvmmsg/sendmmsg), sockets.cpp (binding, sockaddr), engine_metrics.cpp.
// Allocation events (ServerOptions::events in `server`) are called on the relay threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "palaver/sdk/threads.hpp"

#include "address.hpp"
#include "allocations.hpp"
#include "auth.hpp"
#include "palaver/sdk/metrics.hpp"
#include "palaver/sdk/status.hpp"
#include "peer_policy.hpp"
#include "server.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace palaver::turn {

class RelayThread;

struct EngineOptions {
  std::vector<Address> udp;  // listen addresses; an unspecified IP is every address of its family
  std::vector<Address> tcp;
  std::vector<Address> tls;  // needs tls_context
  SSL_CTX* tls_context = nullptr;  // up-referenced by the engine
  int threads = 1;
  // Starts the relay threads ("turn-relay-N"): the host's (sdk::Host::Threads). Required.
  sdk::ThreadHost* thread_host = nullptr;
  // Relay sockets bind here (one per family); unset: the address the client reached us on.
  std::optional<Address> relay_v4;
  std::optional<Address> relay_v6;
  // Advertised in XOR-RELAYED-ADDRESS instead of the bound address (1:1 NAT, `external_ip`).
  std::optional<Address> external_v4;
  std::optional<Address> external_v6;
  uint16_t min_port = 49152;
  uint16_t max_port = 65535;
  ServerOptions server;
  size_t max_allocations = 0;           // in total, all threads; 0 = unlimited
  size_t max_allocations_per_user = 0;  // all threads; 0 = unlimited
  AuthOptions auth;
  PeerPolicyOptions peers;
  // More own endpoints known only later (the host's HTTPS port when it was ephemeral); asked
  // once a second by every relay thread, which then rebuilds its copy of the policy. May be null.
  std::function<std::vector<Address>()> late_own_endpoints;
  size_t max_streams = 10000;                 // TCP/TLS connections, all threads
  int64_t stream_idle_timeout_ms = 120'000;   // without traffic and without an allocation
  int64_t tls_handshake_timeout_ms = 10'000;
  size_t stream_send_queue_bytes = 512 * 1024;  // beyond it data frames to that client are dropped
  int socket_buffer_bytes = 4 * 1024 * 1024;    // SO_RCVBUF/SO_SNDBUF of the UDP listeners
  sdk::Metrics* metrics = nullptr;              // palaver_turn_* metrics; may be null
};

// What the engine knows about a stream it did not accept itself.
struct ExternalStream {
  Address client;
  Address server;
  Transport transport = Transport::kTls;
  // Called on the relay thread; must not block. `bytes` is only valid during the call.
  std::function<void(std::span<const uint8_t> bytes)> send;
  std::function<void()> close;  // the engine is done with the stream (it sends nothing more)
};

struct EngineSnapshot {
  size_t allocations = 0;
  size_t streams = 0;
  std::vector<Address> udp;  // bound addresses (ports resolved)
  std::vector<Address> tcp;
  std::vector<Address> tls;
};

class Engine {
 public:
  ~Engine();
  // Binds every listener (errors name the address) and starts the threads.
  static Result<std::unique_ptr<Engine>> Start(EngineOptions options);
  // Stops the threads and closes every socket; external streams get their `close`. Idempotent.
  void Stop();

  // External streams (any thread). `id` must be unique among open external streams.
  void AttachStream(uint64_t id, ExternalStream stream);
  void StreamData(uint64_t id, std::span<const uint8_t> bytes);
  void StreamClosed(uint64_t id);

  EngineSnapshot Snapshot() const;

  // Replaces the TURN REST secrets (a rotation); any thread, takes effect for the next request.
  void SetSecrets(std::vector<std::string> secrets, std::vector<AuthOptions::RetiredSecret> retired);

 private:
  Engine() = default;
  RelayThread& ThreadFor(uint64_t id);

  EngineOptions options_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<SharedQuota> quota_;
  std::vector<std::unique_ptr<RelayThread>> threads_;
  std::vector<Address> bound_udp_, bound_tcp_, bound_tls_;
  std::atomic<bool> stopped_{false};
  std::atomic<size_t> streams_{0};
};

}  // namespace palaver::turn
