// The net server's frame: listeners and accept (per-address and total limits), the loop's rounds
// (epoll, posted tasks, timers, connection deadlines, one write per dirty connection), drain and
// shutdown, Post/Schedule/Cancel for modules. The protocols are in net/: the HTTP exchange
// (exchange.cpp), HTTP/1.1 and HTTP/2 (http1_session.cpp, http2_session.cpp), WebSockets
// (ws_session.cpp), raw TURN-over-TLS connections (raw_session.cpp), listeners and the TLS
// context (listener.cpp).
#include "net_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <malloc.h>

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "logging.hpp"
#include "net/listener.hpp"
#include "net/sessions.hpp"
#include "net/util.hpp"

namespace palaver::host {

NetServer::NetServer(ServerLimits limits, RouterImpl& router, MetricsRegistry& metrics,
                     std::shared_ptr<spdlog::logger> log)
    : limits_(limits), router_(router), metrics_(metrics), log_(std::move(log)), access_(GetLogger("access")) {
  connections_open_ = &metrics_.GetGauge("palaver_http_connections_open", "Open client connections.");
  header_timeouts_ = &metrics_.GetCounter("palaver_http_header_timeouts_total",
                                          "Connections closed for not sending request headers in time.");
  ws_open_ = &metrics_.GetGauge("palaver_http_websockets_open", "Open WebSocket connections.");
  ws_in_ = &metrics_.GetCounter("palaver_http_websocket_messages_total", "WebSocket messages.", {{"direction", "in"}});
  ws_out_ = &metrics_.GetCounter("palaver_http_websocket_messages_total", "WebSocket messages.", {{"direction", "out"}});
  ws_slow_closed_ = &metrics_.GetCounter("palaver_http_websocket_slow_readers_closed_total",
                                         "WebSockets closed because the peer read too slowly.");
  ws_dead_closed_ = &metrics_.GetCounter("palaver_http_websocket_dead_peers_closed_total",
                                         "WebSockets dropped after websocket_timeout without a message or pong.");
  ws_oversized_ = &metrics_.GetCounter("palaver_http_websocket_oversized_messages_total",
                                       "WebSockets closed for a message over the endpoint's limit.");
  connections_refused_ = &metrics_.GetCounter("palaver_http_connections_refused_total",
                                              "Connections refused (per-address or total limit, draining).");
  streams_reset_ = &metrics_.GetCounter("palaver_http2_streams_reset_total", "HTTP/2 streams reset or refused by the server.");
  bad_requests_ = &metrics_.GetCounter("palaver_http_bad_requests_total", "Requests refused as malformed (400, 431, 505).");
  body_bytes_gauge_ = &metrics_.GetGauge("palaver_http_request_body_bytes_buffered",
                                         "Request-body bytes held in memory, all connections together.");
  response_bytes_gauge_ = &metrics_.GetGauge("palaver_http_response_body_bytes_held",
                                             "Response-body bytes built in memory and not yet sent.");
  responses_refused_ = &metrics_.GetCounter("palaver_http_responses_refused_total",
                                            "Responses replaced by 503 because too many response bytes were held.");
  forwarded_ignored_ = &metrics_.GetCounter(
      "palaver_http_forwarded_headers_ignored_total",
      "Forwarding headers from a trusted proxy that were ignored (malformed, an unknown hop, too many hops).");
}

NetServer::~NetServer() { Shutdown(); }

Status NetServer::Create() { return loop_.Init(); }

Status NetServer::Listen(const std::vector<ListenerSpec>& listeners,
                         std::shared_ptr<sdk::CertificateProvider> certs, RedirectTarget redirect,
                         std::shared_ptr<sdk::RawConnectionHandler> raw_fallback) {
  certs_ = std::move(certs);
  redirect_ = std::move(redirect);
  raw_handler_ = std::move(raw_fallback);
  for (const auto& spec : listeners) {
    listener_specs_.push_back(std::make_unique<ListenerSpec>(spec));
    const ListenerSpec& s = *listener_specs_.back();
    SSL_CTX* ctx = nullptr;
    if (s.tls) {
      if (!certs_) return Fail(ErrorCode::kFailedPrecondition, "listener " + s.name + " needs TLS but the tls module is off");
      if (!certs_->ForName("")) return Fail(ErrorCode::kFailedPrecondition, "no certificate available for listener " + s.name);
      if (ssl_ctx_ == nullptr) {
        ssl_ctx_ = net::NewTlsContext(*this);
        if (ssl_ctx_ == nullptr) return Fail(ErrorCode::kInternal, "cannot create the TLS context");
      }
      ctx = ssl_ctx_;
    }
    auto listener = std::make_unique<net::Listener>(*this, s, ctx);
    PALAVER_RETURN_IF_ERROR(listener->Open());
    bound_ports_[s.name] = listener->port();
    listeners_.push_back(std::move(listener));
    // With an ephemeral https port, redirects name the port actually bound.
    if (s.tls && redirect_.https_port == 0) redirect_.https_port = bound_ports_[s.name];
  }
  return OkStatus();
}

int NetServer::BoundPort(const std::string& name) const {
  auto it = bound_ports_.find(name);
  return it == bound_ports_.end() ? -1 : it->second;
}

void NetServer::Start() {
  running_ = true;
  thread_ = std::thread([this] { Run(); });
  pthread_setname_np(thread_.native_handle(), "palaver-net");  // named once Start returns
}

void NetServer::Run() {
  pthread_setname_np(pthread_self(), "palaver-net");
  loop_thread_id_ = std::this_thread::get_id();
  Schedule(std::chrono::seconds(1), [this] { SweepWebSockets(); });
  DrainPosts();
  while (!stop_.load()) {
    // Output left from the last round goes on at once; otherwise wait for events, the next
    // timer (the loop's) or the next connection deadline.
    auto wait = std::chrono::milliseconds(1000);
    if (!dirty_.empty()) {
      wait = std::chrono::milliseconds(0);
    } else if (!deadlines_.empty()) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(deadlines_.top().when - net::Clock::now());
      wait = std::clamp(until + std::chrono::milliseconds(1), std::chrono::milliseconds(0), wait);
    }
    RunRound(wait);
  }
  loop_thread_id_ = std::thread::id();
}

