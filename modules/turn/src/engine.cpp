#include "engine.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>
#include <unordered_set>
#include <csignal>
#include <unordered_map>

#include "palaver/sdk/check.hpp"

namespace palaver::turn {
namespace {

constexpr size_t kBatch = 32;           // datagrams per recvmmsg
constexpr size_t kPool = 256;           // receive slots shared by one round of epoll events
constexpr size_t kSlot = 4096;          // bytes per receive slot (bigger datagrams are dropped)
constexpr size_t kSendBatch = 256;      // datagrams queued before sendmmsg
constexpr size_t kSendSlot = 2048;      // copied output up to this size is batched
constexpr int kBatchesPerEvent = 8;     // recvmmsg rounds before looking at other sockets
constexpr size_t kStreamReadPerEvent = 256 * 1024;
constexpr size_t kCmsgSpace = CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo));

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

socklen_t ToSockaddr(const Address& a, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof(ss));
  if (a.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(a.port());
    std::memcpy(&sin->sin_addr, a.ip().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(a.port());
  std::memcpy(&sin6->sin6_addr, a.ip().data(), 16);
  return sizeof(sockaddr_in6);
}

std::optional<Address> FromSockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    return Address::FromBytes({reinterpret_cast<const uint8_t*>(&sin->sin_addr), 4}, ntohs(sin->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    return Address::FromBytes({reinterpret_cast<const uint8_t*>(&sin6->sin6_addr), 16}, ntohs(sin6->sin6_port));
  }
  return std::nullopt;
}

bool IsUnspecified(const Address& a) {
  for (uint8_t b : a.ip()) {
    if (b != 0) return false;
  }
  return true;
}

int Domain(const Address& a) { return a.is_v4() ? AF_INET : AF_INET6; }

std::string Errno(const std::string& what, const Address& a) {
  return what + " " + a.ToString() + ": " + std::strerror(errno);
}

enum class HandleKind : uint8_t { kUdpListener, kStreamListener, kRelay, kStream, kWake, kTimer };

struct Handle {
  HandleKind kind;
  int fd = -1;
  explicit Handle(HandleKind k) : kind(k) {}
};

struct UdpListener : Handle {
  Address bound;
  bool wildcard = false;
  UdpListener() : Handle(HandleKind::kUdpListener) {}
};

struct StreamListener : Handle {
  Address bound;
  bool tls = false;
  StreamListener() : Handle(HandleKind::kStreamListener) {}
};

struct Relay : Handle {
  Address advertised;
  Relay() : Handle(HandleKind::kRelay) {}
};

struct Stream : Handle {
  FiveTuple tuple;
  SSL* ssl = nullptr;
  bool handshaking = false;
  bool external = false;
  uint64_t external_id = 0;
  ExternalStream ext;
  std::vector<uint8_t> in;
  std::vector<uint8_t> out;
  size_t out_off = 0;
  bool want_out = false;  // EPOLLOUT registered
  int64_t created_ms = 0;
  int64_t last_ms = 0;
  Stream() : Handle(HandleKind::kStream) {}
};

// Metric objects shared by the threads (null when there is no registry).
struct EngineMetrics {
  sdk::Gauge* allocations = nullptr;
  sdk::Gauge* permissions = nullptr;
  sdk::Gauge* channels = nullptr;
  sdk::Gauge* streams = nullptr;
  sdk::Counter* requests[5] = {};
  sdk::Counter* indications = nullptr;
  sdk::Counter* channel_data = nullptr;
  sdk::Counter* peer_data = nullptr;
  sdk::Counter* challenges = nullptr;
  sdk::Counter* auth_failures = nullptr;
  sdk::Counter* stale_nonces = nullptr;
  sdk::Counter* forbidden = nullptr;
  sdk::Counter* quota = nullptr;
  sdk::Counter* relay_failures = nullptr;
  sdk::Counter* errors = nullptr;
  sdk::Counter* packets[2] = {};  // to_peer, to_client
  sdk::Counter* bytes[2] = {};
  sdk::Counter* drops[11] = {};
};

enum Drop {
  kDropMalformed,
  kDropNoAllocation,
  kDropNoChannel,
  kDropNoPermission,
  kDropForbidden,
  kDropBandwidth,
  kDropUnauthenticated,
  kDropTooBig,
  kDropSendFailed,
  kDropQueueFull,
  kDropStreamGarbage,
};
constexpr const char* kDropNames[] = {"malformed",         "no_allocation", "no_channel",  "no_permission",
                                      "forbidden_peer",    "bandwidth",     "unauthenticated_rate", "too_big",
                                      "send_failed",       "stream_queue_full", "stream_garbage"};

void Add(sdk::Counter* c, uint64_t n) {
  if (c != nullptr && n != 0) c->Inc(n);
}

EngineMetrics MakeMetrics(sdk::Metrics* m) {
  EngineMetrics e;
  if (m == nullptr) return e;
  e.allocations = &m->GetGauge("turn_allocations", "TURN allocations.");
  e.permissions = &m->GetGauge("turn_permissions", "TURN permissions (all allocations).");
  e.channels = &m->GetGauge("turn_channels", "TURN channel bindings (all allocations).");
  e.streams = &m->GetGauge("turn_stream_connections", "TURN connections over TCP and TLS.");
  const char* methods[] = {"binding", "allocate", "refresh", "create_permission", "channel_bind"};
  for (int i = 0; i < 5; ++i) {
    e.requests[i] = &m->GetCounter("turn_requests_total", "STUN/TURN requests.", {{"method", methods[i]}});
  }
  e.indications = &m->GetCounter("turn_send_indications_total", "Send indications from clients.");
  e.channel_data = &m->GetCounter("turn_channel_data_total", "ChannelData messages from clients.");
  e.peer_data = &m->GetCounter("turn_peer_datagrams_total", "Datagrams from peers at relayed addresses.");
  e.challenges = &m->GetCounter("turn_challenges_total", "401 challenges to requests without credentials.");
  e.auth_failures = &m->GetCounter("turn_auth_failures_total", "Requests whose credentials did not hold.");
  e.stale_nonces = &m->GetCounter("turn_stale_nonces_total", "438 Stale Nonce answers.");
  e.forbidden = &m->GetCounter("turn_forbidden_peers_total", "403 answers for peers the policy refuses.");
  e.quota = &m->GetCounter("turn_quota_rejections_total", "Allocations refused by a quota (486, 508).");
  e.relay_failures = &m->GetCounter("turn_relay_failures_total", "Allocations without a relay port or family.");
  e.errors = &m->GetCounter("turn_error_responses_total", "Error responses of any kind.");
  e.packets[0] = &m->GetCounter("turn_relayed_packets_total", "Packets relayed.", {{"direction", "to_peer"}});
  e.packets[1] = &m->GetCounter("turn_relayed_packets_total", "Packets relayed.", {{"direction", "to_client"}});
  e.bytes[0] = &m->GetCounter("turn_relayed_bytes_total", "Payload bytes relayed.", {{"direction", "to_peer"}});
  e.bytes[1] = &m->GetCounter("turn_relayed_bytes_total", "Payload bytes relayed.", {{"direction", "to_client"}});
  for (int i = 0; i < 11; ++i) {
    e.drops[i] = &m->GetCounter("turn_dropped_total", "Messages dropped.", {{"reason", kDropNames[i]}});
  }
  return e;
}

}  // namespace

