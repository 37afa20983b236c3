#include "net_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <future>

#include <libwebsockets.h>
#include <spdlog/spdlog.h>

namespace palaver::host {

struct Exchange {
  lws* wsi = nullptr;
  sdk::Request request;
  std::shared_ptr<const RouteEntry> route;
  std::string route_class = "none";
  int64_t max_body = 0;
  bool reading_body = false;
  bool discarding = false;  // reading a too-large body only to answer 413 cleanly
  bool responded = false;
  bool close_after = false;
  bool headers_sent = false;
  sdk::Response response;
  uint64_t body_pos = 0;
  int file_fd = -1;
  ~Exchange() {
    if (file_fd >= 0) ::close(file_fd);
  }
};

struct TimerEntry {
  lws_sorted_usec_list_t sul;  // first member: the callback gets a pointer to it
  uint64_t id = 0;
  NetServer* server = nullptr;
  std::function<void()> fn;
};

class RawConn final : public sdk::RawConnection {
 public:
  static constexpr size_t kMaxQueuedBytes = 1 << 20;
  RawConn(lws* wsi, uint64_t id, std::string peer, std::string peer_endpoint, std::string local_endpoint)
      : wsi_(wsi),
        id_(id),
        peer_(std::move(peer)),
        peer_endpoint_(std::move(peer_endpoint)),
        local_endpoint_(std::move(local_endpoint)) {}
  bool Send(std::span<const uint8_t> bytes) override {
    if (queued_ + bytes.size() > kMaxQueuedBytes) return false;
    std::vector<uint8_t> buf(LWS_PRE + bytes.size());
    std::memcpy(buf.data() + LWS_PRE, bytes.data(), bytes.size());
    queued_ += bytes.size();
    queue_.push_back(std::move(buf));
    lws_callback_on_writable(wsi_);
    return true;
  }
  void Close() override {
    closing_ = true;
    lws_callback_on_writable(wsi_);
  }
  const std::string& Peer() const override { return peer_; }
  const std::string& PeerEndpoint() const override { return peer_endpoint_; }
  const std::string& LocalEndpoint() const override { return local_endpoint_; }
  uint64_t Id() const override { return id_; }

  // Loop only: writes one queued buffer. Returns -1 to close.
  int Write() {
    if (!queue_.empty()) {
      auto& buf = queue_.front();
      size_t n = buf.size() - LWS_PRE;
      if (lws_write(wsi_, buf.data() + LWS_PRE, n, LWS_WRITE_RAW) < static_cast<int>(n)) return -1;
      queued_ -= n;
      queue_.pop_front();
    }
    if (!queue_.empty()) {
      lws_callback_on_writable(wsi_);
      return 0;
    }
    return closing_ ? -1 : 0;
  }

 private:
  lws* wsi_;
  uint64_t id_;
  std::string peer_;
  std::string peer_endpoint_;
  std::string local_endpoint_;
  std::deque<std::vector<uint8_t>> queue_;
  size_t queued_ = 0;
  bool closing_ = false;
};

// One WebSocket. Thread: net loop only.
class WsConn final : public sdk::WebSocket {
 public:
  WsConn(NetServer& server, lws* wsi, uint64_t id, std::shared_ptr<const WebSocketEntry> entry, sdk::Request request)
      : server_(server), wsi_(wsi), id_(id), entry_(std::move(entry)), request_(std::move(request)) {}

  bool Send(std::string_view text) override {
    return Queue(reinterpret_cast<const uint8_t*>(text.data()), text.size(), LWS_WRITE_TEXT);
  }
  bool SendBinary(std::span<const uint8_t> bytes) override { return Queue(bytes.data(), bytes.size(), LWS_WRITE_BINARY); }
  void Close(int code, std::string_view reason) override {
    if (closing_) return;
    closing_ = true;
    close_code_ = code;
    close_reason_ = std::string(reason.substr(0, 120));
    // A peer that never lets us write the close frame is dropped after a few seconds.
    lws_set_timeout(wsi_, PENDING_TIMEOUT_CLOSE_SEND, 5);
    lws_callback_on_writable(wsi_);
  }
  uint64_t Id() const override { return id_; }
  const std::string& Peer() const override { return request_.peer; }
  const sdk::Request& UpgradeRequest() const override { return request_; }
  size_t QueuedBytes() const override { return queued_; }

  // Writes a pending PING, one queued message, or the close frame. Returns -1 to close.
  int Write() {
    if (ping_pending_ && !closing_) {
      ping_pending_ = false;
      // An 8-byte counter as payload (libwebsockets reports empty PONGs to nobody).
      unsigned char frame[LWS_PRE + 8] = {};
      uint64_t n = ++pings_sent_;
      std::memcpy(frame + LWS_PRE, &n, sizeof n);
      if (lws_write(wsi_, frame + LWS_PRE, sizeof n, LWS_WRITE_PING) < 0) return -1;
      if (!queue_.empty()) lws_callback_on_writable(wsi_);
      return 0;
    }
    if (!queue_.empty()) {
      auto& [buf, type] = queue_.front();
      size_t n = buf.size() - LWS_PRE;
      if (lws_write(wsi_, buf.data() + LWS_PRE, n, type) < static_cast<int>(n)) return -1;
      queued_ -= n;
      queue_.pop_front();
      server_.ws_out_->Inc();
      if (!queue_.empty() || closing_) lws_callback_on_writable(wsi_);
      return 0;
    }
    if (closing_) {
      lws_close_reason(wsi_, static_cast<lws_close_status>(close_code_),
                       reinterpret_cast<unsigned char*>(close_reason_.data()), close_reason_.size());
      return -1;
    }
    return 0;
  }

