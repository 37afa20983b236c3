#include "net_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <future>

#include <spdlog/spdlog.h>

#include "logging.hpp"
#include "net/sessions.hpp"
#include "net/util.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::host {

namespace net {

/// A listening socket; accepts on the loop.
class Listener final : public IoHandler {
 public:
  Listener(NetServer& server, const ListenerSpec& spec, SSL_CTX* ctx) : server_(server), spec_(spec), ctx_(ctx) {}
  ~Listener() override { Stop(); }

  Status Open() {
    in_addr v4{};
    in6_addr v6{};
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET6;
    if (!spec_.address.empty() && inet_pton(AF_INET, spec_.address.c_str(), &v4) == 1) {
      family = AF_INET;
      auto& sin = reinterpret_cast<sockaddr_in&>(ss);
      sin.sin_family = AF_INET;
      sin.sin_addr = v4;
      sin.sin_port = htons(static_cast<uint16_t>(spec_.port));
      len = sizeof sin;
    } else {
      if (!spec_.address.empty() && inet_pton(AF_INET6, spec_.address.c_str(), &v6) != 1) {
        return Fail(ErrorCode::kInvalidArgument, "listen address " + spec_.address + " is not an IP address");
      }
      auto& sin6 = reinterpret_cast<sockaddr_in6&>(ss);
      sin6.sin6_family = AF_INET6;
      sin6.sin6_addr = spec_.address.empty() ? in6addr_any : v6;
      sin6.sin6_port = htons(static_cast<uint16_t>(spec_.port));
      len = sizeof sin6;
    }
    fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Fail(ErrorCode::kUnavailable, std::string("socket: ") + std::strerror(errno));
    int one = 1, zero = 0;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // "All addresses" means IPv4 too; an explicit IPv6 address only that one.
    if (family == AF_INET6) setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, spec_.address.empty() ? &zero : &one, sizeof one);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd_, 1024) != 0) {
      int err = errno;
      return Fail(ErrorCode::kUnavailable, "cannot listen on " +
                                               (spec_.address.empty() ? std::string("*") : spec_.address) + ":" +
                                               std::to_string(spec_.port) + " (" + spec_.name + "): " +
                                               std::strerror(err));
    }
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
    port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                                             : reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
    return server_.loop().Add(fd_, this, EPOLLIN);
  }

  void Stop() {
    if (fd_ < 0) return;
    server_.loop().Remove(fd_);
    ::close(fd_);
    fd_ = -1;
  }

  void OnIo(uint32_t) override {
    for (int i = 0; i < 256 && fd_ >= 0; ++i) {
      int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) {
          server_.log().warn("accept failed: {} (raise the open-files limit)", std::strerror(errno));
        }
        return;
      }
      server_.Accept(fd, spec_, ctx_);
    }
    // More may be waiting: take them on the next round so one listener cannot starve the others.
    if (fd_ >= 0) server_.Post([this] { OnIo(EPOLLIN); });
  }

  int port() const { return port_; }

 private:
  NetServer& server_;
  const ListenerSpec& spec_;
  SSL_CTX* ctx_;
  int fd_ = -1;
  int port_ = -1;
};

}  // namespace net

