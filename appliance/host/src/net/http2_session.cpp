// HTTP/2 on a connection, on Debian's libnghttp2: framing, HPACK, flow control and the
// protocol's error handling are the library's; this file maps streams to exchanges. Every
// frame nghttp2 has ready is gathered into the connection's output buffer and written once per
// loop round. Every refused or reset stream is logged at debug with its reason.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "net/conn.hpp"
#include "net/sessions.hpp"
#include "net/util.hpp"
#include "net_server.hpp"

namespace palaver::host::net {

namespace {

constexpr size_t kHighWater = 256 * 1024;
// Control frames (PING and SETTINGS acknowledgements, RST_STREAM) queued for a client that does
// not read: past this nghttp2 reports a flood and the connection ends with ENHANCE_YOUR_CALM.
constexpr size_t kMaxOutboundAck = 1000;
// Body bytes dropped after an early answer before the stream is reset.
constexpr uint64_t kMaxDiscardBytes = 8 * 1024 * 1024;

struct Stream {
  std::shared_ptr<Exchange> ex;
  std::string method, path, authority, scheme, protocol;
  size_t header_bytes = 0;
  bool too_large = false;
  bool started = false;
  int64_t content_length = -1;
  Clock::time_point body_check = Clock::time_point::max();  // next body deadline check
};

bool IsConnectionSpecific(const std::string& name) {
  return name == "connection" || name == "keep-alive" || name == "transfer-encoding" || name == "upgrade" ||
         name == "proxy-connection" || name == "content-length";
}

class Http2Session final : public Session {
 public:
  explicit Http2Session(Conn& conn) : c_(conn), s_(conn.server()) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &OnDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &OnStreamClose);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, &OnInvalidFrame);
    nghttp2_session_callbacks_set_on_invalid_header_callback(cbs, &OnInvalidHeader);
    nghttp2_session_callbacks_set_error_callback2(cbs, &OnError);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &OnFrameSend);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_outbound_ack(opt, kMaxOutboundAck);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_session_server_new2(&ng_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    // No SETTINGS_ENABLE_CONNECT_PROTOCOL: WebSockets are not carried over HTTP/2 (RFC 8441), so
    // browsers open them on an HTTP/1.1 connection (net/README: why).
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, static_cast<uint32_t>(s_.limits().max_concurrent_streams)},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(s_.limits().max_header_bytes)},
    };
    nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    // A larger connection window than the 64 KB default, so that uploads are not throttled.
    nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, 4 << 20);
    // The header deadline set at accept (TLS handshake included) stands until the first request.
    c_.MarkDirty();
  }

  ~Http2Session() override {
    ReleaseAll();
    nghttp2_session_del(ng_);
  }

  void OnData() override {
    if (dead_) {
      c_.in.clear();
      return;
    }
    ssize_t n = nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(c_.in.data()), c_.in.size());
    c_.in.clear();
    if (n < 0) {
      const bool flood = n == NGHTTP2_ERR_FLOODED;
      s_.log().debug("http2 connection error client={} err={}", c_.peer(), nghttp2_strerror(static_cast<int>(n)));
      if (n != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
        nghttp2_session_terminate_session(ng_, flood ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
      }
      dead_ = true;
      if (flood) {
        // The client does not read: what is queued would never drain.
        c_.Close("http2 flood");
        return;
      }
      Produce();
      c_.CloseAfterFlush();
      return;
    }
    ArmDeadline();
    c_.MarkDirty();
  }

  void Produce() override {
    while (c_.Pending() < kHighWater) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(ng_, &data);
      if (n < 0) {
        s_.log().debug("http2 send error client={} err={}", c_.peer(), nghttp2_strerror(static_cast<int>(n)));
        c_.Close("http2 send error");
        return;
      }
      if (n == 0) break;
      c_.OutBuffer().append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (!dead_ && !nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_) && c_.Pending() == 0) {
      c_.CloseAfterFlush();
    }
    if (streams_.empty() && c_.eof()) c_.CloseAfterFlush();
  }

  void OnResponse(Exchange& ex) override {
    auto it = streams_.find(ex.stream_id);
    if (it == streams_.end()) return;
    Response& r = ex.response;
    std::vector<std::pair<std::string, std::string>> headers;
    headers.reserve(r.headers.size() + 2);
    headers.emplace_back(":status", std::to_string(r.status));
    for (const auto& h : r.headers) {
      if (!IsConnectionSpecific(h.first)) headers.push_back(h);
    }
    const bool no_body_status = r.status < 200 || r.status == 204 || r.status == 304;
    if (!no_body_status) headers.emplace_back("content-length", std::to_string(ex.BodyTotal()));
    std::vector<nghttp2_nv> nva;
    nva.reserve(headers.size());
    for (auto& [n, v] : headers) {
      nva.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()), n.size(),
                               v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider prd{};
    prd.read_callback = &ReadBody;
    const bool body = ex.SendsBody();
    int rv = nghttp2_submit_response(ng_, ex.stream_id, nva.data(), nva.size(), body ? &prd : nullptr);
    if (rv != 0) {
      s_.log().debug("http2 response refused stream={} err={}", ex.stream_id, nghttp2_strerror(rv));
    }
    if (ex.reading_body && !ex.discarding) ex.discarding = true;
    last_activity_ = Clock::now();
    c_.MarkDirty();
  }

  void OnBodyReady(Exchange& ex) override {
    if (streams_.count(ex.stream_id) == 0) return;
    nghttp2_session_resume_data(ng_, ex.stream_id);
    c_.MarkDirty();
  }

  void OnDrain() override {
    if (draining_) return;
    draining_ = true;
    nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    if (streams_.empty()) {
      Produce();
      c_.CloseAfterFlush();
    } else {
      c_.MarkDirty();
    }
  }

  void OnClosed() override { ReleaseAll(); }

  void OnDeadline() override {
    auto now = Clock::now();
    if (!c_.got_request) {
      s_.header_timeouts_->Inc();
      s_.log().debug("closing connection client={} reason=header_timeout", c_.peer());
      Terminate(NGHTTP2_NO_ERROR);
      return;
    }
    // Bodies of single streams: past body_timeout, only one still arriving at body_min_rate.
    for (auto& [id, st] : streams_) {
      if (st->ex == nullptr || !st->ex->reading_body) {
        st->body_check = Clock::time_point::max();
        continue;
      }
      if (now < st->body_check) continue;
      if (st->ex->BodyInTime(now, s_.limits().body_timeout, s_.limits().body_min_rate)) {
        st->body_check = now + std::chrono::seconds(5);
        continue;
      }
      st->body_check = Clock::time_point::max();
      if (st->ex->responded) {
        // Answered already; the client goes on sending too slowly: stop it.
        Reset(id, "body after the answer too slow");
        continue;
      }
      s_.log().debug("request body too slow client={} stream={} route={}", c_.peer(), id, st->ex->route_class);
      st->ex->discarding = true;
      st->body_check = now + std::chrono::seconds(5);
      s_.Deliver(*st->ex, sdk::Response::Text(408, "Request timeout: the body did not arrive in time.\n"));
    }
    if (now - last_activity_ >= s_.limits().idle_timeout) {
      // Nothing moved on any stream for idle_timeout: an idle connection, or a client that
      // neither reads its answers (zero window) nor sends.
      s_.log().debug("closing http2 connection client={} reason={}", c_.peer(),
                     streams_.empty() ? "idle" : "no progress on its streams");
      Terminate(NGHTTP2_NO_ERROR);
      return;
    }
    ArmDeadline();
    c_.MarkDirty();
  }

  bool Busy() const override { return !streams_.empty(); }

 private:
  using Response = sdk::Response;

  static Http2Session* Self(void* user) { return static_cast<Http2Session*>(user); }

  Stream* Find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  void ReleaseAll() {
    for (auto& [id, st] : streams_) {
      if (st->ex) {
        s_.Finish(*st->ex);
        st->ex->conn = nullptr;
        st->ex->session = nullptr;
      }
    }
    streams_.clear();
  }

  // The connection's next deadline: idle_timeout after the last stream activity (HEADERS or DATA
  // either way; PINGs do not count), or a stream's body check if that comes first.
  void ArmDeadline() {
    if (!c_.got_request || c_.closing()) return;
    Clock::time_point when = last_activity_ + s_.limits().idle_timeout;
    for (auto& [id, st] : streams_) when = std::min(when, st->body_check);
    c_.SetDeadline(std::max(when, Clock::now() + std::chrono::milliseconds(100)));
  }

  void Terminate(uint32_t code) {
    nghttp2_session_terminate_session(ng_, code);
    Produce();
    c_.CloseAfterFlush();
  }

  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_DATA) Self(user)->last_activity_ = Clock::now();
    return 0;
  }

  // Resets a stream (CANCEL) and says why. (Not for early answers as such: some clients, curl
  // among them, treat a reset after a complete answer as an error although RFC 9113 §8.1
  // allows it; a body after an early answer is dropped under the usual deadline instead.)
  void Reset(int32_t id, std::string_view reason) {
    s_.streams_reset_->Inc();
    s_.log().debug("http2 stream reset client={} stream={} reason={}", c_.peer(), id, reason);
    nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = Self(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    self->streams_[frame->hd.stream_id] = std::make_unique<Stream>();
    self->c_.got_request = true;
    self->last_activity_ = Clock::now();
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = Self(user);
    Stream* st = self->Find(frame->hd.stream_id);
    if (st == nullptr || st->started) return 0;  // trailers are ignored
    st->header_bytes += namelen + valuelen + 4;
    if (st->header_bytes > static_cast<size_t>(self->s_.limits().max_header_bytes)) {
      st->too_large = true;
      return 0;
    }
    std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (!n.empty() && n[0] == ':') {
      if (n == ":method") st->method = std::move(v);
      else if (n == ":path") st->path = std::move(v);
      else if (n == ":authority") st->authority = std::move(v);
      else if (n == ":scheme") st->scheme = std::move(v);
      else if (n == ":protocol") st->protocol = std::move(v);
      return 0;
    }
    if (!st->ex) st->ex = self->s_.NewExchange(self->c_, *self);
    auto& headers = st->ex->request.headers;
    if (n == "cookie") {
      // RFC 9113 §8.2.3: browsers (Chromium) send each cookie as its own field ("crumbs"); they
      // are one Cookie header again, joined with "; ", so handlers see every cookie.
      for (auto& [name, value] : headers) {
        if (name == "cookie") {
          value += "; " + v;
          return 0;
        }
      }
    }
    headers.emplace_back(std::move(n), std::move(v));
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = Self(user);
    Stream* st = self->Find(frame->hd.stream_id);
    if (st == nullptr) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !st->started) {
      st->started = true;
      self->Start(frame->hd.stream_id, *st, end_stream);
    } else if (end_stream && st->ex && st->ex->reading_body) {
      self->BodyDone(*st);
    }
    return 0;
  }

  void Start(int32_t id, Stream& st, bool end_stream) {
    if (!st.ex) st.ex = s_.NewExchange(c_, *this);
    auto& ex = st.ex;
    ex->stream_id = id;
    sdk::Request& req = ex->request;
    req.http_version = 2;
    req.method = st.method;
    s_.ResolveClient(req);
    const bool has_body = !end_stream;
    // A body that follows an early answer is read and dropped under the same deadline and
    // minimum rate as any body (and up to kMaxDiscardBytes), then the stream is reset.
    auto expect_body = [&] {
      if (!has_body) return;
      ex->discarding = true;
      ex->reading_body = true;
      ex->body_started = Clock::now();
      st.body_check = ex->body_started + s_.limits().body_timeout;
    };
    auto refuse = [&](int status, std::string_view reason, std::string text) {
      if (status != 405) s_.bad_requests_->Inc();
      s_.log().debug("http2 request refused client={} stream={} status={} reason={}", c_.peer(), id, status, reason);
      s_.Deliver(*ex, Response::Text(status, std::move(text)));
      expect_body();
    };
    if (st.too_large) return refuse(431, "headers too large", "Request header fields too large.\n");
    if (req.method == "CONNECT") return refuse(405, "CONNECT not supported", "CONNECT is not supported.\n");
    std::string_view target = st.path;
    auto q = target.find('?');
    auto path = DecodePath(target.substr(0, q));
    if (!path) return refuse(400, "bad path", "Bad request path.\n");
    req.path = std::move(*path);
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    std::string authority = st.authority;
    if (authority.empty()) {
      if (auto host = req.Header("host")) authority = std::string(*host);
    } else if (!req.Header("host")) {
      req.headers.emplace_back("host", authority);
    }
    req.authority = Lower(authority);
    req.host = StripPort(req.authority);
    int64_t length = -1;
    if (auto cl = req.Header("content-length")) {
      length = 0;
      for (char ch : *cl) {
        if (ch < '0' || ch > '9' || length > (int64_t{1} << 50)) {
          length = -2;
          break;
        }
        length = length * 10 + (ch - '0');
      }
      if (cl->empty() || length < 0) return refuse(400, "bad content-length", "Bad Content-Length.\n");
    }
    switch (s_.Begin(ex, has_body ? length : 0, has_body)) {
      case NetServer::Next::kResponded:
        expect_body();
        break;
      case NetServer::Next::kReadBody:
        ex->reading_body = true;
        ex->body_started = Clock::now();
        st.body_check = ex->body_started + s_.limits().body_timeout;
        break;
      case NetServer::Next::kDispatch:
        s_.Dispatch(ex);
        break;
    }
  }

  void BodyDone(Stream& st) {
    auto ex = st.ex;
    ex->reading_body = false;
    st.body_check = Clock::time_point::max();
    if (!ex->responded && !ex->discarding) s_.Dispatch(ex);
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
    auto* self = Self(user);
    Stream* st = self->Find(id);
    self->last_activity_ = Clock::now();
    if (st != nullptr && st->ex) st->ex->body_received += len;
    if (st == nullptr || !st->ex) return 0;
    if (st->ex->discarding || st->ex->responded) {
      if (st->ex->body_received > kMaxDiscardBytes && st->ex->reading_body) {
        st->ex->reading_body = false;
        self->Reset(id, "body after the answer too large");
      }
      return 0;
    }
    if (!self->s_.AppendBody(*st->ex, std::string_view(reinterpret_cast<const char*>(data), len))) {
      st->ex->discarding = true;  // answered (413/503); the rest is dropped
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    auto* self = Self(user);
    auto it = self->streams_.find(id);
    if (it == self->streams_.end()) return 0;
    if (error_code != NGHTTP2_NO_ERROR) {
      self->s_.log().debug("http2 stream closed client={} stream={} error={}", self->c_.peer(), id,
                           nghttp2_http2_strerror(error_code));
    }
    if (it->second->ex) {
      self->s_.Finish(*it->second->ex);
      it->second->ex->conn = nullptr;
      it->second->ex->session = nullptr;
    }
    self->streams_.erase(it);
    if (self->streams_.empty() && self->draining_) self->c_.CloseAfterFlush();
    return 0;
  }

  static int OnInvalidFrame(nghttp2_session*, const nghttp2_frame* frame, int lib_error, void* user) {
    auto* self = Self(user);
    self->s_.streams_reset_->Inc();
    self->s_.log().debug("http2 invalid frame client={} stream={} type={} reason={}", self->c_.peer(),
                         frame->hd.stream_id, static_cast<int>(frame->hd.type), nghttp2_strerror(lib_error));
    return 0;
  }

  static int OnInvalidHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                             const uint8_t*, size_t, uint8_t, void* user) {
    auto* self = Self(user);
    self->s_.log().debug("http2 stream refused client={} stream={} reason=invalid header field name={}",
                         self->c_.peer(), frame->hd.stream_id,
                         std::string_view(reinterpret_cast<const char*>(name), std::min<size_t>(namelen, 64)));
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
  }

  static int OnError(nghttp2_session*, int code, const char* msg, size_t len, void* user) {
    auto* self = Self(user);
    self->s_.log().debug("http2 error client={} code={} msg={}", self->c_.peer(), code, std::string_view(msg, len));
    return 0;
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source*, void* user) {
    auto* self = Self(user);
    Stream* st = self->Find(id);
    if (st == nullptr || !st->ex) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    Exchange& ex = *st->ex;
    long n = ex.ReadBody(buf, length);
    if (n == Exchange::kWouldBlock) return NGHTTP2_ERR_DEFERRED;  // OnBodyReady resumes it
    if (n < 0) {
      self->s_.log().warn("response body ended early route={}", ex.route_class);
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (ex.body_pos >= ex.BodyTotal()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return n;
  }

  Conn& c_;
  NetServer& s_;
  nghttp2_session* ng_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  bool dead_ = false;
  bool draining_ = false;
  Clock::time_point last_activity_ = Clock::now();
};

}  // namespace

std::unique_ptr<Session> MakeHttp2Session(Conn& conn) { return std::make_unique<Http2Session>(conn); }

}  // namespace palaver::host::net
