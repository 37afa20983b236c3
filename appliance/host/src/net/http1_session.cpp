// HTTP/1.1 on a connection: request heads by net/http1.hpp's strict parser, bodies by length
// or chunked, keep-alive and pipelining (one request at a time, later ones wait in the input
// buffer), responses streamed under back-pressure, upgrades to WebSocket.
#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "net/conn.hpp"
#include "net/http1.hpp"
#include "net/sessions.hpp"
#include "net/util.hpp"
#include "net_server.hpp"

namespace palaver::host::net {

namespace {

// Responses up to this size are copied after the head in one go; larger ones stream.
constexpr uint64_t kInlineBody = 64 * 1024;
// Output queued per connection before a streaming response waits for the socket.
constexpr size_t kHighWater = 256 * 1024;
constexpr size_t kStreamChunk = 64 * 1024;
// A body the answer came before (401, 413) is read and dropped up to this size so that the
// connection stays usable; a larger one closes the connection after the answer.
constexpr int64_t kMaxDiscardBytes = 1024 * 1024;

bool IsHopByHop(const std::string& name) {
  return name == "content-length" || name == "connection" || name == "transfer-encoding" || name == "keep-alive" ||
         name == "upgrade" || name == "proxy-connection";
}

class Http1Session final : public Session {
 public:
  explicit Http1Session(Conn& conn)
      : c_(conn), s_(conn.server()), parser_(static_cast<size_t>(conn.server().limits().max_header_bytes)) {}
  ~Http1Session() override { Release(); }

  void OnData() override {
    in_on_data_ = true;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{in_on_data_};
    while (!c_.closed() && !c_.closing()) {
      if (st_ == State::kHead) {
        if (c_.in.empty()) return;
        Http1Head head;
        Http1Parse r = parser_.Parse(c_.in, head);
        if (r.state == Http1Parse::State::kNeedMore) {
          if (c_.eof()) c_.CloseAfterFlush();  // the client finished sending: a partial head stays one
          return;
        }
        if (r.state == Http1Parse::State::kError) {
          FailRequest(r.status, r.reason);
          return;
        }
        c_.in.erase(0, r.consumed);
        parser_.Reset();
        StartRequest(head);
      } else if (st_ == State::kBody) {
        ReadBody();
        if (st_ == State::kBody) return;
      } else {
        return;  // a pipelined request waits for the current answer
      }
    }
  }

  void Produce() override {
    if (ex_ == nullptr) return;
    if (head_pending_) {
      head_pending_ = false;
      WriteHead(*ex_);
      sending_ = true;
    }
    if (!sending_) return;
    while (c_.Pending() < kHighWater && ex_->body_pos < ex_->BodyTotal()) {
      std::string& out = c_.OutBuffer();
      size_t old = out.size();
      size_t want = static_cast<size_t>(std::min<uint64_t>(kStreamChunk, ex_->BodyTotal() - ex_->body_pos));
      out.resize(old + want);
      long n = ex_->ReadBody(reinterpret_cast<uint8_t*>(out.data() + old), want);
      if (n == Exchange::kWouldBlock) {
        out.resize(old);
        return;  // the file thread is reading the next chunk: OnBodyReady
      }
      if (n <= 0) {
        out.resize(old);
        s_.log().warn("response body ended early route={}", ex_->route_class);
        c_.Close("response body read failed");
        return;
      }
      out.resize(old + static_cast<size_t>(n));
    }
    if (ex_->body_pos >= ex_->BodyTotal()) {
      sending_ = false;
      ResponseWritten();
    }
  }

  // The head and body are written by Produce at the end of the round, so that the session's
  // state (and whether the connection closes after this answer) is settled by then, and so that
  // the next request is never started from inside the code that answered this one.
  void OnResponse(Exchange&) override {
    head_pending_ = true;
    c_.MarkDirty();
  }

  void OnBodyReady(Exchange&) override { c_.MarkDirty(); }

  void WriteHead(Exchange& ex) {
    Response& r = ex.response;
    if (s_.draining()) ex.close_after = true;
    std::vector<std::pair<std::string, std::string>> headers;
    headers.reserve(r.headers.size() + 2);
    for (const auto& h : r.headers) {
      if (!IsHopByHop(h.first)) headers.push_back(h);
    }
    const bool no_body_status = r.status < 200 || r.status == 204 || r.status == 304;
    if (!no_body_status) headers.emplace_back("content-length", std::to_string(ex.BodyTotal()));
    if (ex.close_after) headers.emplace_back("connection", "close");
    AppendHttp1ResponseHead(c_.OutBuffer(), r.status, headers);
    if (!ex.SendsBody()) ex.body_pos = ex.BodyTotal();
  }