void NetServer::RunRound(std::chrono::milliseconds max_wait) {
  if (!loop_.RunOnce(max_wait, [this] { DrainPosts(); })) {
    log_->error("event loop failed: {}", std::strerror(errno));
    stop_ = true;
    return;
  }
  if (draining_ && !drain_applied_) {
    drain_applied_ = true;
    for (auto& l : listeners_) l->Stop();
    std::vector<net::Conn*> all;
    all.reserve(conns_.size());
    for (auto& [id, c] : conns_) all.push_back(c.get());
    for (net::Conn* c : all) {
      if (!c->closed() && c->session() != nullptr) c->session()->OnDrain();
      else if (!c->closed()) c->Close("draining");
    }
  }
  ExpireDeadlines();
  // Output of this round: each connection produces and writes once (frames of all its HTTP/2
  // streams gathered into one buffer).
  for (int pass = 0; pass < 64 && !dirty_.empty(); ++pass) {
    std::vector<net::Conn*> batch;
    batch.swap(dirty_);
    for (net::Conn* c : batch) {
      if (!c->closed()) c->Flush();
    }
  }
  std::erase_if(dirty_, [](net::Conn* c) { return c->closed(); });
  graveyard_.clear();
  NoteIdle();
}

void NetServer::ExpireDeadlines() {
  auto now = net::Clock::now();
  while (!deadlines_.empty() && deadlines_.top().when <= now) {
    DeadlineEntry e = deadlines_.top();
    deadlines_.pop();
    auto it = conns_.find(e.conn_id);
    if (it == conns_.end()) continue;
    net::Conn* c = it->second.get();
    if (c->heap_when != e.when) continue;  // a stale entry: an earlier one was armed since
    c->heap_when = net::Clock::time_point::max();
    if (c->deadline() <= now) {
      c->Expire();
    } else if (c->deadline() != net::Clock::time_point::max()) {
      ArmDeadline(c, c->deadline());
    }
  }
}

void NetServer::ReadLater(uint64_t conn_id) {
  Post([this, conn_id] {
    auto it = conns_.find(conn_id);
    if (it != conns_.end() && !it->second->closed()) it->second->ReadAvailable();
  });
}

void NetServer::ArmDeadline(net::Conn* c, net::Clock::time_point when) {
  c->heap_when = when;
  deadlines_.push(DeadlineEntry{when, c->id()});
}

void NetServer::Accept(int fd, const ListenerSpec& spec, SSL_CTX* ctx) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  std::string peer = net::AddressOf(&ss);
  // A trusted proxy carries many clients on its connections: the per-address limit is not its.
  const bool proxy = AnyContains(Proxies()->nets, peer);
  if (draining_ || static_cast<int>(conns_.size()) >= limits_.max_connections ||
      (!proxy && connections_per_ip_[peer] >= limits_.max_connections_per_ip)) {
    connections_refused_->Inc();
    log_->debug("connection refused client={} reason={}", peer, draining_ ? "draining" : "limit");
    if (connections_per_ip_[peer] == 0) connections_per_ip_.erase(peer);
    ::close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL* ssl = nullptr;
  if (ctx != nullptr) {
    ssl = SSL_new(ctx);
    if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
      if (ssl != nullptr) SSL_free(ssl);
      ::close(fd);
      return;
    }
    SSL_set_accept_state(ssl);
  }
  uint64_t id = next_conn_id_++;
  accepted_since_trim_++;
  last_accept_ = net::Clock::now();
  auto conn = std::make_unique<net::Conn>(*this, fd, id, spec, ssl, peer);
  net::Conn* c = conn.get();
  connections_per_ip_[peer]++;
  connections_open_->Add(1);
  conns_.emplace(id, std::move(conn));
  // The client has header_timeout to complete its first request's headers (TLS handshake
  // included); later requests on the connection are bounded by idle_timeout.
  c->SetDeadline(net::Clock::now() + limits_.header_timeout);
  if (Status st = loop_.Add(fd, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP); !st) {
    log_->warn("cannot watch a connection: {}", st.error().message);
    c->Close("epoll");
  }
}

