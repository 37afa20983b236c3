// The relay thread's loop, its UDP listeners and relay sockets, commands and the 1 s timer.
// Streams are in stream_io.cpp.
#include "relay_thread.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "sockets.hpp"

namespace palaver::turn {
namespace {

constexpr int kBatchesPerEvent = 8;  // recvmmsg rounds before looking at other sockets

}  // namespace

RelayThread::RelayThread(const EngineShared& shared, int index)
    : shared_(shared),
      opt_(shared.options),
      index_(index),
      rng_(std::random_device{}() + static_cast<unsigned>(index)),
      export_(shared.metrics) {}

RelayThread::~RelayThread() {
  for (auto& [tuple, s] : streams_) {
    if (s->ssl != nullptr) SSL_free(s->ssl);
    if (s->fd >= 0) ::close(s->fd);
  }
  streams_.clear();
  server_.reset();  // closes nothing: the table's removal callback does not run on destruction
  for (auto& [addr, r] : relays_) ::close(r->fd);
  for (auto& l : udp_) ::close(l->fd);
  for (auto& l : listeners_) ::close(l->fd);
  if (wake_.fd >= 0) ::close(wake_.fd);
  if (timer_.fd >= 0) ::close(timer_.fd);
  if (ep_ >= 0) ::close(ep_);
}

Status RelayThread::Init() {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  wake_.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  timer_.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep_ < 0 || wake_.fd < 0 || timer_.fd < 0) return Fail(ErrorCode::kInternal, std::string("epoll: ") + std::strerror(errno));
  itimerspec its{};
  its.it_interval.tv_sec = 1;
  its.it_value.tv_sec = 1;
  timerfd_settime(timer_.fd, 0, &its, nullptr);
  Watch(wake_, EPOLLIN);
  Watch(timer_, EPOLLIN);
  ServerOptions so = opt_.server;
  so.limits.max_allocations = 0;  // the shared quota counts across threads
  so.limits.max_allocations_per_user = 0;
  policy_ = std::make_unique<PeerPolicy>(opt_.peers);
  server_ = std::make_unique<Server>(so, shared_.auth, *policy_, *this);
  server_->allocations().SetSharedQuota(&shared_.quota);
  return OkStatus();
}

void RelayThread::AddUdp(int fd, const Address& bound) {
  auto l = std::make_unique<UdpListener>();
  l->fd = fd;
  l->bound = bound;
  l->wildcard = IsUnspecified(bound);
  Watch(*l, EPOLLIN);
  udp_.push_back(std::move(l));
}

void RelayThread::AddStreamListener(int fd, const Address& bound, bool tls) {
  auto l = std::make_unique<StreamListener>();
  l->fd = fd;
  l->bound = bound;
  l->tls = tls;
  Watch(*l, EPOLLIN);
  listeners_.push_back(std::move(l));
}

Status RelayThread::Launch(sdk::ThreadHost& threads) {
  PALAVER_ASSIGN_OR_RETURN(thread_, threads.StartThread("turn-relay-" + std::to_string(index_),
                                                        [this](std::stop_token stop) { Run(stop); }));
  return OkStatus();
}

void RelayThread::RequestStop() {
  if (thread_) thread_->RequestStop();
}

void RelayThread::Join() {
  if (thread_) thread_->Join();
}