  void OnDrain() override {
    if (ex_ == nullptr) c_.CloseAfterFlush();
  }

  void OnClosed() override { Release(); }

  void OnDeadline() override {
    if (st_ == State::kBody && ex_ != nullptr && !ex_->responded) {
      auto now = Clock::now();
      if (ex_->BodyInTime(now, s_.limits().body_timeout, s_.limits().body_min_rate)) {
        c_.SetDeadline(now + std::chrono::seconds(5));  // arriving fast enough: check again
        return;
      }
      s_.log().debug("request body too slow client={} route={}", c_.peer(), ex_->route_class);
      ex_->close_after = true;
      s_.Deliver(*ex_, sdk::Response::Text(408, "Request timeout: the body did not arrive in time.\n"));
      return;
    }
    if (!c_.got_request) {
      s_.header_timeouts_->Inc();
      s_.log().debug("closing connection client={} reason=header_timeout", c_.peer());
    }
    c_.Close(ex_ == nullptr ? "idle" : "timeout");
  }

  bool Busy() const override { return ex_ != nullptr; }

 private:
  enum class State { kHead, kBody, kWaiting, kUpgraded };
  using Response = sdk::Response;

  void Release() {
    if (ex_ != nullptr) {
      s_.Finish(*ex_);
      ex_->conn = nullptr;
      ex_->session = nullptr;
      ex_.reset();
    }
  }

  void FailRequest(int status, std::string_view reason) {
    s_.bad_requests_->Inc();
    s_.log().debug("bad request client={} status={} reason={}", c_.peer(), status, reason);
    c_.got_request = true;
    c_.ClearDeadline();
    if (ex_ == nullptr) ex_ = s_.NewExchange(c_, *this);
    ex_->close_after = true;
    st_ = State::kWaiting;
    if (!ex_->responded) s_.Deliver(*ex_, Response::Text(status, std::string(reason) + "\n"));
  }

  void StartRequest(Http1Head& head) {
    c_.got_request = true;
    c_.ClearDeadline();
    ex_ = s_.NewExchange(c_, *this);
    response_done_ = false;
    head_pending_ = false;
    sending_ = false;
    sdk::Request& req = ex_->request;
    req.method = std::move(head.method);
    req.http_version = 1;
    bool keep_alive = head.minor_version >= 1;
    for (const auto& [name, value] : head.headers) {
      if (name != "connection") continue;
      if (HasToken(value, "close")) keep_alive = false;
      else if (HasToken(value, "keep-alive")) keep_alive = true;
    }
    ex_->close_after = !keep_alive;
    BodyFraming framing = DetermineBodyFraming(head);
    req.headers = std::move(head.headers);
    s_.ResolveClient(req);

    std::string_view target = head.target;
    if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
      // absolute-form (RFC 9112 §3.2.2): the path part decides.
      auto slash = target.find('/', target.find("//") + 2);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    if (target.empty() || target[0] != '/') {
      FailRequest(400, "Bad request target.");
      return;
    }
    auto q = target.find('?');
    auto path = DecodePath(target.substr(0, q));
    if (!path) {
      FailRequest(400, "Bad request path.");
      return;
    }
    req.path = std::move(*path);
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    auto host = req.Header("host");
    if (head.minor_version >= 1 && !host) {
      FailRequest(400, "Missing Host header.");
      return;
    }
    req.authority = host ? Lower(*host) : std::string();
    req.host = StripPort(req.authority);

    if (framing.error_status != 0) {
      FailRequest(framing.error_status, framing.reason);
      return;
    }
    if (TryWebSocketUpgrade(c_, ex_)) {
      if (!ex_->responded) {
        // Switched to a WebSocket: this session is done.
        st_ = State::kUpgraded;
        s_.Finish(*ex_);
        ex_->conn = nullptr;
        ex_->session = nullptr;
        ex_.reset();
      } else {
        st_ = State::kWaiting;
      }
      return;
    }
    const bool has_body = framing.kind == BodyFraming::Kind::kChunked ||
                          (framing.kind == BodyFraming::Kind::kLength && framing.length > 0);
    const int64_t length = framing.kind == BodyFraming::Kind::kLength ? static_cast<int64_t>(framing.length)
                           : framing.kind == BodyFraming::Kind::kChunked ? -1
                                                                          : 0;
    chunked_.reset();
    if (framing.kind == BodyFraming::Kind::kChunked) chunked_ = std::make_unique<ChunkedDecoder>();
    body_left_ = framing.kind == BodyFraming::Kind::kLength ? framing.length : 0;
    switch (s_.Begin(ex_, length, has_body)) {
      case NetServer::Next::kResponded:
        if (!has_body) {
          st_ = State::kWaiting;
        } else if (length >= 0 && length <= kMaxDiscardBytes && !ex_->close_after) {
          ex_->discarding = true;
          StartBody();
        } else {
          ex_->close_after = true;
          st_ = State::kWaiting;
        }
        break;
      case NetServer::Next::kReadBody: {
        auto expect = ex_->request.Header("expect");
        if (expect && Lower(*expect) == "100-continue") c_.Write("HTTP/1.1 100 Continue\r\n\r\n");
        StartBody();
        break;
      }
      case NetServer::Next::kDispatch:
        st_ = State::kWaiting;
        s_.Dispatch(ex_);
        break;
    }
  }