// --- one relay thread --------------------------------------------------------------------------

struct Engine::Thread final : RelayAllocator {
  Thread(Engine& engine, int index, const EngineMetrics& metrics)
      : engine_(engine), opt_(engine.options_), metrics_(metrics), rng_(std::random_device{}() + index) {}

  ~Thread() override {
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

  Status Init() {
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
    server_ = std::make_unique<Server>(so, *engine_.auth_, *policy_, *this);
    server_->allocations().SetSharedQuota(engine_.quota_.get());
    return OkStatus();
  }

  void AddUdp(int fd, const Address& bound) {
    auto l = std::make_unique<UdpListener>();
    l->fd = fd;
    l->bound = bound;
    l->wildcard = IsUnspecified(bound);
    Watch(*l, EPOLLIN);
    udp_.push_back(std::move(l));
  }

  void AddStreamListener(int fd, const Address& bound, bool tls) {
    auto l = std::make_unique<StreamListener>();
    l->fd = fd;
    l->bound = bound;
    l->tls = tls;
    Watch(*l, EPOLLIN);
    listeners_.push_back(std::move(l));
  }

  void Run() {
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
        if (!stale_.empty() && stale_.count(h) != 0) continue;  // closed earlier in this round
        switch (h->kind) {
          case HandleKind::kUdpListener: OnUdp(*static_cast<UdpListener*>(h)); break;
          case HandleKind::kRelay: OnRelay(*static_cast<Relay*>(h)); break;
          case HandleKind::kStreamListener: OnAccept(*static_cast<StreamListener*>(h)); break;
          case HandleKind::kStream: OnStream(*static_cast<Stream*>(h), events[i].events); break;
          case HandleKind::kWake: OnWake(); break;
          case HandleKind::kTimer: OnTimer(); break;
        }
      }
      Flush();  // the round's datagrams, one sendmmsg per socket
      stale_.clear();
      graveyard_.clear();
    }
  }

  void Post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      commands_.push_back(std::move(fn));
    }
    uint64_t one = 1;
    ssize_t w = ::write(wake_.fd, &one, sizeof(one));
    (void)w;
  }

  // --- RelayAllocator --------------------------------------------------------------------

  RelayResult Open(const FiveTuple& client, Family family, bool even_port) override {
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
  std::optional<Address> OtherFamilyAddress(Family family) const {
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

  void Close(const Address& relayed) override {
    auto it = relays_.find(relayed);
    if (it == relays_.end()) return;
    Flush();  // queued datagrams may name this socket; its number must not be reused under them
    epoll_ctl(ep_, EPOLL_CTL_DEL, it->second->fd, nullptr);
    ::close(it->second->fd);
    stale_.insert(it->second.get());
    graveyard_.push_back(std::move(it->second));  // events of this round may still point at it
    relays_.erase(it);
    allocations_.fetch_sub(1, std::memory_order_relaxed);
  }

  // --- external streams (relay thread) ---------------------------------------------------

  void Attach(uint64_t id, ExternalStream ext) {
    auto s = std::make_unique<Stream>();
    s->external = true;
    s->external_id = id;
    s->tuple = FiveTuple{ext.client, ext.server, ext.transport};
    s->ext = std::move(ext);
    s->created_ms = s->last_ms = NowMs();
    Stream* raw = s.get();
    if (streams_.count(raw->tuple) != 0) {  // the same client address twice: refuse the newcomer
      if (raw->ext.close) raw->ext.close();
      return;
    }
    external_[id] = raw;
    streams_.emplace(raw->tuple, std::move(s));
    engine_.streams_.fetch_add(1, std::memory_order_relaxed);
  }

  void ExternalData(uint64_t id, const std::vector<uint8_t>& bytes) {
    auto it = external_.find(id);
    if (it == external_.end()) return;
    now_ = NowMs();
    Stream& s = *it->second;
    s.in.insert(s.in.end(), bytes.begin(), bytes.end());
    s.last_ms = now_;
    if (!ProcessStreamInput(s)) {
      CloseStream(s, /*tell_external=*/true);
    }
    Flush();
  }

  void ExternalClosed(uint64_t id) {
    auto it = external_.find(id);
    if (it == external_.end()) return;
    now_ = NowMs();
    CloseStream(*it->second, /*tell_external=*/false);
    Flush();
  }

  Engine& engine_;
  const EngineOptions& opt_;
  const EngineMetrics& metrics_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> allocations_{0};

 private:
  // --- batches ---------------------------------------------------------------------------

  // Receive slots for a whole round of epoll events: data to peers is sent straight from its
  // slot, so slots stay in use until the round's sends are flushed, and sends to one socket from
  // many events go out in one sendmmsg.
  struct RecvPool {
    std::vector<uint8_t> data = std::vector<uint8_t>(kPool * kSlot);
    mmsghdr msgs[kPool]{};
    iovec iov[kPool]{};
    sockaddr_storage from[kPool]{};
    alignas(cmsghdr) uint8_t control[kPool][kCmsgSpace]{};
    size_t used = 0;

    // Sets up the next `n` slots from `used`.
    void Prepare(size_t n, bool want_control) {
      for (size_t i = used; i < used + n; ++i) {
        iov[i] = {data.data() + i * kSlot, kSlot};
        msghdr& h = msgs[i].msg_hdr;
        h.msg_name = &from[i];
        h.msg_namelen = sizeof(from[i]);
        h.msg_iov = &iov[i];
        h.msg_iovlen = 1;
        h.msg_control = want_control ? control[i] : nullptr;
        h.msg_controllen = want_control ? sizeof(control[i]) : 0;
        h.msg_flags = 0;
        msgs[i].msg_len = 0;
      }
    }
  };

  struct SendEntry {
    int fd = -1;
    sockaddr_storage to{};
    socklen_t to_len = 0;
    bool has_src = false;
    Address src;
    const uint8_t* data = nullptr;
    size_t size = 0;
  };

  // Queues a datagram. `copy`: the bytes are in the Server's output buffer (reused by the next
  // call), so they are copied into a slot; otherwise they live in the receive batch until Flush.
  void QueueDatagram(int fd, const Address& to, const Address* src, std::span<const uint8_t> bytes, bool copy) {
    if (copy && bytes.size() > kSendSlot) {
      Flush();
      SendOne(fd, to, src, bytes);
      return;
    }
    if (tx_count_ == kSendBatch) Flush();
    SendEntry& e = tx_[tx_count_];
    e.fd = fd;
    e.to_len = ToSockaddr(to, e.to);
    e.has_src = src != nullptr;
    if (src != nullptr) e.src = *src;
    if (copy) {
      uint8_t* slot = tx_data_.data() + tx_count_ * kSendSlot;
      std::memcpy(slot, bytes.data(), bytes.size());
      e.data = slot;
    } else {
      e.data = bytes.data();
    }
    e.size = bytes.size();
    ++tx_count_;
  }

  static size_t FillSource(const Address& src, uint8_t* control) {
    cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
    if (src.is_v4()) {
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo info{};
      std::memcpy(&info.ipi_spec_dst, src.ip().data(), 4);
      std::memcpy(CMSG_DATA(c), &info, sizeof(info));
      return CMSG_SPACE(sizeof(in_pktinfo));
    }
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    in6_pktinfo info{};
    std::memcpy(&info.ipi6_addr, src.ip().data(), 16);
    std::memcpy(CMSG_DATA(c), &info, sizeof(info));
    return CMSG_SPACE(sizeof(in6_pktinfo));
  }

  void SendOne(int fd, const Address& to, const Address* src, std::span<const uint8_t> bytes) {
    sockaddr_storage ss;
    socklen_t len = ToSockaddr(to, ss);
    iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    msghdr h{};
    h.msg_name = &ss;
    h.msg_namelen = len;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    alignas(cmsghdr) uint8_t control[kCmsgSpace]{};
    if (src != nullptr) {
      h.msg_control = control;
      h.msg_controllen = FillSource(*src, control);
    }
    if (::sendmsg(fd, &h, MSG_DONTWAIT) < 0) ++local_drops_[kDropSendFailed];
  }

  // The first slot for the next recvmmsg of at most kBatch datagrams. Slots are reused only
  // when no queued send points into them.
  size_t NextRecvSlots(bool want_control) {
    if (tx_count_ == 0) rx_.used = 0;
    if (kPool - rx_.used < kBatch) {
      Flush();
      rx_.used = 0;
    }
    rx_.Prepare(kBatch, want_control);
    return rx_.used;
  }

  // Sends everything queued: one sendmmsg per socket (order kept per socket).
  void Flush() {
    if (tx_count_ == 0) return;
    for (size_t k = 0; k < tx_count_; ++k) tx_order_[k] = static_cast<uint16_t>(k);
    std::stable_sort(tx_order_, tx_order_ + tx_count_, [this](uint16_t a, uint16_t b) { return tx_[a].fd < tx_[b].fd; });
    size_t i = 0;
    while (i < tx_count_) {
      size_t j = i;
      while (j < tx_count_ && tx_[tx_order_[j]].fd == tx_[tx_order_[i]].fd) ++j;
      size_t n = j - i;
      int fd = tx_[tx_order_[i]].fd;
      for (size_t k = 0; k < n; ++k) {
        SendEntry& e = tx_[tx_order_[i + k]];
        tx_iov_[k] = {const_cast<uint8_t*>(e.data), e.size};
        msghdr& h = tx_msgs_[k].msg_hdr;
        h = msghdr{};
        h.msg_name = &e.to;
        h.msg_namelen = e.to_len;
        h.msg_iov = &tx_iov_[k];
        h.msg_iovlen = 1;
        if (e.has_src) {
          h.msg_control = tx_control_[k];
          h.msg_controllen = FillSource(e.src, tx_control_[k]);
        }
      }
      size_t sent = 0;
      while (sent < n) {
        int r = ::sendmmsg(fd, tx_msgs_ + sent, static_cast<unsigned>(n - sent), MSG_DONTWAIT);
        if (r > 0) {
          sent += static_cast<size_t>(r);
          continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
          local_drops_[kDropSendFailed] += n - sent;  // the socket buffer is full: UDP drops
          break;
        }
        ++local_drops_[kDropSendFailed];  // this destination failed; go on with the rest
        ++sent;
      }
      i = j;
    }
    tx_count_ = 0;
  }

  // --- events ----------------------------------------------------------------------------

  void Watch(Handle& h, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &h;
    epoll_ctl(ep_, EPOLL_CTL_ADD, h.fd, &ev);
  }

  void Modify(Handle& h, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &h;
    epoll_ctl(ep_, EPOLL_CTL_MOD, h.fd, &ev);
  }

  const UdpListener* ListenerFor(const Address& server) const {
    const UdpListener* wildcard = nullptr;
    for (const auto& l : udp_) {
      if (l->bound == server) return l.get();
      if (l->wildcard && l->bound.port() == server.port() && l->bound.family() == server.family()) wildcard = l.get();
    }
    return wildcard;
  }

  void Dispatch(const Output& o, bool peer_bytes_in_batch) {
    switch (o.kind) {
      case OutputKind::kNone: return;
      case OutputKind::kToPeer: {
        auto* relay = static_cast<Relay*>(o.relay_handle);
        if (relay == nullptr) return;
        QueueDatagram(relay->fd, o.peer, nullptr, o.bytes, /*copy=*/!peer_bytes_in_batch);
        return;
      }
      case OutputKind::kToClient: {
        if (o.tuple.transport == Transport::kUdp) {
          const UdpListener* l = ListenerFor(o.tuple.server);
          if (l == nullptr) return;
          QueueDatagram(l->fd, o.tuple.client, l->wildcard ? &o.tuple.server : nullptr, o.bytes, /*copy=*/true);
        } else {
          auto it = streams_.find(o.tuple);
          if (it != streams_.end()) StreamSend(*it->second, o.bytes);
        }
        return;
      }
    }
  }

  void OnUdp(UdpListener& l) {
    for (int round = 0; round < kBatchesPerEvent; ++round) {
      size_t first = NextRecvSlots(l.wildcard);
      int n = ::recvmmsg(l.fd, rx_.msgs + first, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      rx_.used += static_cast<size_t>(n);
      for (size_t i = first; i < first + static_cast<size_t>(n); ++i) {
        const msghdr& h = rx_.msgs[i].msg_hdr;
        if ((h.msg_flags & MSG_TRUNC) != 0) {
          ++local_drops_[kDropTooBig];
          continue;
        }
        auto client = FromSockaddr(rx_.from[i]);
        if (!client) continue;
        Address server = l.bound;
        if (l.wildcard) {
          for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&h)); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
              in_pktinfo info;
              std::memcpy(&info, CMSG_DATA(c), sizeof(info));
              server = Address::FromBytes({reinterpret_cast<const uint8_t*>(&info.ipi_addr), 4}, l.bound.port()).value_or(server);
            } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
              in6_pktinfo info;
              std::memcpy(&info, CMSG_DATA(c), sizeof(info));
              server = Address::FromBytes({reinterpret_cast<const uint8_t*>(&info.ipi6_addr), 16}, l.bound.port()).value_or(server);
            }
          }
        }
        FiveTuple tuple{*client, server, Transport::kUdp};
        Output o = server_->HandleClient({rx_.data.data() + i * kSlot, rx_.msgs[i].msg_len}, tuple, now_);
        Dispatch(o, /*peer_bytes_in_batch=*/true);
      }
      if (static_cast<size_t>(n) < kBatch) return;
    }
  }

  void OnRelay(Relay& r) {
    for (int round = 0; round < kBatchesPerEvent; ++round) {
      size_t first = NextRecvSlots(false);
      int n = ::recvmmsg(r.fd, rx_.msgs + first, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      rx_.used += static_cast<size_t>(n);
      for (size_t i = first; i < first + static_cast<size_t>(n); ++i) {
        if ((rx_.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
          ++local_drops_[kDropTooBig];
          continue;
        }
        auto peer = FromSockaddr(rx_.from[i]);
        if (!peer) continue;
        Output o = server_->HandlePeer(r.advertised, *peer, {rx_.data.data() + i * kSlot, rx_.msgs[i].msg_len}, now_);
        Dispatch(o, /*peer_bytes_in_batch=*/true);
        if (!stale_.empty() && stale_.count(&r) != 0) return;  // the allocation went away (expired on lookup)
      }
      if (static_cast<size_t>(n) < kBatch) return;
    }
  }

  void OnAccept(StreamListener& l) {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage ss;
      socklen_t len = sizeof(ss);
      int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      auto client = FromSockaddr(ss);
      if (!client || engine_.streams_.load(std::memory_order_relaxed) >= opt_.max_streams) {
        ::close(fd);
        continue;
      }
      sockaddr_storage local;
      socklen_t local_len = sizeof(local);
      Address server = l.bound;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
        server = FromSockaddr(local).value_or(server);
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto s = std::make_unique<Stream>();
      s->fd = fd;
      s->tuple = FiveTuple{*client, server, l.tls ? Transport::kTls : Transport::kTcp};
      s->created_ms = s->last_ms = now_;
      if (l.tls) {
        s->ssl = SSL_new(opt_.tls_context);
        if (s->ssl == nullptr || SSL_set_fd(s->ssl, fd) != 1) {
          if (s->ssl != nullptr) SSL_free(s->ssl);
          ::close(fd);
          continue;
        }
        SSL_set_accept_state(s->ssl);
        s->handshaking = true;
      }
      if (streams_.count(s->tuple) != 0) {  // cannot happen with real sockets; be safe
        if (s->ssl != nullptr) SSL_free(s->ssl);
        ::close(fd);
        continue;
      }
      Stream* raw = s.get();
      streams_.emplace(raw->tuple, std::move(s));
      engine_.streams_.fetch_add(1, std::memory_order_relaxed);
      Watch(*raw, EPOLLIN | EPOLLRDHUP);
    }
  }

  // Returns false on a fatal TLS error.
  bool ContinueHandshake(Stream& s) {
    ERR_clear_error();
    int r = SSL_do_handshake(s.ssl);
    if (r == 1) {
      s.handshaking = false;
      SetWantOut(s, false);
      return true;
    }
    int e = SSL_get_error(s.ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
      SetWantOut(s, false);  // level-triggered EPOLLOUT would spin while we wait for the client
      return true;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
      SetWantOut(s, true);
      return true;
    }
    return false;
  }

  void OnStream(Stream& s, uint32_t events) {
    if ((events & (EPOLLERR | EPOLLHUP)) != 0 && (events & EPOLLIN) == 0) {
      CloseStream(s, false);
      return;
    }
    if (s.handshaking) {
      if (!ContinueHandshake(s)) {
        CloseStream(s, false);
        return;
      }
      if (s.handshaking) return;
    }
    if ((events & EPOLLOUT) != 0) {
      if (!FlushStream(s)) {
        CloseStream(s, false);
        return;
      }
    }
    if ((events & (EPOLLIN | EPOLLRDHUP)) != 0 || (s.ssl != nullptr && SSL_pending(s.ssl) > 0)) {
      uint8_t buf[16384];
      size_t total = 0;
      bool eof = false;
      while (total < kStreamReadPerEvent) {
        ssize_t n;
        if (s.ssl != nullptr) {
          ERR_clear_error();
          int r = SSL_read(s.ssl, buf, sizeof(buf));
          if (r <= 0) {
            int e = SSL_get_error(s.ssl, r);
            if (e == SSL_ERROR_WANT_READ) break;
            if (e == SSL_ERROR_WANT_WRITE) {
              SetWantOut(s, true);
              break;
            }
            eof = true;
            break;
          }
          n = r;
        } else {
          n = ::read(s.fd, buf, sizeof(buf));
          if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            eof = true;
            break;
          }
          if (n == 0) {
            eof = true;
            break;
          }
        }
        total += static_cast<size_t>(n);
        s.in.insert(s.in.end(), buf, buf + n);
        s.last_ms = now_;
        if (!ProcessStreamInput(s)) {
          CloseStream(s, false);
          return;
        }
        if (stale_.count(&s) != 0) return;
      }
      if (eof) CloseStream(s, false);
    }
  }

  // Cuts frames out of s.in and handles them. False: garbage (close the stream).
  bool ProcessStreamInput(Stream& s) {
    size_t off = 0;
    bool ok = true;
    while (off < s.in.size()) {
      Frame f = NextFrame({s.in.data() + off, s.in.size() - off});
      if (f.status == FrameStatus::kNeedMore) break;
      if (f.status != FrameStatus::kComplete) {
        ++local_drops_[kDropStreamGarbage];
        ok = false;
        break;
      }
      Output o = server_->HandleClient({s.in.data() + off, f.size}, s.tuple, now_);
      Dispatch(o, /*peer_bytes_in_batch=*/false);
      off += f.size;
      if (stale_.count(&s) != 0) return true;
    }
    if (ok && off > 0) s.in.erase(s.in.begin(), s.in.begin() + static_cast<ptrdiff_t>(off));
    return ok;
  }

  void SetWantOut(Stream& s, bool want) {
    if (s.external || s.want_out == want) return;
    s.want_out = want;
    Modify(s, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u));
  }

  // Writes what is queued. False on a fatal error.
  bool FlushStream(Stream& s) {
    while (s.out_off < s.out.size()) {
      const uint8_t* p = s.out.data() + s.out_off;
      size_t len = s.out.size() - s.out_off;
      ssize_t n;
      if (s.ssl != nullptr) {
        ERR_clear_error();
        int r = SSL_write(s.ssl, p, static_cast<int>(std::min<size_t>(len, 1 << 20)));
        if (r <= 0) {
          int e = SSL_get_error(s.ssl, r);
          if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            SetWantOut(s, true);
            return true;
          }
          return false;
        }
        n = r;
      } else {
        n = ::send(s.fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            SetWantOut(s, true);
            return true;
          }
          if (errno == EINTR) continue;
          return false;
        }
      }
      s.out_off += static_cast<size_t>(n);
    }
    s.out.clear();
    s.out_off = 0;
    SetWantOut(s, false);
    return true;
  }

  void StreamSend(Stream& s, std::span<const uint8_t> bytes) {
    if (s.external) {
      if (s.ext.send) s.ext.send(bytes);
      return;
    }
    if (s.handshaking) return;  // nothing can be for a client that has not finished TLS
    if (s.out.size() - s.out_off + bytes.size() > opt_.stream_send_queue_bytes) {
      ++local_drops_[kDropQueueFull];
      return;
    }
    s.out.insert(s.out.end(), bytes.begin(), bytes.end());
    if (!s.want_out && !FlushStream(s)) CloseStream(s, false);
  }

  void CloseStream(Stream& s, bool tell_external) {
    if (stale_.count(&s) != 0) return;
    // RFC 8656 §3.1/§5: an allocation made over a TCP/TLS connection ends with the connection.
    if (Allocation* a = server_->allocations().Find(s.tuple, now_)) server_->allocations().Remove(*a);
    stale_.insert(&s);
    if (s.external) {
      external_.erase(s.external_id);
      if (tell_external && s.ext.close) s.ext.close();
    } else {
      epoll_ctl(ep_, EPOLL_CTL_DEL, s.fd, nullptr);
      if (s.ssl != nullptr) {
        SSL_free(s.ssl);
        s.ssl = nullptr;
      }
      ::close(s.fd);
    }
    auto it = streams_.find(s.tuple);
    if (it != streams_.end() && it->second.get() == &s) {
      graveyard_.push_back(std::move(it->second));
      streams_.erase(it);
    }
    engine_.streams_.fetch_sub(1, std::memory_order_relaxed);
  }

  void OnWake() {
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

  void OnTimer() {
    uint64_t v;
    ssize_t r = ::read(timer_.fd, &v, sizeof(v));
    (void)r;
    server_->Sweep(now_);
    std::vector<Stream*> idle;
    for (auto& [tuple, s] : streams_) {
      if (s->handshaking && now_ - s->created_ms > opt_.tls_handshake_timeout_ms) {
        idle.push_back(s.get());
      } else if (now_ - s->last_ms > opt_.stream_idle_timeout_ms && server_->allocations().Find(tuple, now_) == nullptr) {
        idle.push_back(s.get());
      }
    }
    for (Stream* s : idle) CloseStream(*s, /*tell_external=*/true);
    if (opt_.late_own_endpoints) {
      std::vector<Address> late = opt_.late_own_endpoints();
      if (late != late_endpoints_) {
        late_endpoints_ = late;
        PeerPolicyOptions p = opt_.peers;
        p.own_endpoints.insert(p.own_endpoints.end(), late.begin(), late.end());
        *policy_ = PeerPolicy(std::move(p));  // the Server holds a reference to this object
      }
    }
    PublishMetrics();
  }

  void PublishMetrics() {
    const ServerCounters& c = server_->counters();
    const ServerCounters& p = published_;
    const EngineMetrics& m = metrics_;
    Add(m.requests[0], c.binding_requests - p.binding_requests);
    Add(m.requests[1], c.allocate_requests - p.allocate_requests);
    Add(m.requests[2], c.refresh_requests - p.refresh_requests);
    Add(m.requests[3], c.create_permission_requests - p.create_permission_requests);
    Add(m.requests[4], c.channel_bind_requests - p.channel_bind_requests);
    Add(m.indications, c.send_indications - p.send_indications);
    Add(m.channel_data, c.channel_data_in - p.channel_data_in);
    Add(m.peer_data, c.peer_data_in - p.peer_data_in);
    Add(m.challenges, c.challenges - p.challenges);
    Add(m.auth_failures, c.auth_failures - p.auth_failures);
    Add(m.stale_nonces, c.stale_nonces - p.stale_nonces);
    Add(m.forbidden, c.forbidden_peers - p.forbidden_peers);
    Add(m.quota, c.quota_rejections - p.quota_rejections);
    Add(m.relay_failures, c.relay_failures - p.relay_failures);
    Add(m.errors, c.error_responses - p.error_responses);
    Add(m.packets[0], c.packets_to_peer - p.packets_to_peer);
    Add(m.packets[1], c.packets_to_client - p.packets_to_client);
    Add(m.bytes[0], c.bytes_to_peer - p.bytes_to_peer);
    Add(m.bytes[1], c.bytes_to_client - p.bytes_to_client);
    Add(m.drops[kDropMalformed], c.dropped_malformed - p.dropped_malformed);
    Add(m.drops[kDropNoAllocation], c.dropped_no_allocation - p.dropped_no_allocation);
    Add(m.drops[kDropNoChannel], c.dropped_no_channel - p.dropped_no_channel);
    Add(m.drops[kDropNoPermission], c.dropped_no_permission - p.dropped_no_permission);
    Add(m.drops[kDropForbidden], c.dropped_forbidden - p.dropped_forbidden);
    Add(m.drops[kDropBandwidth], c.dropped_rate_limited - p.dropped_rate_limited);
    Add(m.drops[kDropUnauthenticated], c.dropped_unauthenticated_limit - p.dropped_unauthenticated_limit);
    for (int d = kDropTooBig; d <= kDropStreamGarbage; ++d) {
      Add(m.drops[d], local_drops_[d] - published_drops_[d]);
      published_drops_[d] = local_drops_[d];
    }
    published_ = c;
    TableStats t = server_->allocations().Stats();
    auto gauge = [](sdk::Gauge* g, int64_t& last, int64_t now) {
      if (g != nullptr) g->Add(now - last);
      last = now;
    };
    gauge(m.allocations, last_allocations_, static_cast<int64_t>(t.allocations));
    gauge(m.permissions, last_permissions_, static_cast<int64_t>(t.permissions));
    gauge(m.channels, last_channels_, static_cast<int64_t>(t.channels));
    gauge(m.streams, last_streams_, static_cast<int64_t>(streams_.size()));
  }

 public:
  // Takes this thread's share out of the gauges (at stop).
  void RetractGauges() {
    auto retract = [](sdk::Gauge* g, int64_t& last) {
      if (g != nullptr) g->Add(-last);
      last = 0;
    };
    retract(metrics_.allocations, last_allocations_);
    retract(metrics_.permissions, last_permissions_);
    retract(metrics_.channels, last_channels_);
    retract(metrics_.streams, last_streams_);
  }

 private:
  std::mt19937 rng_;
  int ep_ = -1;
  Handle wake_{HandleKind::kWake};
  Handle timer_{HandleKind::kTimer};
  std::unique_ptr<PeerPolicy> policy_;  // this thread's copy (see late_own_endpoints)
  std::vector<Address> late_endpoints_;
  std::unique_ptr<Server> server_;
  std::vector<std::unique_ptr<UdpListener>> udp_;
  std::vector<std::unique_ptr<StreamListener>> listeners_;
  std::unordered_map<Address, std::unique_ptr<Relay>, AddressHash> relays_;
  std::unordered_map<FiveTuple, std::unique_ptr<Stream>, FiveTupleHash> streams_;
  std::unordered_map<uint64_t, Stream*> external_;
  std::unordered_set<const Handle*> stale_;
  std::vector<std::unique_ptr<Handle>> graveyard_;
  std::mutex mu_;
  std::vector<std::function<void()>> commands_;
  int64_t now_ = 0;

  RecvPool rx_;
  SendEntry tx_[kSendBatch];
  uint16_t tx_order_[kSendBatch]{};
  size_t tx_count_ = 0;
  std::vector<uint8_t> tx_data_ = std::vector<uint8_t>(kSendBatch * kSendSlot);
  mmsghdr tx_msgs_[kSendBatch]{};
  iovec tx_iov_[kSendBatch]{};
  alignas(cmsghdr) uint8_t tx_control_[kSendBatch][kCmsgSpace]{};

  ServerCounters published_;
  uint64_t local_drops_[11] = {};
  uint64_t published_drops_[11] = {};
  int64_t last_allocations_ = 0, last_permissions_ = 0, last_channels_ = 0, last_streams_ = 0;
};

