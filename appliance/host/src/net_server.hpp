// The net loop: one libwebsockets context and service thread for every HTTP/1.1, HTTP/2 and
// (later) WebSocket connection, plus Post() and timers. Implements sdk::NetLoop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "metrics_registry.hpp"
#include "palaver/sdk/net_loop.hpp"
#include "palaver/sdk/raw_connection.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"
#include "palaver/sdk/status.hpp"
#include "router.hpp"

struct lws;
struct lws_context;
struct lws_vhost;
struct lws_protocols;

namespace spdlog {
class logger;
}

namespace palaver::host {

struct ServerLimits {
  int max_connections = 10000;
  int max_connections_per_ip = 256;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{30};
  std::chrono::seconds idle_timeout{60};
  int max_header_bytes = 16 * 1024;
  // WebSockets silent this long get a PING; silent for websocket_timeout they are dropped.
  std::chrono::seconds websocket_ping_interval{30};
  std::chrono::seconds websocket_timeout{75};
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
};

struct Exchange;
struct TimerEntry;
class RawConn;
class WsConn;

/// Owns the lws context and its service thread.
/// Thread: Create/Listen/Start/BeginDrain/Shutdown on the control thread; NetLoop methods from any
/// thread; everything else runs on the loop.
class NetServer final : public sdk::NetLoop {
 public:
  NetServer(ServerLimits limits, RouterImpl& router, MetricsRegistry& metrics,
            std::shared_ptr<spdlog::logger> log);
  ~NetServer() override;

  /// Creates the lws context (no listeners yet). Before modules Start.
  Status Create();
  /// Opens the listeners (after every module started). A TLS listener needs `certs`.
  Status Listen(const std::vector<ListenerSpec>& listeners,
                std::shared_ptr<sdk::CertificateProvider> certs, RedirectTarget redirect,
                std::shared_ptr<sdk::RawConnectionHandler> raw_fallback);
  /// The port a listener is bound to (after Listen), or -1.
  int BoundPort(const std::string& name) const;
  /// Starts the service thread.
  void Start();
  /// Refuses new connections and closes keep-alive connections after their current request.
  void BeginDrain();
  /// Waits until no request is in flight or the deadline passes. True when idle.
  bool WaitIdle(std::chrono::milliseconds timeout);
  /// Stops the loop, joins the thread, destroys the context. Idempotent.
  void Shutdown();

  // sdk::NetLoop
  void Post(std::function<void()> fn) override;
  TimerId Schedule(std::chrono::milliseconds delay, std::function<void()> fn) override;
  void Cancel(TimerId id) override;
  bool IsLoopThread() const override;

  // Called from the C callbacks (loop thread).
  int OnHttpCallback(lws* wsi, int reason, void* user, void* in, size_t len);
  int OnRawCallback(lws* wsi, int reason, void* user, void* in, size_t len);
  // Drops the connection from the per-IP counts and the open-connections gauge (idempotent).
  void ForgetConnection(lws* wsi);
  /// Closes the WebSockets of a module's endpoints (1001) and stops delivering their events.
  /// Control thread; waits for the loop (bounded).
  void CloseWebSockets(const std::string& owner);
  void FireTimer(TimerEntry* timer);
  int CertCallback(void* ssl);

 private:
  void Run();
  void DrainPosts();
  void SweepHeaderTimeouts();
  void SweepWebSockets();
  int StartRequest(lws* wsi, const char* uri);
  void FillRequest(lws* wsi, const char* uri, sdk::Request& req);
  int OnWebSocketCallback(lws* wsi, int reason, void* in, size_t len);
  void Dispatch(const std::shared_ptr<Exchange>& ex);
  void Deliver(Exchange& ex, sdk::Response response);
  int Writeable(lws* wsi);
  void Finish(lws* wsi);
  void CountRequest(const std::string& route_class, int status);

  ServerLimits limits_;
  RouterImpl& router_;
  MetricsRegistry& metrics_;
  std::shared_ptr<spdlog::logger> log_;

  lws_context* context_ = nullptr;
  std::unique_ptr<lws_protocols[]> protocols_;
  std::map<std::string, lws_vhost*> vhosts_;
  std::map<std::string, int> bound_ports_;
  std::vector<std::unique_ptr<ListenerSpec>> listener_specs_;
  std::shared_ptr<sdk::CertificateProvider> certs_;
  std::shared_ptr<sdk::RawConnectionHandler> raw_handler_;
  RedirectTarget redirect_;

  std::thread thread_;
  std::atomic<std::thread::id> loop_thread_id_{};
  std::atomic<bool> stop_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> running_{false};

  std::mutex post_mu_;
  std::deque<std::function<void()>> posts_ PALAVER_GUARDED_BY(post_mu_);

  std::atomic<uint64_t> next_timer_id_{1};
  std::unordered_map<uint64_t, std::unique_ptr<TimerEntry>> timers_;  // loop only

  // Loop only.
  std::unordered_map<lws*, std::shared_ptr<Exchange>> exchanges_;
  struct ConnInfo {
    std::string peer;
    bool got_request = false;
    std::chrono::steady_clock::time_point accepted;
  };
  std::unordered_map<lws*, ConnInfo> connection_peers_;  // network connections
  std::deque<std::pair<lws*, std::chrono::steady_clock::time_point>> awaiting_first_request_;
  std::unordered_map<std::string, int> connections_per_ip_;
  std::unordered_map<lws*, std::unique_ptr<RawConn>> raw_conns_;
  std::unordered_map<lws*, std::unique_ptr<WsConn>> ws_conns_;
  uint64_t next_ws_id_ = 1;
  bool destroying_ = false;
  std::unordered_map<std::string, sdk::Counter*> request_counters_;
  uint64_t next_raw_id_ = 1;

  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
  std::atomic<int> in_flight_{0};

  sdk::Gauge* connections_open_ = nullptr;
  sdk::Counter* connections_refused_ = nullptr;
  sdk::Counter* header_timeouts_ = nullptr;

 public:
  // WebSocket metrics (used by WsConn).
  sdk::Gauge* ws_open_ = nullptr;
  sdk::Counter* ws_in_ = nullptr;
  sdk::Counter* ws_out_ = nullptr;
  sdk::Counter* ws_slow_closed_ = nullptr;
  sdk::Counter* ws_dead_closed_ = nullptr;
  sdk::Counter* ws_oversized_ = nullptr;
};

}  // namespace palaver::host