  void StartBody() {
    st_ = State::kBody;
    ex_->reading_body = true;
    ex_->body_started = Clock::now();
    // A deadline for the whole body, not re-armed by each chunk (a byte every few seconds
    // must not hold a request open for ever); past it, only a body still arriving at
    // body_min_rate on average goes on.
    c_.SetDeadline(ex_->body_started + s_.limits().body_timeout);
  }

  void ReadBody() {
    if (chunked_) {
      std::string data;
      size_t consumed = 0;
      auto state = chunked_->Feed(c_.in, data, consumed);
      c_.in.erase(0, consumed);
      if (!data.empty()) Take(data);
      if (state == ChunkedDecoder::State::kError) {
        if (ex_ != nullptr && !ex_->responded) {
          FailRequest(chunked_->error_status(), chunked_->reason());
        } else {
          c_.Close("bad chunked body");
        }
        return;
      }
      if (state == ChunkedDecoder::State::kDone) BodyDone();
      return;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(body_left_, c_.in.size()));
    if (n > 0) {
      Take(std::string_view(c_.in.data(), n));
      c_.in.erase(0, n);
      body_left_ -= n;
    }
    if (body_left_ == 0 && !c_.closed()) BodyDone();
  }

  void Take(std::string_view bytes) {
    if (ex_ != nullptr) ex_->body_received += bytes.size();
    if (ex_ == nullptr || ex_->discarding || ex_->responded) return;
    if (!s_.AppendBody(*ex_, bytes)) {
      ex_->discarding = true;
      ex_->close_after = true;
    }
  }

  void BodyDone() {
    st_ = State::kWaiting;
    c_.ClearDeadline();
    if (ex_ == nullptr) return;
    ex_->reading_body = false;
    if (!ex_->responded) {
      s_.Dispatch(ex_);
    } else if (response_done_) {
      NextRequest();
    }
  }

  void ResponseWritten() {
    response_done_ = true;
    if (ex_ != nullptr && ex_->close_after) {
      c_.CloseAfterFlush();
      return;
    }
    if (st_ == State::kWaiting) NextRequest();
  }

  void NextRequest() {
    Release();
    st_ = State::kHead;
    response_done_ = false;
    if (s_.draining() || (c_.eof() && c_.in.empty())) {
      c_.CloseAfterFlush();
      return;
    }
    c_.SetDeadline(Clock::now() + s_.limits().idle_timeout);
    // Inside OnData its loop goes on with the next request; otherwise (the answer was written
    // at the end of a round) the connection hands over what is buffered and reads on.
    if (!in_on_data_) c_.Kick();
  }

  Conn& c_;
  NetServer& s_;
  State st_ = State::kHead;
  std::shared_ptr<Exchange> ex_;
  Http1HeadParser parser_;
  std::unique_ptr<ChunkedDecoder> chunked_;
  uint64_t body_left_ = 0;
  bool head_pending_ = false;
  bool sending_ = false;
  bool response_done_ = false;
  bool in_on_data_ = false;
};

}  // namespace

std::unique_ptr<Session> MakeHttp1Session(Conn& conn) { return std::make_unique<Http1Session>(conn); }

}  // namespace palaver::host::net