// --- Engine ----------------------------------------------------------------------------------

namespace {

// One socket per thread on `address` (SO_REUSEPORT); an ephemeral port is resolved by the first.
Result<std::vector<int>> BindEach(Address& address, int type, int count, int buffer_bytes) {
  std::vector<int> fds;
  auto fail = [&](const std::string& what) -> Result<std::vector<int>> {
    std::string msg = Errno(what, address);
    for (int fd : fds) ::close(fd);
    return Fail(ErrorCode::kUnavailable, msg, "TURN listener");
  };
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(Domain(address), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket");
    fds.push_back(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (!address.is_v4()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (type == SOCK_DGRAM) {
      if (address.is_v4()) {
        setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
      } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
      }
      if (buffer_bytes > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
      }
    }
    sockaddr_storage ss;
    socklen_t len = ToSockaddr(address, ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail("bind");
    if (type == SOCK_STREAM && ::listen(fd, 1024) != 0) return fail("listen");
    if (address.port() == 0) {
      sockaddr_storage bound;
      socklen_t blen = sizeof(bound);
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) != 0) return fail("getsockname");
      address = FromSockaddr(bound).value_or(address);
    }
  }
  return fds;
}

EngineMetrics* SharedMetrics(sdk::Metrics* m) {
  // Metric objects live as long as the registry; one EngineMetrics per registry is enough.
  static std::mutex mu;
  static std::vector<std::pair<sdk::Metrics*, std::unique_ptr<EngineMetrics>>> all;
  std::lock_guard lock(mu);
  for (auto& [reg, em] : all) {
    if (reg == m) return em.get();
  }
  all.emplace_back(m, std::make_unique<EngineMetrics>(MakeMetrics(m)));
  return all.back().second.get();
}

}  // namespace

