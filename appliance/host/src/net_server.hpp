// The net loop: one thread with an epoll reactor (net/event_loop.hpp) for every HTTP/1.1,
// HTTP/2 (nghttp2), WebSocket and raw (TURN over TLS) connection, plus Post() and timers.
// Implements sdk::NetLoop. The protocol sessions live in net/; this class owns the listeners,
// the connections, the limits and what HTTP/1.1 and HTTP/2 share: routing a request, the
// response filters, metrics and graceful drain. Its methods are defined in net_server.cpp (the
// loop, accept, drain), net/exchange.cpp (the HTTP exchange) and net/ws_session.cpp (WebSocket
// bookkeeping).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cidr.hpp"
#include "metrics_registry.hpp"
#include "net/forwarded.hpp"
#include "net/conn.hpp"
#include "net/event_loop.hpp"
#include "net/file_reader.hpp"
#include "palaver/sdk/net_loop.hpp"
#include "palaver/sdk/raw_connection.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"
#include "palaver/sdk/status.hpp"
#include "router.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace spdlog {
class logger;
}

namespace palaver::host {

struct ServerLimits {
  int max_connections = 10000;
  int max_connections_per_ip = 256;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{30};
  // Past body_timeout a body still arriving at this average rate (bytes/s) may go on.
  int64_t body_min_rate = 16 * 1024;
  std::chrono::seconds idle_timeout{60};
  int max_header_bytes = 16 * 1024;
  // WebSockets silent this long get a PING; silent for websocket_timeout they are dropped.
  std::chrono::seconds websocket_ping_interval{30};
  std::chrono::seconds websocket_timeout{75};
  // Request bodies buffered at once, all connections together; past it new body bytes get 503.
  int64_t max_buffered_body_bytes = 32 * 1024 * 1024;
  // HTTP/2 streams a client may open at once on one connection.
  int max_concurrent_streams = 100;
  // Response bodies built in memory and not yet sent (a client that does not read keeps them):
  // per connection and all connections together; past either a response becomes 503.
  int64_t max_held_response_bytes_per_connection = 16 * 1024 * 1024;
  int64_t max_held_response_bytes = 128 * 1024 * 1024;
};

struct ListenerSpec {
  std::string name;     // "https" or "http"
  std::string address;  // empty: all addresses
  int port = 0;         // 0: ephemeral
  bool tls = false;
};

/// What the plain listener redirects to.
struct RedirectTarget {
  std::string canonical_host;
  int https_port = 443;
  /// Names the certificate covers: a request for one of them is redirected to that name,
  /// anything else (an IP address, an unknown name) to the canonical host.
  std::vector<std::string> hostnames;
};

namespace net {
class WsSession;
class Listener;
}  // namespace net

/// Thread: Create/Listen/Start/BeginDrain/Shutdown on the control thread; NetLoop methods from any
/// thread; everything else runs on the loop.
class NetServer final : public sdk::NetLoop {
 public:
  NetServer(ServerLimits limits, RouterImpl& router, MetricsRegistry& metrics,
            std::shared_ptr<spdlog::logger> log);
  ~NetServer() override;

  /// Creates the reactor (no listeners yet). Before modules Start.
  Status Create();
  /// Opens the listeners (after every module started). A TLS listener needs `certs`.
  Status Listen(const std::vector<ListenerSpec>& listeners,
                std::shared_ptr<sdk::CertificateProvider> certs, RedirectTarget redirect,
                std::shared_ptr<sdk::RawConnectionHandler> raw_fallback);
  /// The port a listener is bound to (after Listen), or -1.
  int BoundPort(const std::string& name) const;
  /// Starts the loop thread.
  void Start();
  /// Refuses new connections and closes keep-alive connections after their current request.
  void BeginDrain();
  /// One `access` log line per finished request (`[palaver] access_log`); switchable at run time.
  void SetAccessLog(bool on) { access_log_.store(on, std::memory_order_relaxed); }
  /// Reverse proxies whose forwarding header (`which`) names the client (`[palaver]
  /// trusted_proxies`). Any thread; applies to requests that start afterwards.
  void SetTrustedProxies(std::vector<Cidr> nets, net::ProxyHeader which);
  /// Waits until no request is in flight and no closing connection still holds output for its
  /// client (a finished download's last bytes), or the deadline passes. True when idle.
  bool WaitIdle(std::chrono::milliseconds timeout);
  /// Stops the loop, joins the thread, closes every connection. Idempotent.
  void Shutdown();
  /// Closes the WebSockets of a module's endpoints (1001) and stops delivering their events.
  /// Control thread; waits for the loop (bounded).
  void CloseWebSockets(const std::string& owner);

