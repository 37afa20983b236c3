// The HTTP exchange: one request and its response, on an HTTP/1.1 connection or an HTTP/2
// stream. What both protocols share is here: checking and routing a request (Begin), the
// client address behind a trusted proxy, the body budget (AppendBody), running the handler
// (Dispatch), the response filters and held-bytes bounds (Deliver), the access log and the
// request metrics (Finish). The sessions in http1_session.cpp and http2_session.cpp call these.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include <spdlog/spdlog.h>

#include "net/conn.hpp"
#include "net/file_reader.hpp"
#include "net_server.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::host {

namespace net {

Exchange::~Exchange() {
  if (server != nullptr) server->Finish(*this);
}

bool Exchange::SendsBody() const {
  const int s = response.status;
  return !(s < 200 || s == 204 || s == 304) && !response.head_only && BodyTotal() > 0;
}

long Exchange::ReadBody(uint8_t* dst, size_t max) {
  const uint64_t total = BodyTotal();
  if (body_pos >= total) return 0;
  size_t n = static_cast<size_t>(std::min<uint64_t>(total - body_pos, max));
  if (response.memory) {
    std::memcpy(dst, response.memory->data->data() + response.memory->offset + body_pos, n);
  } else if (response.file) {
    if (body_pos >= file_buf_start + file_buf.size()) {
      if (file_next.empty()) {
        if (file_failed) return -1;
        ReadAhead();
        return kWouldBlock;
      }
      file_buf_start += file_buf.size();
      file_buf.swap(file_next);
      file_next.clear();
    }
    const size_t off = static_cast<size_t>(body_pos - file_buf_start);
    n = std::min(n, file_buf.size() - off);
    std::memcpy(dst, file_buf.data() + off, n);
    body_pos += n;
    ReadAhead();
    return static_cast<long>(n);
  } else {
    std::memcpy(dst, response.body.data() + body_pos, n);
  }
  body_pos += n;
  return static_cast<long>(n);
}

void Exchange::ReadAhead() {
  if (!response.file || file_reading || file_opening || file_failed || !file_next.empty() || server == nullptr) return;
  const uint64_t from = file_buf_start + file_buf.size();
  if (from >= BodyTotal()) return;
  server->ReadFile(*this, from);
}

}  // namespace net

namespace {

bool ValidHostHeader(const std::string& host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}


}  // namespace

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


std::shared_ptr<net::Exchange> NetServer::NewExchange(net::Conn& conn, net::Session& session) {
  auto ex = std::make_shared<net::Exchange>();
  ex->conn = &conn;
  ex->session = &session;
  ex->server = this;
  ex->request.peer = conn.peer();
  ex->request.listener = conn.spec().tls ? sdk::Listener::kHttps : sdk::Listener::kHttp;
  ex->self = ex;
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
  in_flight_--;
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
    // Opened and first read on a file thread; the response goes out when that chunk is here.
    ex.response = std::move(response);
    ReadFile(ex, 0);
    return;
  }
  SendResponse(ex, std::move(response));
}

void NetServer::ReadFile(net::Exchange& ex, uint64_t from) {
  const sdk::FileBody& fb = *ex.response.file;
  if (from == 0 && !ex.file) ex.file_opening = true;
  ex.file_reading = true;
  const size_t len = static_cast<size_t>(std::min<uint64_t>(net::FileReaders::kChunk, fb.length - std::min(from, fb.length)));
  std::weak_ptr<net::Exchange> weak = ex.self;
  file_readers_.Read(ex.file, fb.path, fb.offset + from, len, [this, weak](net::FileChunk chunk) {
    // Always through the loop's queue, also when read inline: never inside a session's callback.
    Post([this, weak, chunk = std::move(chunk)]() mutable {
      if (auto live = weak.lock()) FileRead(*live, std::move(chunk));
    });
  });
}

void NetServer::FileRead(net::Exchange& ex, net::FileChunk chunk) {
  ex.file_reading = false;
  if (!chunk.error.empty()) {
    ex.file_failed = true;
    log_->warn("cannot read file for response path={} err={}", ex.response.file->path, chunk.error);
  } else {
    if (!ex.file) ex.file = std::move(chunk.file);
    ex.file_next = std::move(chunk.data);
  }
  if (ex.file_opening) {
    ex.file_opening = false;
    sdk::Response response =
        ex.file_failed ? sdk::Response::Text(500, "Internal server error.\n") : std::move(ex.response);
    SendResponse(ex, std::move(response));
    return;
  }
  if (ex.session != nullptr) ex.session->OnBodyReady(ex);
}

void NetServer::SendResponse(net::Exchange& ex, sdk::Response response) {
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