Engine::~Engine() { Stop(); }

Result<std::unique_ptr<Engine>> Engine::Start(EngineOptions options) {
  if (options.threads < 1) options.threads = 1;
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

  const EngineMetrics* metrics = SharedMetrics(o.metrics);
  std::vector<std::vector<std::pair<int, Address>>> udp(o.threads), tcp(o.threads), tls(o.threads);
  auto close_all = [&] {
    for (auto* group : {&udp, &tcp, &tls}) {
      for (auto& per : *group) {
        for (auto& [fd, a] : per) ::close(fd);
      }
    }
  };
  auto bind_all = [&](std::vector<Address>& addresses, int type, std::vector<std::vector<std::pair<int, Address>>>& out,
                      std::vector<Address>& bound) -> Status {
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

  for (int t = 0; t < o.threads; ++t) {
    auto th = std::make_unique<Thread>(*e, t, *metrics);
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
    Thread* raw = th.get();
    raw->thread_ = std::thread([raw] {
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, nullptr);
      raw->Run();
    });
  }
  return e;
}

void Engine::Stop() {
  if (stopped_.exchange(true)) return;
  for (auto& th : threads_) {
    th->stop_ = true;
    th->Post([] {});
  }
  for (auto& th : threads_) {
    if (th->thread_.joinable()) th->thread_.join();
    th->RetractGauges();
  }
  // The threads stay (joined) until destruction, so that Snapshot() stays safe to call.
  if (options_.tls_context != nullptr) {
    SSL_CTX_free(options_.tls_context);
    options_.tls_context = nullptr;
  }
}

