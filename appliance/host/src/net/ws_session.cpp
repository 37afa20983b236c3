// WebSockets over HTTP/1.1 (RFC 6455; framing by net/websocket.hpp) and raw connections (TURN
// over TLS on the HTTPS port).
#include <spdlog/spdlog.h>

#include <deque>

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
      request_(std::move(request)),
      reader_(std::make_unique<WsReader>(entry_->route.max_message_bytes)) {
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
}

void WsSession::OnData() {
  std::vector<WsEvent> events;
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
    conn_.server().log().debug("websocket protocol error client={} code={} reason={}", request_.peer,
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
    conn_.server().log().debug("websocket closed client={} reason=send queue full", request_.peer);
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
  if (silent >= drop_after) {
    conn_.server().ws_dead_closed_->Inc();
    conn_.server().log().debug("closing websocket client={} reason=no_pong", request_.peer);
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

namespace {

class RawSession final : public Session, public sdk::RawConnection {
 public:
  static constexpr size_t kMaxQueuedBytes = 1 << 20;

  explicit RawSession(Conn& conn) : conn_(conn), id_(conn.server().NextRawId()) {
    conn_.got_request = true;
    conn_.ClearDeadline();  // the raw handler decides how long an idle connection may live
    peer_endpoint_ = Endpoint(conn.fd(), true);
    local_endpoint_ = Endpoint(conn.fd(), false);
    conn_.server().raw_handler()->OnOpen(*this);
    opened_ = true;
  }

  void OnData() override {
    std::string data;
    data.swap(conn_.in);
    if (!data.empty()) {
      conn_.server().raw_handler()->OnData(
          *this, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
    }
  }
  void OnResponse(Exchange&) override {}
  void OnClosed() override {
    if (opened_ && !conn_.server().destroying()) conn_.server().raw_handler()->OnClose(*this);
    opened_ = false;
  }
  void OnDeadline() override { conn_.Close("raw timeout"); }

  // Each Send is one message of the raw protocol (TURN: a STUN message or ChannelData), written
  // as a TLS record of its own: coturn's clients (turnutils_uclient, the documented check) take
  // one SSL_read as one message and lose the rest of a record that holds two. Produce() hands the
  // connection one message at a time; Conn::Flush writes it, drains, and asks for the next.
  bool Send(std::span<const uint8_t> bytes) override {
    if (conn_.closed() || conn_.closing()) return false;
    if (conn_.Pending() + queued_bytes_ + bytes.size() > kMaxQueuedBytes) return false;
    queue_.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    queued_bytes_ += bytes.size();
    conn_.MarkDirty();
    return true;
  }
  void Produce() override {
    if (queue_.empty() || conn_.Pending() > 0) return;
    conn_.Write(queue_.front());
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
  }
  void Close() override {
    for (const auto& m : queue_) conn_.Write(m);  // what was sent before the close still goes out
    queue_.clear();
    queued_bytes_ = 0;
    conn_.CloseAfterFlush();
  }
  const std::string& Peer() const override { return conn_.peer(); }
  const std::string& PeerEndpoint() const override { return peer_endpoint_; }
  const std::string& LocalEndpoint() const override { return local_endpoint_; }
  uint64_t Id() const override { return id_; }

 private:
  Conn& conn_;
  uint64_t id_;
  std::string peer_endpoint_;
  std::string local_endpoint_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool opened_ = false;
};

}  // namespace

std::unique_ptr<Session> MakeRawSession(Conn& conn) { return std::make_unique<RawSession>(conn); }

}  // namespace palaver::host::net