  const std::shared_ptr<const WebSocketEntry>& Entry() const { return entry_; }
  // Asks for a PING frame ahead of queued messages (keepalive / dead-peer detection).
  void Ping() {
    if (closing_ || ping_pending_) return;
    ping_pending_ = true;
    lws_callback_on_writable(wsi_);
  }
  std::chrono::steady_clock::time_point last_rx = std::chrono::steady_clock::now();
  bool open = false;
  bool detached = false;  // the owning module stopped: no more handler calls
  std::string partial;
  bool partial_binary = false;

 private:
  bool Queue(const uint8_t* data, size_t size, lws_write_protocol type) {
    if (closing_) return false;
    if (queued_ + size > entry_->route.max_queued_bytes) {
      server_.ws_slow_closed_->Inc();
      queue_.clear();
      queued_ = 0;
      Close(LWS_CLOSE_STATUS_POLICY_VIOLATION, "send queue full");
      return false;
    }
    std::vector<uint8_t> buf(LWS_PRE + size);
    if (size > 0) std::memcpy(buf.data() + LWS_PRE, data, size);
    queue_.emplace_back(std::move(buf), type);
    queued_ += size;
    lws_callback_on_writable(wsi_);
    return true;
  }

  NetServer& server_;
  lws* wsi_;
  uint64_t id_;
  std::shared_ptr<const WebSocketEntry> entry_;
  sdk::Request request_;
  std::deque<std::pair<std::vector<uint8_t>, lws_write_protocol>> queue_;
  size_t queued_ = 0;
  bool closing_ = false;
  bool ping_pending_ = false;
  uint64_t pings_sent_ = 0;
  int close_code_ = LWS_CLOSE_STATUS_NORMAL;
  std::string close_reason_;
};

namespace {

constexpr size_t kChunk = 32 * 1024;
constexpr size_t kH2Chunk = 16 * 1024;
constexpr uint64_t kInlineBody = 16 * 1024;
// Bodies over a route's limit but under this are read and dropped before the 413 is sent.
constexpr int64_t kMaxDiscardBytes = 8 * 1024 * 1024;

int HttpCallback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* server = static_cast<NetServer*>(lws_context_user(lws_get_context(wsi)));
  if (server == nullptr) return lws_callback_http_dummy(wsi, reason, user, in, len);
  return server->OnHttpCallback(wsi, static_cast<int>(reason), user, in, len);
}

int RawCallback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* server = static_cast<NetServer*>(lws_context_user(lws_get_context(wsi)));
  if (server == nullptr) return 0;
  return server->OnRawCallback(wsi, static_cast<int>(reason), user, in, len);
}

void TimerCallback(lws_sorted_usec_list_t* sul) {
  auto* timer = reinterpret_cast<TimerEntry*>(sul);
  timer->server->FireTimer(timer);
}

int SslCertCallback(SSL* ssl, void* arg) { return static_cast<NetServer*>(arg)->CertCallback(ssl); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string PeerOf(lws* wsi) {
  char buf[64] = {0};
  lws* net = lws_get_network_wsi(wsi);
  lws_get_peer_simple(net ? net : wsi, buf, sizeof buf);
  std::string peer = buf;
  if (peer.rfind("::ffff:", 0) == 0) peer = peer.substr(7);
  return peer;
}

std::string PeerOfSockaddr(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, buf, sizeof buf);
  }
  std::string peer = buf;
  if (peer.rfind("::ffff:", 0) == 0) peer = peer.substr(7);
  return peer;
}

// "192.0.2.1:443" / "[2001:db8::1]:443" (IPv4-mapped IPv6 as IPv4); empty if unknown.
std::string EndpointOf(const sockaddr_storage& ss) {
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  } else if (ss.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  } else {
    return {};
  }
  std::string ip = PeerOfSockaddr(ss);
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

std::pair<std::string, std::string> EndpointsOf(lws* wsi) {
  lws* net = lws_get_network_wsi(wsi);
  int fd = lws_get_socket_fd(net ? net : wsi);
  sockaddr_storage peer{}, local{};
  socklen_t plen = sizeof(peer), llen = sizeof(local);
  std::pair<std::string, std::string> out;
  if (fd >= 0 && getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) out.first = EndpointOf(peer);
  if (fd >= 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) == 0) out.second = EndpointOf(local);
  return out;
}

std::string CopyHeader(lws* wsi, lws_token_indexes token) {
  int n = lws_hdr_total_length(wsi, token);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n) + 1, '\0');
  int got = lws_hdr_copy(wsi, out.data(), n + 1, token);
  if (got < 0) return {};
  out.resize(static_cast<size_t>(got));
  return out;
}

// Headers lws does not know as tokens but that our modules read.
constexpr std::array<const char*, 6> kCustomHeaders = {"kopano-xsrf:", "kopano-konnect-xsrf:", "x-forwarded-for:",
                                                       "x-real-ip:", "x-requested-with:", "x-csrf-token:"};

bool ValidHostHeader(const std::string& host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

std::string StripPort(const std::string& authority) {
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    return close == std::string::npos ? authority : authority.substr(0, close + 1);
  }
  auto colon = authority.find(':');
  return colon == std::string::npos ? authority : authority.substr(0, colon);
}

void LwsLog(int level, const char* line) {
  static auto log = spdlog::get("net");
  if (!log) return;
  std::string_view msg(line);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.remove_suffix(1);
  if (level & LLL_ERR) log->debug("lws: {}", msg);  // per-connection failures: debug + metrics
  else log->trace("lws: {}", msg);  // warnings and, with PALAVER_LWS_LOGLEVEL, more
}

}  // namespace