void RelayThread::Run(std::stop_token stop) {
  // A stop request (ours, or the host's when the module stops) wakes the epoll wait.
  std::stop_callback wake(stop, [this] {
    stop_ = true;
    Post([] {});
  });
  epoll_event events[256];
  while (!stop_.load(std::memory_order_relaxed)) {
    int n = epoll_wait(ep_, events, 256, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    now_ = NowMs();
    for (int i = 0; i < n; ++i) {
      auto* h = static_cast<Handle*>(events[i].data.ptr);
      if (Retired(h)) continue;  // closed earlier in this round
      switch (h->kind) {
        case HandleKind::kUdpListener: OnUdp(*static_cast<UdpListener*>(h)); break;
        case HandleKind::kRelay: OnRelay(*static_cast<Relay*>(h)); break;
        case HandleKind::kStreamListener: OnAccept(*static_cast<StreamListener*>(h)); break;
        case HandleKind::kStream: OnStream(*static_cast<Stream*>(h), events[i].events); break;
        case HandleKind::kWake: OnWake(); break;
        case HandleKind::kTimer: OnTimer(); break;
      }
    }
    batch_.Flush();  // the round's datagrams, one sendmmsg per socket
    stale_.clear();
    graveyard_.clear();
  }
}

void RelayThread::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    commands_.push_back(std::move(fn));
  }
  // Adding 1 to the eventfd's counter fails only with EAGAIN (it is not zero: a wake-up is pending,
  // which runs this command too) or EINTR (retried); the fd is the thread's own, never closed first.
  uint64_t one = 1;
  while (::write(wake_.fd, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void RelayThread::Watch(Handle& h, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &h;
  epoll_ctl(ep_, EPOLL_CTL_ADD, h.fd, &ev);
}

void RelayThread::Modify(Handle& h, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &h;
  epoll_ctl(ep_, EPOLL_CTL_MOD, h.fd, &ev);
}

void RelayThread::Retire(std::unique_ptr<Handle> h) {
  stale_.insert(h.get());
  graveyard_.push_back(std::move(h));  // events of this round may still point at it
}

// --- RelayAllocator ----------------------------------------------------------------------------

RelayResult RelayThread::Open(const FiveTuple& client, Family family, bool even_port) {
  const std::optional<Address>& configured = family == Family::kIPv4 ? opt_.relay_v4 : opt_.relay_v6;
  Address base;
  if (configured) {
    base = *configured;
  } else if (client.server.family() == family && !IsUnspecified(client.server)) {
    base = client.server;
  } else if (auto other = OtherFamilyAddress(family)) {
    base = *other;  // e.g. an IPv6 relay for a client that came over IPv4 (RFC 8656 §7.1)
  } else {
    return {RelayStatus::kFamilyUnsupported, {}, nullptr};
  }
  const std::optional<Address>& external = family == Family::kIPv4 ? opt_.external_v4 : opt_.external_v6;
  int fd = ::socket(Domain(base), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {RelayStatus::kNoCapacity, {}, nullptr};
  if (!base.is_v4()) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  std::uniform_int_distribution<int> pick(opt_.min_port, opt_.max_port);
  for (int attempt = 0; attempt < 64; ++attempt) {
    int port = pick(rng_);
    if (even_port) {
      port &= ~1;
      if (port < opt_.min_port) port += 2;
      if (port > opt_.max_port) continue;
    }
    Address advertised = (external ? *external : base).WithPort(static_cast<uint16_t>(port));
    if (relays_.count(advertised) != 0) continue;
    sockaddr_storage ss;
    socklen_t len = ToSockaddr(base.WithPort(static_cast<uint16_t>(port)), ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      if (errno == EADDRINUSE) continue;
      break;
    }
    auto r = std::make_unique<Relay>();
    r->fd = fd;
    r->advertised = advertised;
    Relay* raw = r.get();
    relays_.emplace(advertised, std::move(r));
    Watch(*raw, EPOLLIN);
    allocations_.fetch_add(1, std::memory_order_relaxed);
    return {RelayStatus::kOk, advertised, raw};
  }
  ::close(fd);
  return {RelayStatus::kNoCapacity, {}, nullptr};
}

// An address of `family` to relay from when the client reached us over the other family: a
// listener bound to one, else one of the host's global addresses.
std::optional<Address> RelayThread::OtherFamilyAddress(Family family) const {
  for (const auto& l : udp_) {
    if (l->bound.family() == family && !l->wildcard) return l->bound.WithPort(0);
  }
  for (const auto& l : udp_) {
    if (l->bound.family() != family || !l->wildcard) continue;
    for (const Address& a : opt_.peers.self_addresses) {
      if (a.family() != family) continue;
      PeerVerdict v = PeerPolicy().CheckIp(a);
      if (v == PeerVerdict::kAllowed || v == PeerVerdict::kPrivate) return a.WithPort(0);
    }
  }
  return std::nullopt;
}

void RelayThread::Close(const Address& relayed) {
  auto it = relays_.find(relayed);
  if (it == relays_.end()) return;
  batch_.Flush();  // queued datagrams may name this socket; its number must not be reused under them
  epoll_ctl(ep_, EPOLL_CTL_DEL, it->second->fd, nullptr);
  ::close(it->second->fd);
  Retire(std::move(it->second));
  relays_.erase(it);
  allocations_.fetch_sub(1, std::memory_order_relaxed);
}

// --- UDP ---------------------------------------------------------------------------------------

const UdpListener* RelayThread::ListenerFor(const Address& server) const {
  const UdpListener* wildcard = nullptr;
  for (const auto& l : udp_) {
    if (l->bound == server) return l.get();
    if (l->wildcard && l->bound.port() == server.port() && l->bound.family() == server.family()) wildcard = l.get();
  }
  return wildcard;
}

void RelayThread::Dispatch(const Output& o, bool peer_bytes_in_batch) {
  switch (o.kind) {
    case OutputKind::kNone: return;
    case OutputKind::kToPeer: {
      // Every RelaySocket this thread's Server holds came from Open above.
      auto* relay = static_cast<Relay*>(o.relay_socket);
      if (relay == nullptr) return;
      batch_.Queue(relay->fd, o.peer, nullptr, o.bytes, /*copy=*/!peer_bytes_in_batch);
      return;
    }
    case OutputKind::kToClient: {
      if (o.tuple.transport == Transport::kUdp) {
        const UdpListener* l = ListenerFor(o.tuple.server);
        if (l == nullptr) return;
        batch_.Queue(l->fd, o.tuple.client, l->wildcard ? &o.tuple.server : nullptr, o.bytes, /*copy=*/true);
      } else {
        auto it = streams_.find(o.tuple);
        if (it != streams_.end()) StreamSend(*it->second, o.bytes);
      }
      return;
    }
  }
}

void RelayThread::OnUdp(UdpListener& l) {
  for (int round = 0; round < kBatchesPerEvent; ++round) {
    UdpBatch::Received got = batch_.Receive(l.fd, l.wildcard);
    if (got.count == 0) return;
    for (size_t i = got.first; i < got.first + got.count; ++i) {
      if (batch_.Truncated(i)) {
        drops_.Add(kDropTooBig);
        continue;
      }
      auto client = FromSockaddr(batch_.From(i));
      if (!client) continue;
      Address server = l.wildcard ? batch_.Destination(i, l.bound) : l.bound;
      FiveTuple tuple{*client, server, Transport::kUdp};
      Output o = server_->HandleClient(batch_.Data(i), tuple, now_);
      Dispatch(o, /*peer_bytes_in_batch=*/true);
    }
    if (got.count < UdpBatch::kBatch) return;
  }
}

void RelayThread::OnRelay(Relay& r) {
  for (int round = 0; round < kBatchesPerEvent; ++round) {
    UdpBatch::Received got = batch_.Receive(r.fd, false);
    if (got.count == 0) return;
    for (size_t i = got.first; i < got.first + got.count; ++i) {
      if (batch_.Truncated(i)) {
        drops_.Add(kDropTooBig);
        continue;
      }
      auto peer = FromSockaddr(batch_.From(i));
      if (!peer) continue;
      Output o = server_->HandlePeer(r.advertised, *peer, batch_.Data(i), now_);
      Dispatch(o, /*peer_bytes_in_batch=*/true);
      if (Retired(&r)) return;  // the allocation went away (expired on lookup)
    }
    if (got.count < UdpBatch::kBatch) return;
  }
}

// --- commands and the timer ----------------------------------------------------------------------

void RelayThread::OnWake() {
  uint64_t v;
  ssize_t r = ::read(wake_.fd, &v, sizeof(v));
  (void)r;
  std::vector<std::function<void()>> todo;
  {
    std::lock_guard lock(mu_);
    todo.swap(commands_);
  }
  for (auto& fn : todo) fn();
}

void RelayThread::OnTimer() {
  uint64_t v;
  ssize_t r = ::read(timer_.fd, &v, sizeof(v));
  (void)r;
  server_->Sweep(now_);
  CloseIdleStreams();
  if (opt_.late_own_endpoints) {
    std::vector<Address> late = opt_.late_own_endpoints();
    if (late != late_endpoints_) {
      late_endpoints_ = late;
      PeerPolicyOptions p = opt_.peers;
      p.own_endpoints.insert(p.own_endpoints.end(), late.begin(), late.end());
      *policy_ = PeerPolicy(std::move(p));  // the Server holds a reference to this object
    }
  }
  export_.Publish(server_->counters(), drops_, server_->allocations().Stats(), streams_.size());
}

}  // namespace palaver::turn
