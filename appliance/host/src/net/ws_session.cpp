// WebSocket connections: the upgrade from HTTP/1.1 (RFC 6455; framing by net/websocket.hpp), the
// session that carries a module's sdk::WebSocket, the keepalive sweep and closing a module's
// WebSockets when it stops.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

#include "net/conn.hpp"
#include "net/sessions.hpp"
#include "net/util.hpp"
#include "net/websocket.hpp"
#include "net_server.hpp"

namespace palaver::host::net {

bool TryWebSocketUpgrade(Conn& conn, const std::shared_ptr<Exchange>& ex) {
  NetServer& s = conn.server();
  const sdk::Request& req = ex->request;
  auto upgrade = req.Header("upgrade");
  if (!upgrade || !HasToken(*upgrade, "websocket")) return false;  // h2c and others: plain HTTP
  // A refused upgrade is answered with a status, and the connection, meant to become a
  // WebSocket, closes after it.
  ex->close_after = true;
  auto refuse = [&](int status, std::string reason) {
    s.log().debug("websocket refused client={} path={} status={} reason={}", req.peer, req.path, status, reason);
    ex->route_class = "websocket";
    s.Deliver(*ex, sdk::Response::Text(status, reason + "\n"));
    return true;
  };
  auto connection = req.Header("connection");
  auto key = req.Header("sec-websocket-key");
  auto version = req.Header("sec-websocket-version");
  if (req.method != "GET" || !connection || !HasToken(*connection, "upgrade")) {
    return refuse(400, "Bad WebSocket upgrade request.");
  }
  if (!key || !ValidWebSocketKey(*key)) return refuse(400, "Missing or invalid Sec-WebSocket-Key.");
  if (!version || *version != "13") {
    sdk::Response r = sdk::Response::Text(426, "WebSocket version 13 required.\n");
    r.SetHeader("sec-websocket-version", "13");
    s.Deliver(*ex, std::move(r));
    return true;
  }
  auto entry = conn.is_tls() ? s.router().LookupWebSocket(req.path) : nullptr;
  if (!entry) return refuse(404, "No WebSocket endpoint here.");
  if (s.draining()) return refuse(503, "Server is shutting down.");
  Status accepted = OkStatus();
  try {
    accepted = entry->handler->Accept(req);
  } catch (const std::exception& e) {
    s.log().error("websocket accept threw module={} err={}", entry->owner, e.what());
    accepted = Fail(ErrorCode::kInternal, e.what());
  }
  if (!accepted) {
    ex->route_class = entry->route.route_class;
    s.log().debug("websocket refused client={} path={} err={}", req.peer, req.path, accepted.error().message);
    s.Deliver(*ex, sdk::Response::FromError(accepted.error()));
    return true;
  }
  s.CountRequest(entry->route.route_class, 101);
  std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: " +
                     WebSocketAccept(*key) + "\r\n\r\n";
  conn.Write(head);
  conn.got_request = true;
  conn.ClearDeadline();
  auto ws = std::make_unique<WsSession>(conn, s.NextWebSocketId(), entry, req);
  WsSession* raw = ws.get();
  conn.SwitchSession(std::move(ws));
  raw->Open();
  return true;
}

WsSession::WsSession(Conn& conn, uint64_t id, std::shared_ptr<const WebSocketEntry> entry, sdk::Request request)
    : conn_(conn),
      id_(id),
      entry_(std::move(entry)),
      peer_(request.peer),
      request_(std::make_unique<sdk::Request>(std::move(request))),
      listener_(request_->listener),
      http_version_(static_cast<uint8_t>(request_->http_version)) {
  conn_.server().AddWebSocket(this);
}

WsSession::~WsSession() { conn_.server().RemoveWebSocket(this); }

template <typename F>
void WsSession::Call(const char* what, F&& fn) {
  if (detached_ || conn_.server().destroying()) return;
  try {
    fn();
  } catch (const std::exception& e) {
    conn_.server().log().error("websocket {} handler threw module={} err={}", what, entry_->owner, e.what());
  }
}

void WsSession::Open() {
  open_ = true;
  conn_.server().ws_open_->Add(1);
  Call("open", [&] { entry_->handler->OnOpen(*this); });
  // What a module may still ask of the upgrade request later is its method, path, query, host
  // and peer; the headers (cookies among them) and the body are given back now, so an idle
  // socket does not hold them for its lifetime (sdk/websocket.hpp, UpgradeRequest).
  KeepRequestLine();
}

void WsSession::KeepRequestLine() {
  if (!request_) return;
  const sdk::Request& r = *request_;
  kept_len_[0] = static_cast<uint32_t>(r.method.size());
  kept_len_[1] = static_cast<uint32_t>(r.path.size());
  kept_len_[2] = static_cast<uint32_t>(r.query.size());
  kept_.reserve(r.method.size() + r.path.size() + r.query.size() + r.host.size());
  kept_.append(r.method).append(r.path).append(r.query).append(r.host);
  request_.reset();
}

const sdk::Request& WsSession::UpgradeRequest() const {
  if (!request_) {
    auto r = std::make_unique<sdk::Request>();
    std::string_view k = kept_;
    auto take = [&k](size_t n) {
      std::string part(k.substr(0, n));
      k.remove_prefix(std::min(n, k.size()));
      return part;
    };
    r->method = take(kept_len_[0]);
    r->path = take(kept_len_[1]);
    r->query = take(kept_len_[2]);
    r->host = std::string(k);
    r->peer = peer_;
    r->listener = listener_;
    r->http_version = http_version_;
    request_ = std::move(r);
  }
  return *request_;
}

void WsSession::OnData() {
  std::vector<WsEvent> events;
  if (!reader_) reader_ = std::make_unique<WsReader>(entry_->route.max_message_bytes);
  size_t used = reader_->Feed(conn_.in, events);
  conn_.in.erase(0, used);
  if (!events.empty()) last_rx_ = Clock::now();
  for (auto& ev : events) {
    if (conn_.closed()) return;
    switch (ev.kind) {
      case WsEvent::Kind::kMessage:
        conn_.server().ws_in_->Inc();
        if (!closing_) Call("message", [&] { entry_->handler->OnMessage(*this, ev.data, ev.binary); });
        break;
      case WsEvent::Kind::kPing:
        if (!closing_) Queue(static_cast<int>(WsOpcode::kPong), ev.data);
        break;
      case WsEvent::Kind::kPong:
        ping_outstanding_ = false;
        break;
      case WsEvent::Kind::kClose:
        if (!closing_) {
          closing_ = true;
          std::string out;
          AppendWsClose(out, ev.close_code == 1005 ? 1000 : ev.close_code, "");
          conn_.Write(out);
        }
        conn_.CloseAfterFlush();
        return;
    }
  }
  if (reader_->failed()) {
    if (reader_->close_code() == 1009) conn_.server().ws_oversized_->Inc();
    conn_.server().log().debug("websocket protocol error client={} code={} reason={}", peer_,
                               reader_->close_code(), reader_->error());
    Fail(reader_->close_code(), reader_->error());
  }
}

void WsSession::Fail(int code, std::string_view reason) {
  conn_.in.clear();
  if (!closing_) {
    closing_ = true;
    std::string out;
    AppendWsClose(out, code, reason);
    conn_.Write(out);
  }
  conn_.CloseAfterFlush();
}

bool WsSession::Queue(int opcode, std::string_view payload) {
  if (closing_ || conn_.closed()) return false;
  if (conn_.Pending() + payload.size() > entry_->route.max_queued_bytes) {
    conn_.server().ws_slow_closed_->Inc();
    conn_.server().log().debug("websocket closed client={} reason=send queue full", peer_);
    // No more messages: the close frame goes after what is queued (bounded by the limit plus
    // this message's size) and the connection closes once it is written or the close times out.
    Fail(1008, "send queue full");
    return false;
  }
  AppendWsFrame(conn_.OutBuffer(), static_cast<WsOpcode>(opcode), payload);
  conn_.MarkDirty();
  return true;
}

bool WsSession::Send(std::string_view text) {
  bool ok = Queue(static_cast<int>(WsOpcode::kText), text);
  if (ok) conn_.server().ws_out_->Inc();
  return ok;
}

bool WsSession::SendBinary(std::span<const uint8_t> bytes) {
  bool ok = Queue(static_cast<int>(WsOpcode::kBinary),
                  std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (ok) conn_.server().ws_out_->Inc();
  return ok;
}

void WsSession::Close(int code, std::string_view reason) {
  if (closing_ || conn_.closed()) return;
  closing_ = true;
  std::string out;
  AppendWsClose(out, code, reason);
  conn_.Write(out);
  conn_.CloseAfterFlush();
}

size_t WsSession::QueuedBytes() const { return conn_.Pending(); }

// Exactly when Queue refuses a message without a queue bound being hit.
bool WsSession::Closing() const { return closing_ || conn_.closed(); }

void WsSession::OnClosed() {
  if (!open_) return;
  open_ = false;
  conn_.server().ws_open_->Add(-1);
  Call("close", [&] { entry_->handler->OnClose(*this); });
}

void WsSession::OnDeadline() { conn_.Close("websocket timeout"); }

void WsSession::Sweep(Clock::time_point now, Clock::duration ping_after, Clock::duration drop_after) {
  if (!open_ || closing_) return;
  auto silent = now - last_rx_;
  // Quiet for a moment: its buffers' memory goes back (most signaling sockets are idle).
  if (silent >= std::chrono::seconds(1)) {
    conn_.ReleaseIdleBuffers();
    // Between frames the reader holds nothing a fresh one would not start with: it goes too
    // (~200 bytes per idle socket) and is made again when data arrives.
    if (reader_ && reader_->Idle()) reader_.reset();
  }
  if (silent >= drop_after) {
    conn_.server().ws_dead_closed_->Inc();
    conn_.server().log().debug("closing websocket client={} reason=no_pong", peer_);
    conn_.Close("websocket peer silent");
  } else if (silent >= ping_after && !ping_outstanding_) {
    ping_outstanding_ = true;
    uint64_t n = ++pings_sent_;
    std::string payload(reinterpret_cast<const char*>(&n), sizeof n);
    Queue(static_cast<int>(WsOpcode::kPing), payload);
  }
}

void WsSession::Detach(const std::string& owner) {
  if (entry_->owner != owner) return;
  Close(1001, "server shutting down");
  detached_ = true;
}

}  // namespace palaver::host::net

namespace palaver::host {

void NetServer::SweepWebSockets() {
  MaybeTrimHeap();
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


}  // namespace palaver::host
