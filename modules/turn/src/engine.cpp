// Engine: binds the listeners, starts one RelayThread per `threads` and hands external streams to
// the thread that owns them. The threads themselves are in relay_thread.cpp and stream_io.cpp.
#include "engine.hpp"

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine_metrics.hpp"
#include "relay_thread.hpp"
#include "sockets.hpp"

namespace palaver::turn {

Engine::~Engine() { Stop(); }

Result<std::unique_ptr<Engine>> Engine::Start(EngineOptions options) {
  if (options.threads < 1) options.threads = 1;
  if (options.thread_host == nullptr) return Fail(ErrorCode::kInvalidArgument, "the engine needs the host's threads");
  if (!options.tls.empty() && options.tls_context == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "TURN over TLS needs a TLS context");
  }
  if (options.min_port == 0 || options.min_port > options.max_port) {
    return Fail(ErrorCode::kInvalidArgument, "relay port range is empty");
  }
  std::unique_ptr<Engine> e(new Engine());
  e->options_ = std::move(options);
  EngineOptions& o = e->options_;
  if (o.tls_context != nullptr) SSL_CTX_up_ref(o.tls_context);

  using PerThread = std::vector<std::vector<std::pair<int, Address>>>;
  PerThread udp(o.threads), tcp(o.threads), tls(o.threads);
  auto close_all = [&] {
    for (auto* group : {&udp, &tcp, &tls}) {
      for (auto& per : *group) {
        for (auto& [fd, a] : per) ::close(fd);
      }
    }
  };
  auto bind_all = [&](std::vector<Address>& addresses, int type, PerThread& out, std::vector<Address>& bound) -> Status {
    for (Address a : addresses) {
      auto fds = BindEach(a, type, o.threads, type == SOCK_DGRAM ? o.socket_buffer_bytes : 0);
      if (!fds) return tl::unexpected(fds.error());
      for (int t = 0; t < o.threads; ++t) out[t].emplace_back((*fds)[t], a);
      bound.push_back(a);
    }
    return OkStatus();
  };
  Status st = bind_all(o.udp, SOCK_DGRAM, udp, e->bound_udp_);
  if (st) st = bind_all(o.tcp, SOCK_STREAM, tcp, e->bound_tcp_);
  if (st) st = bind_all(o.tls, SOCK_STREAM, tls, e->bound_tls_);
  if (!st) {
    close_all();
    return tl::unexpected(st.error());
  }

  // The engine's own listeners are never peers.
  for (const auto* list : {&e->bound_udp_, &e->bound_tcp_, &e->bound_tls_}) {
    for (const Address& a : *list) o.peers.own_endpoints.push_back(a);
  }
  e->auth_ = std::make_unique<Authenticator>(o.auth);
  e->quota_ = std::make_unique<SharedQuota>(o.max_allocations, o.max_allocations_per_user);

  EngineShared shared{o, *e->auth_, *e->quota_, SharedMetrics(o.metrics), e->streams_};
  for (int t = 0; t < o.threads; ++t) {
    auto th = std::make_unique<RelayThread>(shared, t);
    Status init = th->Init();
    if (!init) {
      close_all();
      return tl::unexpected(init.error());
    }
    for (auto& [fd, a] : udp[t]) th->AddUdp(fd, a);
    for (auto& [fd, a] : tcp[t]) th->AddStreamListener(fd, a, false);
    for (auto& [fd, a] : tls[t]) th->AddStreamListener(fd, a, true);
    udp[t].clear();
    tcp[t].clear();
    tls[t].clear();
    e->threads_.push_back(std::move(th));
  }
  for (auto& th : e->threads_) {
    Status launched = th->Launch(*o.thread_host);
    if (!launched) {
      e->Stop();  // stops and joins the threads already running
      return tl::unexpected(launched.error());
    }
  }
  return e;
}

void Engine::Stop() {
  if (stopped_.exchange(true)) return;
  for (auto& th : threads_) th->RequestStop();
  for (auto& th : threads_) {
    th->Join();
    th->RetractGauges();
  }
  // The threads stay (joined) until destruction, so that Snapshot() stays safe to call.
  if (options_.tls_context != nullptr) {
    SSL_CTX_free(options_.tls_context);
    options_.tls_context = nullptr;
  }
}

RelayThread& Engine::ThreadFor(uint64_t id) { return *threads_[id % threads_.size()]; }

void Engine::AttachStream(uint64_t id, ExternalStream stream) {
  if (stopped_ || threads_.empty()) return;
  RelayThread& t = ThreadFor(id);
  t.Post([&t, id, s = std::move(stream)]() mutable { t.Attach(id, std::move(s)); });
}

void Engine::StreamData(uint64_t id, std::span<const uint8_t> bytes) {
  if (stopped_ || threads_.empty()) return;
  RelayThread& t = ThreadFor(id);
  t.Post([&t, id, data = std::vector<uint8_t>(bytes.begin(), bytes.end())] { t.ExternalData(id, data); });
}

void Engine::StreamClosed(uint64_t id) {
  if (stopped_ || threads_.empty()) return;
  RelayThread& t = ThreadFor(id);
  t.Post([&t, id] { t.ExternalClosed(id); });
}

EngineSnapshot Engine::Snapshot() const {
  EngineSnapshot s;
  for (const auto& th : threads_) s.allocations += th->allocations();
  s.streams = streams_.load(std::memory_order_relaxed);
  s.udp = bound_udp_;
  s.tcp = bound_tcp_;
  s.tls = bound_tls_;
  return s;
}

void Engine::SetSecrets(std::vector<std::string> secrets, std::vector<AuthOptions::RetiredSecret> retired) {
  auth_->SetSecrets(std::move(secrets), std::move(retired));
}

}  // namespace palaver::turn