NetServer::NetServer(ServerLimits limits, RouterImpl& router, MetricsRegistry& metrics,
                     std::shared_ptr<spdlog::logger> log)
    : limits_(limits), router_(router), metrics_(metrics), log_(std::move(log)) {
  connections_open_ = &metrics_.GetGauge("http_connections_open", "Open client connections.");
  header_timeouts_ = &metrics_.GetCounter("http_header_timeouts_total",
                                          "Connections closed for not sending request headers in time.");
  ws_open_ = &metrics_.GetGauge("http_websockets_open", "Open WebSocket connections.");
  ws_in_ = &metrics_.GetCounter("http_websocket_messages_total", "WebSocket messages.", {{"direction", "in"}});
  ws_out_ = &metrics_.GetCounter("http_websocket_messages_total", "WebSocket messages.", {{"direction", "out"}});
  ws_slow_closed_ = &metrics_.GetCounter("http_websocket_slow_readers_closed_total",
                                         "WebSockets closed because the peer read too slowly.");
  ws_dead_closed_ = &metrics_.GetCounter("http_websocket_dead_peers_closed_total",
                                         "WebSockets dropped after websocket_timeout without a message or pong.");
  ws_oversized_ = &metrics_.GetCounter("http_websocket_oversized_messages_total",
                                       "WebSockets closed for a message over the endpoint's limit.");
  connections_refused_ = &metrics_.GetCounter("http_connections_refused_total",
                                              "Connections refused (per-address or total limit, draining).");
}

NetServer::~NetServer() { Shutdown(); }

Status NetServer::Create() {
  // libwebsockets' own log (mask of LLL_* bits) for debugging; routed to the `net` logger.
  int lws_mask = LLL_ERR | LLL_WARN;
  if (const char* env = std::getenv("PALAVER_LWS_LOGLEVEL")) lws_mask = std::atoi(env);
  lws_set_log_level(lws_mask, LwsLog);
  protocols_ = std::make_unique<lws_protocols[]>(3);
  // rx_buffer_size: each WebSocket gets a receive buffer this big (0 would mean
  // pt_serv_buf_size, 64 KB per socket, of which a signaling client touches ~7 KB). Larger
  // messages arrive in several callbacks and are reassembled. tx_packet_size stays at the
  // service buffer (it would default to rx_buffer_size and cut HTTP/2 writes).
  protocols_[0] = lws_protocols{"palaver-http", HttpCallback, 0, 4096, 0, nullptr, 64 * 1024};
  protocols_[1] = lws_protocols{"palaver-raw", RawCallback, 0, 0, 0, nullptr, 0};
  protocols_[2] = lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0};

  lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                 LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.user = this;
  // lws drops a connection whose headers overflow its buffer; give it headroom over
  // max_header_bytes and enforce that limit ourselves, so an oversized request gets a 431. (The
  // buffer is allocated per connection and per HTTP/2 stream: 64 KB cost 25 % more CPU per TLS
  // handshake than 16 KB in bench/static-h2.sh's handshake set.)
  info.max_http_header_data = static_cast<unsigned short>(std::min(limits_.max_header_bytes + 8192, 65535));
  info.max_http_header_pool = 0;
  info.timeout_secs = static_cast<unsigned int>(limits_.header_timeout.count());
  info.timeout_secs_ah_idle = static_cast<unsigned int>(limits_.header_timeout.count());
  info.keepalive_timeout = static_cast<int>(limits_.idle_timeout.count());
  // 0: size libwebsockets' fd table by the process's fd limit, which makes finding the
  // connection of a ready fd a direct index (a smaller table means a linear search per event).
  // max_connections is enforced at accept.
  info.fd_limit_per_thread = 0;
  info.count_threads = 1;
  // Per-thread service buffer; it bounds one TLS read/write, so it must hold an HTTP/2 frame.
  info.pt_serv_buf_size = 64 * 1024;
  context_ = lws_create_context(&info);
  if (context_ == nullptr) return Fail(ErrorCode::kInternal, "cannot create the network context");
  return OkStatus();
}