void NetServer::Closed(net::Conn* c) {
  Forget(c);
  auto it = conns_.find(c->id());
  if (it == conns_.end()) return;
  graveyard_.push_back(std::move(it->second));
  conns_.erase(it);
}

void NetServer::Forget(net::Conn* c) {
  if (!c->counted) return;
  c->counted = false;
  auto pc = connections_per_ip_.find(c->peer());
  if (pc != connections_per_ip_.end() && --pc->second <= 0) connections_per_ip_.erase(pc);
  connections_open_->Add(-1);
}

void NetServer::BeginDrain() {
  draining_ = true;
  loop_.Wake();
}

bool NetServer::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(idle_mu_);
  if (!running_) return in_flight_.load() == 0;  // no loop to finish anything (start failed)
  return idle_cv_.wait_for(lock, timeout, [this] { return idle_; });
}

void NetServer::NoteIdle() {
  // At the end of a round only: within one, an exchange may finish before its connection is
  // marked to close after its output (HTTP/2's last stream), and a waiter woken in between would
  // close that connection with the download's tail unsent.
  if (!draining_ || in_flight_.load() != 0 || flushing_.load() != 0) return;
  std::lock_guard lock(idle_mu_);
  idle_ = true;
  idle_cv_.notify_all();
}

void NetServer::CloseAll() {
  std::vector<net::Conn*> all;
  for (auto& [id, c] : conns_) all.push_back(c.get());
  for (net::Conn* c : all) c->Close("shutdown");
  graveyard_.clear();
  dirty_.clear();
}

void NetServer::Shutdown() {
  file_readers_.Stop();  // their completions post here
  if (thread_.joinable()) {
    stop_ = true;
    loop_.Wake();
    thread_.join();
  }
  running_ = false;
  // Closing the connections here must not reach modules that have stopped.
  destroying_ = true;
  CloseAll();
  listeners_.clear();
  if (ssl_ctx_ != nullptr) {
    SSL_CTX_free(ssl_ctx_);
    ssl_ctx_ = nullptr;
  }
  std::lock_guard lock(post_mu_);
  posts_.clear();
}

void NetServer::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(post_mu_);
    if (stop_) return;
    posts_.push_back(std::move(fn));
  }
  if (running_) loop_.Wake();
}

void NetServer::DrainPosts() {
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard lock(post_mu_);
    batch.swap(posts_);
  }
  for (auto& fn : batch) {
    try {
      fn();
    } catch (const std::exception& e) {
      log_->error("posted task threw err={}", e.what());
    } catch (...) {
      log_->error("posted task threw a non-standard exception");
    }
  }
}

sdk::NetLoop::TimerId NetServer::Schedule(std::chrono::milliseconds delay, std::function<void()> fn) {
  TimerId id = next_timer_id_.fetch_add(1);
  auto add = [this, id, delay, fn = std::move(fn)]() mutable {
    auto loop_id = loop_.AddTimer(net::Clock::now() + delay, [this, id, fn = std::move(fn)] {
      timers_.erase(id);
      try {
        fn();
      } catch (const std::exception& e) {
        log_->error("timer task threw err={}", e.what());
      }
    });
    timers_[id] = loop_id;
  };
  if (IsLoopThread()) add();
  else Post(std::move(add));
  return id;
}

void NetServer::Cancel(TimerId id) {
  auto cancel = [this, id] {
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    loop_.CancelTimer(it->second);
    timers_.erase(it);
  };
  if (IsLoopThread()) cancel();
  else Post(std::move(cancel));
}

// After a burst of new connections (TLS handshakes allocate and free tens of KB each, between
// the small blocks that stay), the allocator holds free pages it never returns by itself; once the
// burst is over, malloc_trim gives them back (on a file thread: it walks the whole heap).
void NetServer::MaybeTrimHeap() {
  constexpr uint64_t kBurst = 256;
  if (accepted_since_trim_ < kBurst || net::Clock::now() - last_accept_ < std::chrono::seconds(2)) return;
  accepted_since_trim_ = 0;
  file_readers_.Submit([log = log_] {
    auto start = net::Clock::now();
    malloc_trim(0);
    log->debug("heap trimmed after a burst of connections ms={}",
               std::chrono::duration_cast<std::chrono::milliseconds>(net::Clock::now() - start).count());
  });
}

bool NetServer::IsLoopThread() const { return loop_thread_id_.load() == std::this_thread::get_id(); }

int NetServer::CertCallback(SSL* ssl) {
  if (!certs_) return 0;
  return sdk::UseCertificateForSni(ssl, *certs_) ? 1 : 0;
}

}  // namespace palaver::host