  // sdk::NetLoop
  void Post(std::function<void()> fn) override;
  TimerId Schedule(std::chrono::milliseconds delay, std::function<void()> fn) override;
  void Cancel(TimerId id) override;
  bool IsLoopThread() const override;

  // ---- For the net layer's sessions (loop thread) ----
  const ServerLimits& limits() const { return limits_; }
  spdlog::logger& log() { return *log_; }
  net::EventLoop& loop() { return loop_; }
  bool draining() const { return draining_.load(); }
  bool destroying() const { return destroying_; }
  sdk::RawConnectionHandler* raw_handler() const { return raw_handler_.get(); }
  RouterImpl& router() { return router_; }

  enum class Next { kResponded, kReadBody, kDispatch };
  /// Checks and routes a request whose head is complete. `content_length`: -1 unknown (chunked
  /// or HTTP/2 without the header), else the declared length; `has_body`: body bytes follow.
  Next Begin(const std::shared_ptr<net::Exchange>& ex, int64_t content_length, bool has_body);
  /// Replaces `req.peer` (the TCP peer) by the client a trusted proxy names in its forwarding
  /// header, so that limits, logs and handlers see the real client. REQUIRES: headers parsed.
  void ResolveClient(sdk::Request& req);
  /// Runs the route's handler.
  void Dispatch(std::shared_ptr<net::Exchange> ex);
  /// Sets the response (filters, metrics) and hands it to the exchange's session; a file body's
  /// first chunk is read (file threads) before.
  void Deliver(net::Exchange& ex, sdk::Response response);
  /// Reads the chunk of ex's file body that starts at body offset `from` on a file thread.
  void ReadFile(net::Exchange& ex, uint64_t from);
  /// Starts the threads that read static files (through the host's threads). Before Start.
  Status StartFileReaders(sdk::ThreadHost& threads, int count) { return file_readers_.Start(threads, count); }
  /// Appends request-body bytes within the route's limit and the server-wide budget; on
  /// failure the error response is delivered and false returned.
  bool AppendBody(net::Exchange& ex, std::string_view bytes);
  /// Gives a finished exchange's in-flight count and budget back. Idempotent.
  void Finish(net::Exchange& ex);
  /// A connection asked to close once its output is written (CloseAfterFlush) / has written it
  /// (or closed). The drain waits for these too: closing them early cut downloads short.
  void FlushBegan() { flushing_++; }
  void FlushEnded() { flushing_--; }
  void ReleaseBudget(net::Exchange& ex);
  /// A new exchange in flight on `conn`.
  std::shared_ptr<net::Exchange> NewExchange(net::Conn& conn, net::Session& session);

  // WebSocket bookkeeping.
  void AddWebSocket(net::WsSession* ws) { websockets_.insert(ws); }
  void RemoveWebSocket(net::WsSession* ws) { websockets_.erase(ws); }
  uint64_t NextWebSocketId() { return next_ws_id_++; }
  uint64_t NextRawId() { return next_raw_id_++; }

  // Connection bookkeeping.
  void Accept(int fd, const ListenerSpec& spec, SSL_CTX* ctx);
  void MarkDirty(net::Conn* c) { dirty_.push_back(c); }
  /// Reads the connection again in a later round (it stopped at its per-turn bound).
  void ReadLater(uint64_t conn_id);
  void ArmDeadline(net::Conn* c, net::Clock::time_point when);
  void Closed(net::Conn* c);
  void Forget(net::Conn* c);
  void CountRequest(const std::string& route_class, int status);
  void ObserveLatency(const std::string& route_class, net::Clock::duration elapsed);
  void RedirectResponse(net::Exchange& ex);

  // Metrics (used by the sessions).
  sdk::Gauge* ws_open_ = nullptr;
  sdk::Counter* ws_in_ = nullptr;
  sdk::Counter* ws_out_ = nullptr;
  sdk::Counter* ws_slow_closed_ = nullptr;
  sdk::Counter* ws_dead_closed_ = nullptr;
  sdk::Counter* ws_oversized_ = nullptr;
  sdk::Counter* header_timeouts_ = nullptr;
  sdk::Counter* streams_reset_ = nullptr;
  sdk::Counter* bad_requests_ = nullptr;