Status NetServer::Listen(const std::vector<ListenerSpec>& listeners,
                         std::shared_ptr<sdk::CertificateProvider> certs, RedirectTarget redirect,
                         std::shared_ptr<sdk::RawConnectionHandler> raw_fallback) {
  certs_ = std::move(certs);
  redirect_ = std::move(redirect);
  raw_handler_ = std::move(raw_fallback);
  for (const auto& spec : listeners) {
    listener_specs_.push_back(std::make_unique<ListenerSpec>(spec));
    const ListenerSpec& s = *listener_specs_.back();
    lws_context_creation_info vi;
    std::memset(&vi, 0, sizeof vi);
    vi.vhost_name = s.name.c_str();
    vi.port = s.port;
    vi.iface = s.address.empty() ? nullptr : s.address.c_str();
    vi.protocols = protocols_.get();
    vi.user = listener_specs_.back().get();
    vi.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    // An IPv4 listen address: an IPv4 socket. libwebsockets 4.1 otherwise opens an IPv6 socket and
    // writes the IPv4 address where the IPv6 one belongs, leaving "::" — every address.
    in_addr v4{};
    if (!s.address.empty() && inet_pton(AF_INET, s.address.c_str(), &v4) == 1) {
      vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }
    // No libwebsockets validity timers: each one is re-armed on every received frame with a
    // sorted-list insert that walks every other connection's timer (O(connections) per
    // message; at 10,000 WebSockets that was most of a core). SweepWebSockets pings and drops
    // silent WebSockets instead, with one pass every few seconds.
    static const lws_retry_bo_t kNoValidityTimers = {nullptr, 0, 0, 0, 0, 0};
    vi.retry_and_idle_policy = &kNoValidityTimers;
    std::shared_ptr<const sdk::TlsIdentity> identity;
    if (s.tls) {
      if (!certs_) return Fail(ErrorCode::kFailedPrecondition, "listener " + s.name + " needs TLS but the tls module is off");
      identity = certs_->ForName("");
      if (!identity) return Fail(ErrorCode::kFailedPrecondition, "no certificate available for listener " + s.name);
      vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
      vi.server_ssl_cert_mem = identity->chain_pem.data();
      vi.server_ssl_cert_mem_len = static_cast<unsigned int>(identity->chain_pem.size());
      vi.server_ssl_private_key_mem = identity->key_pem.data();
      vi.server_ssl_private_key_mem_len = static_cast<unsigned int>(identity->key_pem.size());
      vi.alpn = "h2,http/1.1";
      vi.ssl_cipher_list =
          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
          "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
      vi.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION;
      if (raw_handler_) {
        vi.options |= LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG |
                      LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT;
        vi.listen_accept_role = "raw-skt";
        vi.listen_accept_protocol = "palaver-raw";
      }
    }
    lws_vhost* vh = lws_create_vhost(context_, &vi);
    if (vh == nullptr) {
      return Fail(ErrorCode::kUnavailable,
                  "cannot listen on " + (s.address.empty() ? std::string("*") : s.address) + ":" +
                      std::to_string(s.port) + " (" + s.name + "): address in use or not permitted");
    }
    vhosts_[s.name] = vh;
    bound_ports_[s.name] = lws_get_vhost_listen_port(vh);
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

void NetServer::SweepHeaderTimeouts() {
  // One sorted-by-accept-time queue and one timer for every connection: a per-connection
  // libwebsockets timer costs a sorted-list insert per accept, O(connections) each.
  auto deadline = std::chrono::steady_clock::now() - limits_.header_timeout;
  while (!awaiting_first_request_.empty() && awaiting_first_request_.front().second <= deadline) {
    auto [wsi, accepted] = awaiting_first_request_.front();
    awaiting_first_request_.pop_front();
    auto it = connection_peers_.find(wsi);
    // A reused lws pointer belongs to a newer connection with a later accept time.
    if (it == connection_peers_.end() || it->second.got_request || it->second.accepted != accepted) continue;
    log_->debug("closing connection client={} reason=header_timeout", it->second.peer);
    header_timeouts_->Inc();
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
  }
  Schedule(std::chrono::milliseconds(250), [this] { SweepHeaderTimeouts(); });
}

// Keepalive and dead-peer detection for WebSockets: O(connections) once per sweep, O(1) per
// message (a timestamp).
void NetServer::SweepWebSockets() {
  auto now = std::chrono::steady_clock::now();
  for (auto& [wsi, conn] : ws_conns_) {
    if (!conn->open) continue;
    auto silent = now - conn->last_rx;
    if (silent >= limits_.websocket_timeout) {
      log_->debug("closing websocket client={} reason=no_pong", conn->Peer());
      ws_dead_closed_->Inc();
      lws_set_timeout(wsi, PENDING_TIMEOUT_WS_PONG_CHECK_GET_PONG, LWS_TO_KILL_ASYNC);
    } else if (silent >= limits_.websocket_ping_interval) {
      conn->Ping();
    }
  }
  auto period = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(250),
                                                     std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         limits_.websocket_ping_interval) / 4);
  Schedule(std::min<std::chrono::milliseconds>(period, std::chrono::seconds(5)), [this] { SweepWebSockets(); });
}

void NetServer::Run() {
  pthread_setname_np(pthread_self(), "palaver-net");
  loop_thread_id_ = std::this_thread::get_id();
  Schedule(std::chrono::milliseconds(250), [this] { SweepHeaderTimeouts(); });
  Schedule(std::chrono::seconds(1), [this] { SweepWebSockets(); });
  DrainPosts();
  while (!stop_.load()) {
    if (lws_service(context_, 0) < 0) break;
  }
  loop_thread_id_ = std::thread::id();
}

void NetServer::BeginDrain() {
  draining_ = true;
  // Wake the loop so idle keep-alive connections notice; closing them happens on their next event
  // or their keep-alive timeout.
  if (context_) lws_cancel_service(context_);
}

bool NetServer::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(idle_mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return in_flight_.load() == 0; });
}

void NetServer::Shutdown() {
  if (thread_.joinable()) {
    stop_ = true;
    lws_cancel_service(context_);
    thread_.join();
  }
  running_ = false;
  if (context_ != nullptr) {
    // Destroying the context closes every connection; the callbacks it triggers run here, and
    // must not reach modules that have stopped.
    destroying_ = true;
    lws_context_destroy(context_);
    context_ = nullptr;
  }
  exchanges_.clear();
  timers_.clear();
  raw_conns_.clear();
  ws_conns_.clear();
}

void NetServer::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(post_mu_);
    if (stop_) return;
    posts_.push_back(std::move(fn));
  }
  if (running_ && context_ != nullptr) lws_cancel_service(context_);
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
  Post([this, id, delay, fn = std::move(fn)]() mutable {
    auto entry = std::make_unique<TimerEntry>();
    std::memset(&entry->sul, 0, sizeof entry->sul);
    entry->id = id;
    entry->server = this;
    entry->fn = std::move(fn);
    lws_sul_schedule(context_, 0, &entry->sul, TimerCallback,
                     static_cast<lws_usec_t>(delay.count()) * LWS_US_PER_MS);
    timers_[id] = std::move(entry);
  });
  return id;
}

void NetServer::Cancel(TimerId id) {
  Post([this, id] {
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    lws_sul_cancel(&it->second->sul);
    timers_.erase(it);
  });
}

void NetServer::FireTimer(TimerEntry* timer) {
  auto it = timers_.find(timer->id);
  if (it == timers_.end()) return;
  auto fn = std::move(it->second->fn);
  timers_.erase(it);
  try {
    fn();
  } catch (const std::exception& e) {
    log_->error("timer task threw err={}", e.what());
  }
}

bool NetServer::IsLoopThread() const { return loop_thread_id_.load() == std::this_thread::get_id(); }

int NetServer::CertCallback(void* ssl_ptr) {
  if (!certs_) return 0;
  return sdk::UseCertificateForSni(static_cast<SSL*>(ssl_ptr), *certs_) ? 1 : 0;
}