Engine::Thread& Engine::ThreadFor(uint64_t id) { return *threads_[id % threads_.size()]; }

void Engine::AttachStream(uint64_t id, ExternalStream stream) {
  if (stopped_ || threads_.empty()) return;
  Thread& t = ThreadFor(id);
  t.Post([&t, id, s = std::move(stream)]() mutable { t.Attach(id, std::move(s)); });
}

void Engine::StreamData(uint64_t id, std::span<const uint8_t> bytes) {
  if (stopped_ || threads_.empty()) return;
  Thread& t = ThreadFor(id);
  t.Post([&t, id, data = std::vector<uint8_t>(bytes.begin(), bytes.end())] { t.ExternalData(id, data); });
}

void Engine::StreamClosed(uint64_t id) {
  if (stopped_ || threads_.empty()) return;
  Thread& t = ThreadFor(id);
  t.Post([&t, id] { t.ExternalClosed(id); });
}

EngineSnapshot Engine::Snapshot() const {
  EngineSnapshot s;
  for (const auto& th : threads_) s.allocations += th->allocations_.load(std::memory_order_relaxed);
  s.streams = streams_.load(std::memory_order_relaxed);
  s.udp = bound_udp_;
  s.tcp = bound_tcp_;
  s.tls = bound_tls_;
  return s;
}

}  // namespace palaver::turn