  int CertCallback(SSL* ssl);

 private:
  void Run();
  void RunRound(std::chrono::milliseconds max_wait);
  void DrainPosts();
  void ExpireDeadlines();
  void SweepWebSockets();
  void MaybeTrimHeap();
  void CloseAll();
  void FileRead(net::Exchange& ex, net::FileChunk chunk);
  void SendResponse(net::Exchange& ex, sdk::Response response);

  ServerLimits limits_;
  RouterImpl& router_;
  MetricsRegistry& metrics_;
  std::shared_ptr<spdlog::logger> log_;

  net::EventLoop loop_;
  net::FileReaders file_readers_;
  std::vector<std::unique_ptr<net::Listener>> listeners_;
  std::map<std::string, int> bound_ports_;
  std::vector<std::unique_ptr<ListenerSpec>> listener_specs_;
  std::shared_ptr<sdk::CertificateProvider> certs_;
  std::shared_ptr<sdk::RawConnectionHandler> raw_handler_;
  SSL_CTX* ssl_ctx_ = nullptr;
  RedirectTarget redirect_;

  std::thread thread_;
  std::atomic<std::thread::id> loop_thread_id_{};
  std::atomic<bool> stop_{false};
  std::atomic<bool> draining_{false};
  bool drain_applied_ = false;
  std::atomic<bool> running_{false};
  bool destroying_ = false;

  std::mutex post_mu_;
  std::deque<std::function<void()>> posts_ PALAVER_GUARDED_BY(post_mu_);

  std::atomic<uint64_t> next_timer_id_{1};
  std::unordered_map<uint64_t, net::EventLoop::TimerId> timers_;  // loop only: sdk id → loop id

  // Loop only.
  uint64_t next_conn_id_ = 1;
  // Connections accepted since the heap was last trimmed, and when the last one came.
  uint64_t accepted_since_trim_ = 0;
  net::Clock::time_point last_accept_{};
  std::unordered_map<uint64_t, std::unique_ptr<net::Conn>> conns_;
  std::vector<std::unique_ptr<net::Conn>> graveyard_;
  std::vector<net::Conn*> dirty_;
  struct DeadlineEntry {
    net::Clock::time_point when;
    uint64_t conn_id;
    bool operator>(const DeadlineEntry& o) const { return when > o.when; }
  };
  std::priority_queue<DeadlineEntry, std::vector<DeadlineEntry>, std::greater<>> deadlines_;
  std::unordered_map<std::string, int> connections_per_ip_;
  std::unordered_set<net::WsSession*> websockets_;
  uint64_t next_ws_id_ = 1;
  uint64_t next_raw_id_ = 1;
  int64_t body_bytes_buffered_ = 0;
  int64_t response_bytes_held_ = 0;
  std::unordered_map<std::string, sdk::Counter*> request_counters_;
  std::unordered_map<std::string, sdk::Histogram*> latency_;  // by route class; net loop only

  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> flushing_{0};
  bool idle_ = false;  // draining, and at the end of a round nothing in flight or flushing (idle_mu_)
  void NoteIdle();
  std::atomic<bool> access_log_{false};
  struct ProxyTrust {
    std::vector<Cidr> nets;
    net::ProxyHeader which = net::ProxyHeader::kXForwardedFor;
  };
  mutable std::mutex proxy_mu_;
  std::shared_ptr<const ProxyTrust> proxies_ PALAVER_GUARDED_BY(proxy_mu_) = std::make_shared<ProxyTrust>();
  std::shared_ptr<const ProxyTrust> Proxies() const {
    std::lock_guard lock(proxy_mu_);
    return proxies_;
  }
  sdk::Counter* forwarded_ignored_ = nullptr;
  std::shared_ptr<spdlog::logger> access_;

  sdk::Gauge* connections_open_ = nullptr;
  sdk::Counter* connections_refused_ = nullptr;
  sdk::Gauge* body_bytes_gauge_ = nullptr;
  sdk::Gauge* response_bytes_gauge_ = nullptr;
  sdk::Counter* responses_refused_ = nullptr;
};

}  // namespace palaver::host