void NetServer::CountRequest(const std::string& route_class, int status) {
  std::string key = route_class + "|" + std::to_string(status);
  auto it = request_counters_.find(key);
  if (it == request_counters_.end()) {
    sdk::Counter* c = &metrics_.GetCounter("http_requests_total", "HTTP requests by route class and status.",
                                           {{"route", route_class}, {"code", std::to_string(status)}});
    it = request_counters_.emplace(key, c).first;
  }
  it->second->Inc();
}

int NetServer::OnHttpCallback(lws* wsi, int reason_int, void* user, void* in, size_t len) {
  auto reason = static_cast<lws_callback_reasons>(reason_int);
  switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      DrainPosts();
      return 0;

    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
      SSL_CTX_set_cert_cb(static_cast<SSL_CTX*>(user), SslCertCallback, this);
      return 0;

    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
      auto* args = static_cast<lws_filter_network_conn_args*>(user);
      if (draining_) {
        connections_refused_->Inc();
        return 1;
      }
      std::string peer = args ? PeerOfSockaddr(args->cli_addr) : std::string();
      if (static_cast<int>(connection_peers_.size()) >= limits_.max_connections ||
          connections_per_ip_[peer] >= limits_.max_connections_per_ip) {
        connections_refused_->Inc();
        log_->debug("connection refused client={} reason=limit", peer);
        return 1;
      }
      return 0;
    }

    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: {
      std::string peer = PeerOf(wsi);
      // The client has header_timeout to complete its first request's headers (TLS handshake
      // included), enforced by SweepHeaderTimeouts; later requests on the connection are
      // bounded by idle_timeout.
      connection_peers_[wsi] = ConnInfo{peer, false, std::chrono::steady_clock::now()};
      awaiting_first_request_.push_back({wsi, connection_peers_[wsi].accepted});
      connections_per_ip_[peer]++;
      connections_open_->Add(1);
      return 0;
    }

    case LWS_CALLBACK_WSI_DESTROY: {
      ForgetConnection(wsi);
      Finish(wsi);
      if (auto ws = ws_conns_.find(wsi); ws != ws_conns_.end()) {
        OnWebSocketCallback(wsi, LWS_CALLBACK_CLOSED, nullptr, 0);
      }
      return 0;
    }

    case LWS_CALLBACK_HTTP:
      return StartRequest(wsi, static_cast<const char*>(in));

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_RECEIVE_PONG:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
      return OnWebSocketCallback(wsi, reason_int, in, len);

    case LWS_CALLBACK_HTTP_BODY: {
      auto it = exchanges_.find(wsi);
      if (it == exchanges_.end() || !it->second->reading_body) return 0;
      Exchange& ex = *it->second;
      if (ex.discarding) {
        if (lws_get_network_wsi(wsi) != wsi) lws_h2_update_peer_txcredit(wsi, LWS_H2_STREAM_SID, static_cast<int>(len));
        return 0;
      }
      if (static_cast<int64_t>(ex.request.body.size() + len) > ex.max_body) {
        ex.reading_body = false;
        ex.close_after = true;
        Deliver(ex, sdk::Response::Text(413, "Request body too large.\n"));
        return 0;
      }
      ex.request.body.append(static_cast<const char*>(in), len);
      // libwebsockets 4.1 grants an HTTP/2 stream 256 KB of receive credit up front and does
      // not replenish it: give back what we consumed, or larger uploads stall.
      if (lws_get_network_wsi(wsi) != wsi) lws_h2_update_peer_txcredit(wsi, LWS_H2_STREAM_SID, static_cast<int>(len));
      return 0;
    }

    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
      auto it = exchanges_.find(wsi);
      if (it == exchanges_.end() || !it->second->reading_body) return 0;
      it->second->reading_body = false;
      lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
      if (it->second->discarding) {
        Deliver(*it->second, sdk::Response::Text(413, "Request body too large.\n"));
        return 0;
      }
      Dispatch(it->second);
      return 0;
    }

    case LWS_CALLBACK_HTTP_WRITEABLE:
      return Writeable(wsi);

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      Finish(wsi);
      return 0;

    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