namespace {

int SslCertCallback(SSL* ssl, void* arg) { return static_cast<NetServer*>(arg)->CertCallback(ssl); }

// ALPN: h2 when offered, else http/1.1; a client offering neither (TURN clients may offer
// "stun.turn") gets no ALPN and is served by what its first bytes say. An ACME CA validating
// TLS-ALPN-01 offers only "acme-tls/1" and gets it (with the challenge certificate, see
// sdk::NoteAcmeTlsAlpnOffer); it closes the connection after the handshake.
int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kAcme[] = {10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
  static const unsigned char kH2[] = {2, 'h', '2'};
  static const unsigned char kH1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (const unsigned char* want : {kAcme, kH2, kH1}) {
    if (want == kAcme && !sdk::IsAcmeTlsAlpnHandshake(ssl)) continue;
    for (unsigned int i = 0; i < inlen;) {
      unsigned int n = in[i];
      if (i + 1 + n > inlen) break;
      if (n == want[0] && std::memcmp(in + i + 1, want + 1, n) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(n);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + n;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool ValidHostHeader(const std::string& host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

}  // namespace

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

void NetServer::SetTrustedProxies(std::vector<Cidr> nets, net::ProxyHeader which) {
  auto next = std::make_shared<ProxyTrust>(ProxyTrust{std::move(nets), which});
  std::lock_guard lock(proxy_mu_);
  proxies_ = std::move(next);
}

void NetServer::ResolveClient(sdk::Request& req) {
  auto proxies = Proxies();
  if (proxies->nets.empty()) return;
  net::ClientAddress client = net::ResolveClientAddress(req.peer, proxies->nets, proxies->which, req.headers);
  if (!client.ignored_reason.empty()) {
    forwarded_ignored_->Inc();
    log_->debug("forwarding header ignored proxy={} header={} reason={}", req.peer,
                proxies->which == net::ProxyHeader::kForwarded ? "forwarded" : "x-forwarded-for",
                client.ignored_reason);
  }
  req.peer = std::move(client.address);
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
        ssl_ctx_ = SSL_CTX_new(TLS_server_method());
        if (ssl_ctx_ == nullptr) return Fail(ErrorCode::kInternal, "cannot create the TLS context");
        SSL_CTX_set_min_proto_version(ssl_ctx_, TLS1_2_VERSION);
        SSL_CTX_set_options(ssl_ctx_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_cipher_list(ssl_ctx_,
                                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
        SSL_CTX_set_mode(ssl_ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                       SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_cert_cb(ssl_ctx_, SslCertCallback, this);
        SSL_CTX_set_alpn_select_cb(ssl_ctx_, SelectAlpn, nullptr);
        SSL_CTX_set_client_hello_cb(ssl_ctx_, sdk::NoteAcmeTlsAlpnOffer, nullptr);
        SSL_CTX_set_session_cache_mode(ssl_ctx_, SSL_SESS_CACHE_SERVER);
        static const unsigned char kSessionContext[] = "palaver";
        SSL_CTX_set_session_id_context(ssl_ctx_, kSessionContext, sizeof kSessionContext - 1);
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
  return idle_cv_.wait_for(lock, timeout, [this] { return in_flight_.load() == 0; });
}

void NetServer::CloseAll() {
  std::vector<net::Conn*> all;
  for (auto& [id, c] : conns_) all.push_back(c.get());
  for (net::Conn* c : all) c->Close("shutdown");
  graveyard_.clear();
  dirty_.clear();
}

void NetServer::Shutdown() {
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

bool NetServer::IsLoopThread() const { return loop_thread_id_.load() == std::this_thread::get_id(); }

int NetServer::CertCallback(SSL* ssl) {
  if (!certs_) return 0;
  return sdk::UseCertificateForSni(ssl, *certs_) ? 1 : 0;
}

void NetServer::ObserveLatency(const std::string& route_class, net::Clock::duration elapsed) {
  auto it = latency_.find(route_class);
  if (it == latency_.end()) {
    sdk::Histogram* h = &metrics_.GetHistogram(
        "palaver_http_request_duration_seconds",
        "Time from a request's headers to its response's headers, by route class.", sdk::LatencyBuckets(),
        {{"route", route_class}});
    it = latency_.emplace(route_class, h).first;
  }
  it->second->ObserveDuration(elapsed);
}

void NetServer::CountRequest(const std::string& route_class, int status) {
  std::string key = route_class + "|" + std::to_string(status);
  auto it = request_counters_.find(key);
  if (it == request_counters_.end()) {
    sdk::Counter* c = &metrics_.GetCounter("palaver_http_requests_total", "HTTP requests by route class and status.",
                                           {{"route", route_class}, {"code", std::to_string(status)}});
    it = request_counters_.emplace(key, c).first;
  }
  it->second->Inc();
}

void NetServer::SweepWebSockets() {
  auto now = net::Clock::now();
  std::vector<net::WsSession*> all(websockets_.begin(), websockets_.end());
  for (net::WsSession* ws : all) {
    if (websockets_.count(ws)) ws->Sweep(now, limits_.websocket_ping_interval, limits_.websocket_timeout);
  }
  auto period = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(250),
      std::chrono::duration_cast<std::chrono::milliseconds>(limits_.websocket_ping_interval) / 4);
  Schedule(std::min<std::chrono::milliseconds>(period, std::chrono::seconds(5)), [this] { SweepWebSockets(); });
}

void NetServer::CloseWebSockets(const std::string& owner) {
  if (!running_ || IsLoopThread()) return;
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  Post([this, owner, done] {
    std::vector<net::WsSession*> all(websockets_.begin(), websockets_.end());
    for (net::WsSession* ws : all) {
      if (websockets_.count(ws)) ws->Detach(owner);
    }
    done->set_value();
  });
  future.wait_for(std::chrono::seconds(2));
}

std::shared_ptr<net::Exchange> NetServer::NewExchange(net::Conn& conn, net::Session& session) {
  auto ex = std::make_shared<net::Exchange>();
  ex->conn = &conn;
  ex->session = &session;
  ex->server = this;
  ex->request.peer = conn.peer();
  ex->request.listener = conn.spec().tls ? sdk::Listener::kHttps : sdk::Listener::kHttp;
  in_flight_++;
  return ex;
}

void NetServer::Finish(net::Exchange& ex) {
  if (ex.finished) return;
  ex.finished = true;
  ReleaseBudget(ex);
  if (access_log_.load(std::memory_order_relaxed) && !ex.request.method.empty()) {
    // The path without its query (codes, tokens and states travel there), as one safe token.
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(net::Clock::now() - ex.started).count();
    access_->info("addr={} method={} path={} status={} bytes={} ms={:.1f} proto={} route={}", ex.request.peer,
                  sdk::LogSafe(ex.request.method, 16), sdk::LogSafe(ex.request.path, 512),
                  ex.responded ? ex.response.status : 0, ex.body_pos, static_cast<double>(us) / 1000.0,
                  ex.request.http_version == 2 ? "h2" : "http/1.1", ex.route_class);
  }
  if (in_flight_.fetch_sub(1) == 1) {
    std::lock_guard lock(idle_mu_);
    idle_cv_.notify_all();
  }
}

void NetServer::ReleaseBudget(net::Exchange& ex) {
  if (ex.response_held > 0) {
    response_bytes_held_ -= static_cast<int64_t>(ex.response_held);
    response_bytes_gauge_->Add(-static_cast<int64_t>(ex.response_held));
    if (ex.conn != nullptr) ex.conn->response_bytes_held -= static_cast<int64_t>(ex.response_held);
    ex.response_held = 0;
  }
  if (ex.budget_held == 0) return;
  body_bytes_buffered_ -= static_cast<int64_t>(ex.budget_held);
  body_bytes_gauge_->Add(-static_cast<int64_t>(ex.budget_held));
  ex.budget_held = 0;
}

void NetServer::RedirectResponse(net::Exchange& ex) {
  const sdk::Request& req = ex.request;
  ex.route_class = "redirect";
  std::string host_for_redirect = redirect_.canonical_host;
  for (const auto& name : redirect_.hostnames) {
    if (name.size() == req.host.size() &&
        std::equal(name.begin(), name.end(), req.host.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      host_for_redirect = name;
      break;
    }
  }
  std::string location = "https://" + host_for_redirect;
  if (redirect_.https_port != 443) location += ":" + std::to_string(redirect_.https_port);
  location += req.path;
  if (!req.query.empty()) location += "?" + req.query;
  Deliver(ex, sdk::Response::Redirect(301, location));
}

NetServer::Next NetServer::Begin(const std::shared_ptr<net::Exchange>& ex, int64_t content_length, bool has_body) {
  sdk::Request& req = ex->request;
  if (req.method.empty()) {
    ex->close_after = true;
    Deliver(*ex, sdk::Response::Text(400, "Missing method.\n"));
    return Next::kResponded;
  }
  if (!req.host.empty() && !ValidHostHeader(req.authority)) {
    ex->close_after = true;
    Deliver(*ex, sdk::Response::Text(400, "Bad Host header.\n"));
    return Next::kResponded;
  }
  RouteMatch match = router_.Lookup(req.method, req.path, req.listener);
  // ACME HTTP-01 answers must come from the plain listener itself, never via a redirect.
  bool acme_path = req.path.rfind("/.well-known/acme-challenge/", 0) == 0;
  if (match.kind != RouteMatch::Kind::kFound && req.listener == sdk::Listener::kHttp && !acme_path) {
    RedirectResponse(*ex);
    return Next::kResponded;
  }
  if (match.kind == RouteMatch::Kind::kNotFound) {
    Deliver(*ex, sdk::Response::Text(404, "Not found.\n"));
    return Next::kResponded;
  }
  if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
    auto r = sdk::Response::Text(405, "Method not allowed.\n");
    r.SetHeader("allow", match.allow);
    Deliver(*ex, std::move(r));
    return Next::kResponded;
  }
  ex->route = match.entry;
  ex->route_class = match.entry->route.route_class;
  ex->max_body = match.entry->route.max_body_bytes;
  if (has_body && match.entry->route.head_check) {
    std::optional<sdk::Response> early;
    try {
      early = match.entry->route.head_check(req);
    } catch (const std::exception& e) {
      log_->error("head check threw route={} module={} err={}", match.entry->route.path, match.entry->owner, e.what());
      early = sdk::Response::Text(500, "Internal server error.\n");
    }
    if (early) {
      Deliver(*ex, std::move(*early));
      return Next::kResponded;
    }
  }
  if (!has_body) return Next::kDispatch;
  ex->content_length = content_length;
  if (content_length > ex->max_body) {
    Deliver(*ex, sdk::Response::Text(413, "Request body too large.\n"));
    return Next::kResponded;
  }
  return Next::kReadBody;
}

bool NetServer::AppendBody(net::Exchange& ex, std::string_view bytes) {
  std::string& body = ex.request.body;
  if (static_cast<int64_t>(body.size() + bytes.size()) > ex.max_body) {
    ex.close_after = true;
    Deliver(ex, sdk::Response::Text(413, "Request body too large.\n"));
    return false;
  }
  // The budget counts what is allocated (capacity), not just what arrived: the buffer grows by
  // doubling, up to the declared length at most, and only as bytes arrive.
  const size_t need = body.size() + bytes.size();
  if (need > body.capacity()) {
    size_t want = std::max(need, std::min<size_t>(std::max<size_t>(body.capacity() * 2, 16 * 1024),
                                                  static_cast<size_t>(ex.max_body)));
    if (ex.content_length >= 0) want = std::max(need, std::min(want, static_cast<size_t>(ex.content_length)));
    const auto charge = static_cast<int64_t>(want - body.capacity());
    if (body_bytes_buffered_ + charge > limits_.max_buffered_body_bytes) {
      log_->warn("request body refused client={} route={} reason=max_buffered_body_bytes reached", ex.request.peer,
                 ex.route_class);
      ex.close_after = true;
      auto r = sdk::Response::Text(503, "Server busy: too many request bodies in flight. Try again.\n");
      r.SetHeader("retry-after", "5");
      Deliver(ex, std::move(r));
      return false;
    }
    const size_t before = body.capacity();
    body.reserve(want);
    const auto grown = static_cast<int64_t>(body.capacity() - before);
    ex.budget_held += static_cast<size_t>(grown);
    body_bytes_buffered_ += grown;
    body_bytes_gauge_->Add(grown);
  }
  body.append(bytes);
  return true;
}

void NetServer::Dispatch(std::shared_ptr<net::Exchange> ex) {
  std::weak_ptr<net::Exchange> weak = ex;
  sdk::Responder responder = [this, weak](sdk::Response response) {
    auto deliver = [this, weak, response = std::move(response)]() mutable {
      if (auto live = weak.lock()) Deliver(*live, std::move(response));
    };
    if (IsLoopThread()) deliver();
    else Post(std::move(deliver));
  };
  try {
    ex->route->handler(ex->request, std::move(responder));
  } catch (const std::exception& e) {
    log_->error("handler threw route={} module={} err={}", ex->route->route.path, ex->route->owner, e.what());
    Deliver(*ex, sdk::Response::Text(500, "Internal server error.\n"));
  } catch (...) {
    log_->error("handler threw route={} module={}", ex->route->route.path, ex->route->owner);
    Deliver(*ex, sdk::Response::Text(500, "Internal server error.\n"));
  }
}

void NetServer::Deliver(net::Exchange& ex, sdk::Response response) {
  if (ex.responded) return;
  ex.responded = true;
  try {
    router_.ApplyFilters(ex.request, response);
  } catch (const std::exception& e) {
    log_->error("response filter threw err={}", e.what());
  }
  if (ex.request.method == "HEAD") response.head_only = true;
  if (response.file && !response.head_only) {
    ex.file_fd = ::open(response.file->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ex.file_fd < 0) {
      log_->warn("cannot open file for response path={} err={}", response.file->path, std::strerror(errno));
      response = sdk::Response::Text(500, "Internal server error.\n");
    }
  }
  // A body built for this response is held until the client has read it: bounded per
  // connection and server-wide (a client that opens many streams and never reads must not make
  // the server hold every answer).
  if (!response.body.empty() && !response.head_only && ex.conn != nullptr) {
    const auto n = static_cast<int64_t>(response.body.size());
    if (ex.conn->response_bytes_held + n > limits_.max_held_response_bytes_per_connection ||
        response_bytes_held_ + n > limits_.max_held_response_bytes) {
      responses_refused_->Inc();
      log_->debug("response refused client={} route={} bytes={} reason=too many response bytes held",
                  ex.request.peer, ex.route_class, n);
      response = sdk::Response::Text(503, "Server busy: read the answers you asked for first.\n");
      response.SetHeader("retry-after", "5");
    } else {
      ex.response_held = static_cast<size_t>(n);
      ex.conn->response_bytes_held += n;
      response_bytes_held_ += n;
      response_bytes_gauge_->Add(n);
    }
  }
  CountRequest(ex.route_class, response.status);
  ObserveLatency(ex.route_class, net::Clock::now() - ex.started);
  ex.response = std::move(response);
  if (ex.session != nullptr) ex.session->OnResponse(ex);
}

}  // namespace palaver::host