void NetServer::FillRequest(lws* wsi, const char* uri, sdk::Request& req) {
  static const char* kMethods[] = {"GET", "POST", "OPTIONS", "PUT", "PATCH", "DELETE", "CONNECT", "HEAD"};

  char* uri_ptr = nullptr;
  int uri_len = 0;
  int meth = lws_http_get_uri_and_method(wsi, &uri_ptr, &uri_len);
  if (meth == LWSHUMETH_COLON_PATH) {
    req.method = CopyHeader(wsi, WSI_TOKEN_HTTP_COLON_METHOD);
    req.http_version = 2;
  } else if (meth >= 0 && meth < static_cast<int>(std::size(kMethods))) {
    req.method = kMethods[meth];
    req.http_version = lws_get_network_wsi(wsi) != wsi ? 2 : 1;
  }
  req.path = uri != nullptr ? uri : "/";
  if (req.path.empty() || req.path[0] != '/') req.path = "/" + req.path;

  // Query: lws keeps the arguments url-decoded, one fragment each; re-encode them.
  std::string frag;
  for (int i = 0;; ++i) {
    int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (flen <= 0) break;
    frag.assign(static_cast<size_t>(flen) + 1, '\0');
    int n = lws_hdr_copy_fragment(wsi, frag.data(), flen + 1, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    std::string_view f(frag.data(), static_cast<size_t>(n));
    size_t eq = f.find('=');
    if (!req.query.empty()) req.query += '&';
    req.query += sdk::PercentEncode(f.substr(0, eq));
    if (eq != std::string_view::npos) req.query += "=" + sdk::PercentEncode(f.substr(eq + 1));
  }

  for (int t = 0; t < WSI_TOKEN_COUNT; ++t) {
    auto token = static_cast<lws_token_indexes>(t);
    if (token == WSI_TOKEN_HTTP_URI_ARGS) continue;
    if (lws_hdr_total_length(wsi, token) <= 0) continue;
    if (token == WSI_TOKEN_HTTP_COLON_AUTHORITY) {
      // HTTP/2's Host.
      req.headers.emplace_back("host", CopyHeader(wsi, token));
      continue;
    }
    const char* name = reinterpret_cast<const char*>(lws_token_to_string(token));
    if (name == nullptr || name[0] == ':') continue;  // other pseudo-headers
    size_t nlen = std::strlen(name);
    if (nlen < 2 || name[nlen - 1] != ':') continue;  // method/URI tokens look like "get "
    req.headers.emplace_back(Lower(std::string(name, nlen - 1)), CopyHeader(wsi, token));
  }
  for (const char* custom : kCustomHeaders) {
    int clen = static_cast<int>(std::strlen(custom));
    int n = lws_hdr_custom_length(wsi, custom, clen);
    if (n <= 0) continue;
    std::string value(static_cast<size_t>(n) + 1, '\0');
    if (lws_hdr_custom_copy(wsi, value.data(), n + 1, custom, clen) < 0) continue;
    value.resize(static_cast<size_t>(n));
    req.headers.emplace_back(std::string(custom, static_cast<size_t>(clen - 1)), std::move(value));
  }

  // The peer of the network connection, looked up once per connection (not per request).
  if (auto conn = connection_peers_.find(lws_get_network_wsi(wsi)); conn != connection_peers_.end()) {
    req.peer = conn->second.peer;
  } else {
    req.peer = PeerOf(wsi);
  }
  const auto* spec = static_cast<const ListenerSpec*>(lws_get_vhost_user(lws_get_vhost(wsi)));
  req.listener = (spec != nullptr && spec->tls && lws_is_ssl(wsi)) ? sdk::Listener::kHttps : sdk::Listener::kHttp;
  auto host = req.Header("host");
  req.authority = host ? Lower(std::string(*host)) : std::string();
  req.host = StripPort(req.authority);
}

int NetServer::StartRequest(lws* wsi, const char* uri) {
  auto ex = std::make_shared<Exchange>();
  ex->wsi = wsi;
  sdk::Request& req = ex->request;
  FillRequest(wsi, uri, req);

  if (auto conn = connection_peers_.find(lws_get_network_wsi(wsi)); conn != connection_peers_.end()) {
    conn->second.got_request = true;
  }
  exchanges_[wsi] = ex;
  in_flight_++;
  lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);

  if (req.method.empty()) {
    ex->close_after = true;
    Deliver(*ex, sdk::Response::Text(501, "Method not implemented.\n"));
    return 0;
  }
  size_t header_bytes = req.path.size() + req.query.size();
  for (const auto& [n, v] : req.headers) header_bytes += n.size() + v.size() + 4;
  if (header_bytes > static_cast<size_t>(limits_.max_header_bytes)) {
    ex->close_after = true;
    Deliver(*ex, sdk::Response::Text(431, "Request header fields too large.\n"));
    return 0;
  }
  if (!req.host.empty() && !ValidHostHeader(req.authority)) {
    ex->close_after = true;
    Deliver(*ex, sdk::Response::Text(400, "Bad Host header.\n"));
    return 0;
  }

  RouteMatch match = router_.Lookup(req.method, req.path, req.listener);
  // ACME HTTP-01 answers must come from the plain listener itself, never via a redirect.
  bool acme_path = req.path.rfind("/.well-known/acme-challenge/", 0) == 0;
  if (match.kind != RouteMatch::Kind::kFound && req.listener == sdk::Listener::kHttp && !acme_path) {
    ex->route_class = "redirect";
    std::string host_for_redirect = ValidHostHeader(req.host) && !req.host.empty() ? req.host : redirect_.canonical_host;
    std::string location = "https://" + host_for_redirect;
    if (redirect_.https_port != 443) location += ":" + std::to_string(redirect_.https_port);
    location += req.path;
    if (!req.query.empty()) location += "?" + req.query;
    Deliver(*ex, sdk::Response::Redirect(301, location));
    return 0;
  }
  if (match.kind == RouteMatch::Kind::kNotFound) {
    Deliver(*ex, sdk::Response::Text(404, "Not found.\n"));
    return 0;
  }
  if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
    auto r = sdk::Response::Text(405, "Method not allowed.\n");
    r.SetHeader("allow", match.allow);
    Deliver(*ex, std::move(r));
    return 0;
  }
  ex->route = match.entry;
  ex->route_class = match.entry->route.route_class;
  ex->max_body = match.entry->route.max_body_bytes;

  if (req.Header("transfer-encoding")) {
    ex->close_after = true;
    Deliver(*ex, sdk::Response::Text(411, "Length required: chunked request bodies are not accepted.\n"));
    return 0;
  }
  if (auto cl = req.Header("content-length")) {
    int64_t n = -1;
    try {
      size_t used = 0;
      n = std::stoll(std::string(*cl), &used);
      if (used != cl->size()) n = -1;
    } catch (...) {
      n = -1;
    }
    if (n < 0) {
      ex->close_after = true;
      Deliver(*ex, sdk::Response::Text(400, "Bad Content-Length.\n"));
      return 0;
    }
    if (n > ex->max_body) {
      if (n > kMaxDiscardBytes) {
        ex->close_after = true;
        Deliver(*ex, sdk::Response::Text(413, "Request body too large.\n"));
        return 0;
      }
      // Read and drop the body, then answer: closing with unread data makes the kernel reset
      // the connection, and the client may never see the 413.
      ex->discarding = true;
      ex->reading_body = true;
      lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, static_cast<int>(limits_.body_timeout.count()));
      return 0;
    }
    if (n > 0) {
      ex->reading_body = true;
      ex->request.body.reserve(static_cast<size_t>(n));
      lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, static_cast<int>(limits_.body_timeout.count()));
      return 0;
    }
  }
  Dispatch(ex);
  return 0;
}

void NetServer::Dispatch(const std::shared_ptr<Exchange>& ex) {
  std::weak_ptr<Exchange> weak = ex;
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

void NetServer::Deliver(Exchange& ex, sdk::Response response) {
  if (ex.responded) return;
  ex.responded = true;
  try {
    router_.ApplyFilters(ex.request, response);
  } catch (const std::exception& e) {
    log_->error("response filter threw err={}", e.what());
  }
  if (ex.request.method == "HEAD") response.head_only = true;
  if (response.file) {
    ex.file_fd = ::open(response.file->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ex.file_fd < 0) {
      log_->warn("cannot open file for response path={} err={}", response.file->path, std::strerror(errno));
      response = sdk::Response::Text(500, "Internal server error.\n");
    }
  }
  CountRequest(ex.route_class, response.status);
  ex.response = std::move(response);
  lws_callback_on_writable(ex.wsi);
}

int NetServer::Writeable(lws* wsi) {
  auto it = exchanges_.find(wsi);
  if (it == exchanges_.end()) return 0;
  std::shared_ptr<Exchange> ex = it->second;
  if (!ex->responded) return 0;
  sdk::Response& r = ex->response;
  const uint64_t total = r.ContentLength();
  const bool no_body = r.status == 204 || r.status == 304 || r.status < 200;

  if (!ex->headers_sent) {
    size_t need = 512;
    for (const auto& [n, v] : r.headers) need += n.size() + v.size() + 8;
    std::vector<unsigned char> buf(LWS_PRE + need);
    unsigned char* start = buf.data() + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf.data() + buf.size() - 1;
    if (lws_add_http_header_status(wsi, static_cast<unsigned int>(r.status), &p, end)) return -1;
    for (const auto& [name, value] : r.headers) {
      if (name == "content-length") continue;
      std::string hn = name + ":";
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(hn.c_str()),
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), &p, end)) {
        log_->error("response headers too large route={}", ex->route_class);
        return -1;
      }
    }
    const bool send_body = !no_body && !r.head_only && total > 0;
    if (send_body) {
      // Lets lws track the body for keep-alive (HTTP/1.1) and END_STREAM (HTTP/2).
      if (lws_add_http_header_content_length(wsi, total, &p, end)) return -1;
    } else if (!no_body) {
      // HEAD, or an empty body: state the length without making lws wait for body bytes.
      std::string len = std::to_string(total);
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("content-length:"),
                                      reinterpret_cast<const unsigned char*>(len.data()),
                                      static_cast<int>(len.size()), &p, end))
        return -1;
    }
    if (ex->close_after && lws_get_network_wsi(wsi) == wsi) {
      static const char kClose[] = "close";
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("connection:"),
                                      reinterpret_cast<const unsigned char*>(kClose), 5, &p, end))
        return -1;
    }
    if (lws_finalize_http_header(wsi, &p, end)) return -1;
    int flags = LWS_WRITE_HTTP_HEADERS | (send_body ? 0 : LWS_WRITE_H2_STREAM_END);
    int len = static_cast<int>(p - start);
    if (lws_write(wsi, start, static_cast<size_t>(len), static_cast<lws_write_protocol>(flags)) != len) return -1;
    ex->headers_sent = true;
    if (!send_body) goto complete;
    // Small bodies follow the headers in the same writeable event (saves a loop round trip);
    // larger ones stream on later events.
    if (total > kInlineBody) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  }

  {
    uint64_t remaining = total - ex->body_pos;
    // HTTP/2 DATA frames may not exceed the peer's SETTINGS_MAX_FRAME_SIZE (16 KB by default),
    // and lws writes one frame per lws_write.
    size_t limit = lws_get_network_wsi(wsi) != wsi ? kH2Chunk : kChunk;
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(remaining, limit));
    lws_fileofs_t allowance = lws_get_peer_write_allowance(wsi);
    if (allowance >= 0 && static_cast<uint64_t>(allowance) < chunk) chunk = static_cast<size_t>(allowance);
    if (chunk == 0) {
      lws_callback_on_writable(wsi);
      return 0;
    }
    std::vector<unsigned char> buf(LWS_PRE + chunk);
    if (r.memory) {
      std::memcpy(buf.data() + LWS_PRE, r.memory->data->data() + r.memory->offset + ex->body_pos, chunk);
    } else if (r.file) {
      ssize_t got = ::pread(ex->file_fd, buf.data() + LWS_PRE, chunk,
                            static_cast<off_t>(r.file->offset + ex->body_pos));
      if (got <= 0) {
        log_->warn("file shrank while streaming path={}", r.file->path);
        return -1;
      }
      chunk = static_cast<size_t>(got);
    } else {
      std::memcpy(buf.data() + LWS_PRE, r.body.data() + ex->body_pos, chunk);
    }
    bool last = ex->body_pos + chunk == total;
    int n = lws_write(wsi, buf.data() + LWS_PRE, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
    if (n < 0) return -1;
    ex->body_pos += chunk;
    if (!last) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  }

complete:
  bool close = ex->close_after || draining_;
  Finish(wsi);
  if (close) return -1;
  if (lws_http_transaction_completed(wsi)) return -1;
  return 0;
}

void NetServer::Finish(lws* wsi) {
  auto it = exchanges_.find(wsi);
  if (it == exchanges_.end()) return;
  exchanges_.erase(it);
  if (in_flight_.fetch_sub(1) == 1) {
    std::lock_guard lock(idle_mu_);
    idle_cv_.notify_all();
  }
}

int NetServer::OnWebSocketCallback(lws* wsi, int reason_int, void* in, size_t len) {
  auto reason = static_cast<lws_callback_reasons>(reason_int);
  if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION) {
    if (auto conn = connection_peers_.find(lws_get_network_wsi(wsi)); conn != connection_peers_.end()) {
      conn->second.got_request = true;
    }
    std::string uri = CopyHeader(wsi, WSI_TOKEN_GET_URI);
    const auto* spec = static_cast<const ListenerSpec*>(lws_get_vhost_user(lws_get_vhost(wsi)));
    bool tls = spec != nullptr && spec->tls && lws_is_ssl(wsi);
    auto entry = tls ? router_.LookupWebSocket(uri) : nullptr;
    if (!entry || draining_) return 1;  // lws refuses the upgrade
    sdk::Request req;
    FillRequest(wsi, uri.c_str(), req);
    req.method = "GET";
    Status accepted = OkStatus();
    try {
      accepted = entry->handler->Accept(req);
    } catch (const std::exception& e) {
      log_->error("websocket accept threw module={} err={}", entry->owner, e.what());
      accepted = Fail(ErrorCode::kInternal, e.what());
    }
    CountRequest(entry->route.route_class, accepted ? 101 : HttpStatusFor(accepted.error().code));
    if (!accepted) {
      log_->debug("websocket refused client={} path={} err={}", req.peer, req.path, accepted.error().message);
      return 1;
    }
    ws_conns_[wsi] = std::make_unique<WsConn>(*this, wsi, next_ws_id_++, entry, std::move(req));
    return 0;
  }
  auto it = ws_conns_.find(wsi);
  if (it == ws_conns_.end()) return reason == LWS_CALLBACK_CLOSED ? 0 : -1;
  WsConn& c = *it->second;
  auto deliver = [&](const char* what, const std::function<void()>& fn) {
    if (c.detached || destroying_) return;
    try {
      fn();
    } catch (const std::exception& e) {
      log_->error("websocket {} handler threw module={} err={}", what, c.Entry()->owner, e.what());
    }
  };
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
      c.open = true;
      ws_open_->Add(1);
      deliver("open", [&] { c.Entry()->handler->OnOpen(c); });
      return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
      c.last_rx = std::chrono::steady_clock::now();
      return 0;
    case LWS_CALLBACK_RECEIVE: {
      c.last_rx = std::chrono::steady_clock::now();
      if (lws_is_first_fragment(wsi)) {
        c.partial.clear();
        c.partial_binary = lws_frame_is_binary(wsi) != 0;
      }
      if (c.partial.size() + len > c.Entry()->route.max_message_bytes) {
        ws_oversized_->Inc();
        static const char kReason[] = "message too large";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         reinterpret_cast<unsigned char*>(const_cast<char*>(kReason)), sizeof kReason - 1);
        return -1;
      }
      c.partial.append(static_cast<const char*>(in), len);
      if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
        ws_in_->Inc();
        std::string message = std::move(c.partial);
        c.partial.clear();
        deliver("message", [&] { c.Entry()->handler->OnMessage(c, message, c.partial_binary); });
      }
      return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return c.Write();
    case LWS_CALLBACK_CLOSED: {
      std::unique_ptr<WsConn> owned = std::move(it->second);
      ws_conns_.erase(it);
      if (owned->open) {
        ws_open_->Add(-1);
        deliver("close", [&] { owned->Entry()->handler->OnClose(*owned); });
      }
      return 0;
    }
    default:
      return 0;
  }
}

void NetServer::CloseWebSockets(const std::string& owner) {
  if (!running_ || IsLoopThread()) return;
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  Post([this, owner, done] {
    for (auto& [wsi, conn] : ws_conns_) {
      if (conn->Entry()->owner != owner) continue;
      conn->detached = true;
      conn->Close(LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    }
    done->set_value();
  });
  future.wait_for(std::chrono::seconds(2));
}

void NetServer::ForgetConnection(lws* wsi) {
  auto it = connection_peers_.find(wsi);
  if (it == connection_peers_.end()) return;
  auto pc = connections_per_ip_.find(it->second.peer);
  if (pc != connections_per_ip_.end() && --pc->second <= 0) connections_per_ip_.erase(pc);
  connection_peers_.erase(it);
  connections_open_->Add(-1);
}

int NetServer::OnRawCallback(lws* wsi, int reason_int, void*, void* in, size_t len) {
  auto reason = static_cast<lws_callback_reasons>(reason_int);
  switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT: {
      if (!raw_handler_) return -1;
      // No longer waiting for an HTTP request: the header timeout no longer applies (the raw
      // handler decides how long an idle connection may live).
      if (auto it = connection_peers_.find(wsi); it != connection_peers_.end()) it->second.got_request = true;
      lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
      auto [peer_endpoint, local_endpoint] = EndpointsOf(wsi);
      auto conn = std::make_unique<RawConn>(wsi, next_raw_id_++, PeerOf(wsi), std::move(peer_endpoint),
                                            std::move(local_endpoint));
      RawConn& ref = *conn;
      raw_conns_[wsi] = std::move(conn);
      raw_handler_->OnOpen(ref);
      return 0;
    }
    case LWS_CALLBACK_RAW_RX: {
      auto it = raw_conns_.find(wsi);
      if (it == raw_conns_.end() || !raw_handler_) return -1;
      raw_handler_->OnData(*it->second, std::span<const uint8_t>(static_cast<const uint8_t*>(in), len));
      return 0;
    }
    case LWS_CALLBACK_RAW_WRITEABLE: {
      auto it = raw_conns_.find(wsi);
      if (it == raw_conns_.end()) return -1;
      return it->second->Write();
    }
    case LWS_CALLBACK_RAW_CLOSE: {
      auto it = raw_conns_.find(wsi);
      if (it != raw_conns_.end()) {
        if (raw_handler_) raw_handler_->OnClose(*it->second);
        raw_conns_.erase(it);
      }
      ForgetConnection(wsi);
      return 0;
    }
    case LWS_CALLBACK_WSI_DESTROY:
      ForgetConnection(wsi);  // the connection counts of a connection that became raw
      return 0;
    default:
      return 0;
  }
}

}  // namespace palaver::host
