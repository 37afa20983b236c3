#include "palaver/turn/turn_module.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "config.hpp"
#include "engine.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/files.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/sdk/raw_connection.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"
#include "palaver/sdk/services/turn_admin.hpp"
#include "palaver/sdk/services/turn_credentials.hpp"
#include "secret_store.hpp"

namespace palaver::turn {
namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool HostHasIpv6() {
  int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

std::vector<Address> InterfaceAddresses() {
  std::vector<Address> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      if (auto a = Address::FromBytes({reinterpret_cast<const uint8_t*>(&sin->sin_addr), 4}, 0)) out.push_back(*a);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      if (auto a = Address::FromBytes({reinterpret_cast<const uint8_t*>(&sin6->sin6_addr), 16}, 0)) out.push_back(*a);
    }
  }
  freeifaddrs(list);
  return out;
}

bool IsAnyAddress(const Address& a) {
  for (uint8_t b : a.ip()) {
    if (b != 0) return false;
  }
  return true;
}

// Whether a TCP listener at `a` and one at `b` would want the same port on some address
// (`b_text` empty: every address, IPv4 and IPv6, as the host binds it).
bool Overlaps(const Address& a, const std::string& b_text, uint16_t b_port) {
  if (a.port() != b_port) return false;
  if (b_text.empty()) return true;
  auto b = Address::ParseIp(b_text);
  if (!b) return true;  // cannot tell: assume the worst
  if (a.is_v4() != b->is_v4()) return false;
  return IsAnyAddress(a) || IsAnyAddress(*b) || a.SameIp(*b);
}

std::string UriHost(const std::string& host) {
  if (host.find(':') != std::string::npos && !host.starts_with('[')) return "[" + host + "]";
  return host;
}

std::string_view RefusedWhat(Method m) {
  switch (m) {
    case Method::kAllocate: return "allocation";
    case Method::kRefresh: return "refresh";
    case Method::kCreatePermission: return "permission";
    case Method::kChannelBind: return "channel bind";
    default: return "request";
  }
}

// Allocation events at debug on the turn logger, so that an operator can see why a call does not
// connect (`log_levels = turn=debug`); refusals for something we do not support at info. Runs on
// the relay threads; nothing is formatted unless the level is on. Usernames are logged (never a
// password, key or nonce).
EventSink AllocationLog(std::shared_ptr<spdlog::logger> log) {
  return [log = std::move(log)](const Event& e) {
    bool unsupported = e.kind == EventKind::kRefused && e.reason.starts_with("unsupported_");
    if (!log->should_log(unsupported ? spdlog::level::info : spdlog::level::debug)) return;
    std::string client = e.tuple.client.ToString();
    std::string_view transport = TransportName(e.tuple.transport);
    std::string user = sdk::LogSafe(e.username);
    switch (e.kind) {
      case EventKind::kAllocationCreated:
        log->debug("allocation created client={} transport={} user={} relay={} lifetime_s={}", client, transport, user,
                   e.relayed.ToString(), e.lifetime_s);
        return;
      case EventKind::kAllocationRemoved:
        log->debug("allocation {} client={} transport={} user={} relay={} age_s={}", RemovalReasonName(e.removal), client,
                   transport, user, e.relayed.ToString(), e.age_ms / 1000);
        return;
      case EventKind::kRefused:
        if (e.reason == "credentials") {
          log->debug("{} refused client={} transport={} user={} reason=credentials detail={} code={}", RefusedWhat(e.method),
                     client, transport, user, AuthFailureName(e.auth), e.code);
        } else if (e.peer) {
          log->debug("{} refused client={} transport={} user={} reason={} peer={} code={}", RefusedWhat(e.method), client,
                     transport, user, e.reason, e.peer->ToString(), e.code);
        } else if (unsupported) {
          // A client that needs what we do not offer (authenticated, so not a flood source): say so
          // where an admin looks first. coturn's turnutils_uclient asks for port pairs unless -c.
          log->info("{} refused client={} transport={} user={} reason={} code={} (port reservations are not supported; "
                    "turnutils_uclient needs -c)",
                    RefusedWhat(e.method), client, transport, user, e.reason, e.code);
        } else {
          log->debug("{} refused client={} transport={} user={} reason={} code={}", RefusedWhat(e.method), client, transport,
                     user, e.reason, e.code);
        }
        return;
    }
  };
}

int CertCallback(SSL* ssl, void* arg) {
  return sdk::UseCertificateForSni(ssl, *static_cast<sdk::CertificateProvider*>(arg)) ? 1 : 0;
}

// TLS for port 5349: the tls module's certificate per handshake (so a renewed one applies to the
// next connection without a restart), TLS 1.2+, AEAD suites only: the policy of the HTTPS listener (sdk::NewServerTlsContext).
SSL_CTX* MakeTlsContext(sdk::CertificateProvider* provider) {
  SSL_CTX* ctx = sdk::NewServerTlsContext();
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_cert_cb(ctx, CertCallback, provider);
  return ctx;
}

// Issues REST credentials with the module's secret; the URIs are worked out when asked, because
// an ephemeral HTTPS port is only known once the host's listeners are open.
class Credentials final : public sdk::TurnCredentials {
 public:
  Credentials(std::string secret, int64_t ttl, std::function<std::vector<std::string>()> uris)
      : secret_(std::move(secret)), ttl_(ttl), uris_(std::move(uris)) {}
  Result<sdk::TurnCredential> Issue(std::string_view user_id, sdk::TurnUser who) override {
    std::string secret;
    {
      std::lock_guard lock(mu_);
      secret = secret_;
    }
    return sdk::MakeTurnCredential(secret, user_id, NowSeconds(), ttl_, uris_(), who);
  }
  void SetSecret(std::string secret) {
    std::lock_guard lock(mu_);
    secret_ = std::move(secret);
  }

 private:
  std::mutex mu_;
  std::string secret_;
  int64_t ttl_;
  std::function<std::vector<std::string>()> uris_;
};

// TURN over TLS on the HTTPS port: connections the host gave up on as HTTP arrive here (on the
// net loop) and are handed to a relay thread; what the engine sends comes back through Post.
class HttpsFallback final : public sdk::RawConnectionHandler, public std::enable_shared_from_this<HttpsFallback> {
 public:
  HttpsFallback(sdk::NetLoop& loop, Engine& engine, std::shared_ptr<spdlog::logger> log)
      : loop_(loop), engine_(&engine), log_(std::move(log)) {}

  void Detach() {
    std::lock_guard lock(mu_);
    engine_ = nullptr;
  }

  void OnOpen(sdk::RawConnection& conn) override {
    auto client = Address::Parse(conn.PeerEndpoint());
    auto server = Address::Parse(conn.LocalEndpoint());
    if (!client || !server) {
      log_->debug("https fallback: unknown endpoints peer={} local={}", conn.PeerEndpoint(), conn.LocalEndpoint());
      conn.Close();
      return;
    }
    conns_[conn.Id()] = &conn;
    fresh_.insert(conn.Id());
    std::weak_ptr<HttpsFallback> self = weak_from_this();
    uint64_t id = conn.Id();
    ExternalStream s;
    s.client = *client;
    s.server = *server;
    s.transport = Transport::kTls;
    s.send = [self, id](std::span<const uint8_t> bytes) {
      auto me = self.lock();
      if (!me) return;
      me->loop_.Post([self, id, data = std::vector<uint8_t>(bytes.begin(), bytes.end())] {
        auto me2 = self.lock();
        if (!me2) return;
        auto it = me2->conns_.find(id);
        if (it != me2->conns_.end()) it->second->Send(data);
      });
    };
    s.close = [self, id] {
      auto me = self.lock();
      if (!me) return;
      me->loop_.Post([self, id] {
        auto me2 = self.lock();
        if (!me2) return;
        auto it = me2->conns_.find(id);
        if (it != me2->conns_.end()) it->second->Close();
      });
    };
    std::lock_guard lock(mu_);
    if (engine_ != nullptr) engine_->AttachStream(id, std::move(s));
  }

  void OnData(sdk::RawConnection& conn, std::span<const uint8_t> bytes) override {
    if (bytes.empty()) return;
    if (auto it = fresh_.find(conn.Id()); it != fresh_.end()) {
      fresh_.erase(it);
      // A TURN connection starts with a STUN request (first two bits 00). The host hands over
      // only connections whose first byte is 0x00 or 0x01; should anything else arrive, it is
      // answered as HTTP would be instead of being fed to TURN.
      if ((bytes[0] >> 6) != 0) {
        static constexpr std::string_view kAnswer =
            "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        if (bytes[0] >= 'A' && bytes[0] <= 'Z') {
          conn.Send({reinterpret_cast<const uint8_t*>(kAnswer.data()), kAnswer.size()});
        }
        conn.Close();
        return;
      }
    }
    std::lock_guard lock(mu_);
    if (engine_ == nullptr) {
      conn.Close();
      return;
    }
    engine_->StreamData(conn.Id(), bytes);
  }

  void OnClose(sdk::RawConnection& conn) override {
    conns_.erase(conn.Id());
    fresh_.erase(conn.Id());
    std::lock_guard lock(mu_);
    if (engine_ != nullptr) engine_->StreamClosed(conn.Id());
  }

 private:
  sdk::NetLoop& loop_;
  std::mutex mu_;  // guards engine_ (Detach runs on the control thread)
  Engine* engine_;
  std::shared_ptr<spdlog::logger> log_;
  std::unordered_map<uint64_t, sdk::RawConnection*> conns_;  // net loop only
  std::unordered_set<uint64_t> fresh_;                        // no bytes seen yet; net loop only
};

class TurnModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override {
    return {.id = "turn", .description = "STUN/TURN relay (UDP, TCP, TLS, TLS on the HTTPS port)", .depends_on = {"tls"}};
  }

  Status Configure(sdk::ConfigReader& section) override {
    pending_ = ParseTurnConfig(section);
    return OkStatus();
  }

  // --check-config and start: the secret and static users files as Start reads them, and TCP
  // listeners that would take a port the host listens on (Start would bind it first, and the
  // HTTPS listener would then fail).
  void Preflight(const sdk::HostInfo& host, sdk::ConfigReader& section) override {
    std::filesystem::path secret_path = pending_.secret_file.empty() ? host.state_dir / "turn_secret"
                                                                      : std::filesystem::path(pending_.secret_file);
    std::error_code ec;
    if (std::filesystem::exists(secret_path, ec)) {
      auto text = sdk::ReadFileText(secret_path);
      if (!text) {
        section.Reject("secret_file", text.error().message);
      } else if (TrimSecret(*text).size() < kMinSecretChars) {
        section.Reject("secret_file", secret_path.string() + " holds a secret shorter than 16 characters");
      } else {
        sdk::WarnIfReadableByOthers(section, "secret_file", secret_path);
      }
    } else if (!pending_.secret_file.empty() && !std::filesystem::is_directory(secret_path.parent_path(), ec)) {
      section.Reject("secret_file", "would be created, but " + secret_path.parent_path().string() + " is not a directory");
    }
    if (!pending_.static_users_file.empty()) {
      auto text = sdk::ReadFileText(pending_.static_users_file);
      std::string error;
      if (!text) {
        section.Reject("static_users_file", text.error().message);
      } else if (!ParseStaticUsers(*text, &error)) {
        section.Reject("static_users_file", pending_.static_users_file + ": " + error);
      } else {
        sdk::WarnIfReadableByOthers(section, "static_users_file", pending_.static_users_file);
      }
    }
    struct HostPort {
      int port;
      const char* key;
    };
    const HostPort host_ports[] = {{host.https_port, "https_port"}, {host.http_port, "http_port"}};
    auto check = [&](const std::string& key, const Address& a, const char* what) {
      for (const auto& hp : host_ports) {
        if (hp.port <= 0 || !Overlaps(a, host.listen_address, static_cast<uint16_t>(hp.port))) continue;
        std::string why = a.ToString() + " (" + what + ") takes port " + std::to_string(hp.port) +
                          ", which palaverd's own " + (std::string(hp.key) == "https_port" ? "HTTPS" : "plain-HTTP") +
                          " listener uses ([palaver] " + hp.key + ")";
        if (std::string(hp.key) == "https_port") {
          why += "; TURN over TLS on the HTTPS port needs no listener of its own: https_fallback = yes shares it";
        }
        section.Reject(key, why);
      }
    };
    if (pending_.tcp) {
      for (const auto& a : pending_.listen) check("listen", a, "TCP");
    }
    for (const auto& a : pending_.tls_listen) {
      check("tls_listen", a, "TURN over TLS");
      if (!pending_.tcp) continue;
      for (const auto& l : pending_.listen) {
        if (a.port() != 0 && l.is_v4() == a.is_v4() && l.port() == a.port() &&
            (IsAnyAddress(l) || IsAnyAddress(a) || l.SameIp(a))) {
          section.Reject("tls_listen", a.ToString() + " takes the same TCP port as listen " + l.ToString());
        }
      }
    }
  }

  Status Start(sdk::Host& host) override {
    config_ = pending_;
    host_ = &host;
    log_ = host.Logger();
    const sdk::HostInfo& info = host.Info();
    std::string first_host = info.hostnames.empty() ? "localhost" : info.hostnames.front();

    secret_path_ = config_.secret_file.empty() ? info.state_dir / "turn_secret"
                                                : std::filesystem::path(config_.secret_file);
    bool generated = false;
    PALAVER_ASSIGN_OR_RETURN(secrets_, LoadSecrets(secret_path_, config_.credential_ttl.count(), NowSeconds(), &generated));
    if (generated) log_->info("generated TURN secret file={}", secret_path_.string());
    const std::string& secret = secrets_.current;

    EngineOptions o;
    if (!config_.static_users_file.empty()) {
      PALAVER_ASSIGN_OR_RETURN(std::string text, sdk::ReadFileText(config_.static_users_file));
      std::string error;
      auto users = ParseStaticUsers(text, &error);
      if (!users) {
        return Fail(ErrorCode::kFailedPrecondition, config_.static_users_file + ": " + error,
                    "turn: static_users_file " + config_.static_users_file + ": " + error);
      }
      o.auth.static_users = std::move(*users);
    }
    bool v6 = HostHasIpv6();
    auto usable = [&](std::vector<Address> list, bool is_default) {
      if (is_default && !v6) std::erase_if(list, [](const Address& a) { return !a.is_v4(); });
      return list;
    };
    std::vector<Address> listen = usable(config_.listen, config_.listen_is_default);
    if (config_.udp) o.udp = listen;
    if (config_.tcp) o.tcp = listen;
    o.tls = usable(config_.tls_listen, config_.tls_listen_is_default);
    std::shared_ptr<sdk::CertificateProvider> certs;
    if (!o.tls.empty() || config_.https_fallback) {
      certs = host.Registry().Find<sdk::CertificateProvider>();
      if (!certs) return Fail(ErrorCode::kFailedPrecondition, "turn: TURN over TLS needs the tls module");
    }
    if (!o.tls.empty()) {
      certs_ = certs;
      o.tls_context = MakeTlsContext(certs_.get());
      if (o.tls_context == nullptr) return Fail(ErrorCode::kInternal, "turn: cannot create a TLS context");
    }
    o.threads = config_.threads > 0 ? config_.threads
                                    : std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 4);
    o.relay_v4 = config_.relay_v4;
    o.relay_v6 = config_.relay_v6;
    o.external_v4 = config_.external_v4;
    o.external_v6 = config_.external_v6;
    o.min_port = config_.min_port;
    o.max_port = config_.max_port;
    o.server.software = "";  // no version banner
    o.server.events = AllocationLog(log_);
    o.server.limits.max_lifetime_s = config_.max_lifetime.count();
    o.server.limits.max_permissions = static_cast<size_t>(config_.max_permissions);
    o.server.limits.max_channels = static_cast<size_t>(config_.max_channels);
    o.server.limits.bandwidth_bytes_per_s = static_cast<uint64_t>(config_.bandwidth);
    o.server.unauthenticated.per_second = static_cast<uint32_t>(config_.unauthenticated_per_second);
    o.server.unauthenticated.burst = static_cast<uint32_t>(config_.unauthenticated_burst);
    o.max_allocations = static_cast<size_t>(config_.max_allocations);
    o.max_allocations_per_user = static_cast<size_t>(config_.max_allocations_per_user);
    o.auth.realm = config_.realm.empty() ? first_host : config_.realm;
    o.auth.secrets = {secret};
    if (secrets_.previous) o.auth.retired = {*secrets_.previous};
    o.auth.nonce_lifetime_s = config_.nonce_lifetime.count();
    o.auth.now = NowSeconds;
    o.peers.allow_loopback = config_.allow_loopback_peers;
    o.peers.allow_private = config_.allow_private_peers;
    o.peers.guest_private = config_.guest_private_peers;
    o.peers.relay_port_min = config_.min_port;
    o.peers.relay_port_max = config_.max_port;
    o.peers.allowed = config_.allowed_peers;
    o.peers.denied = config_.denied_peers;
    // The appliance's own services are never peers (HTTPS, plain HTTP; the engine adds its own
    // listeners once bound).
    for (int port : {info.https_port, info.http_port, 443, 80}) {
      if (port <= 0) continue;
      o.peers.own_endpoints.push_back(Address::V4(uint32_t{0}, static_cast<uint16_t>(port)));
      o.peers.own_endpoints.push_back(Address::V6({}, static_cast<uint16_t>(port)));
    }
    if (info.https_port == 0 || info.http_port == 0) {
      // Ephemeral ports (tests): known once the host's listeners are open. The host fills them in
      // on the main thread after the modules started and before the net loop starts, so the loop
      // reads them (a task posted now runs once it runs) and hands them to the relay threads
      // through atomics; the relay threads never read host.Info(), which is not theirs
      // (a data race under ThreadSanitizer: tsan.integration.netloop, found by the TSan job).
      auto ports = std::make_shared<std::array<std::atomic<int>, 2>>();
      host.Loop().Post([&host, ports] {
        (*ports)[0].store(host.Info().https_port, std::memory_order_release);
        (*ports)[1].store(host.Info().http_port, std::memory_order_release);
      });
      o.late_own_endpoints = [ports] {
        std::vector<Address> late;
        for (const auto& bound : *ports) {
          int port = bound.load(std::memory_order_acquire);
          if (port <= 0) continue;
          late.push_back(Address::V4(uint32_t{0}, static_cast<uint16_t>(port)));
          late.push_back(Address::V6({}, static_cast<uint16_t>(port)));
        }
        return late;
      };
    }
    o.peers.self_addresses = InterfaceAddresses();
    if (config_.external_v4) o.peers.self_addresses.push_back(*config_.external_v4);
    if (config_.external_v6) o.peers.self_addresses.push_back(*config_.external_v6);
    o.max_streams = static_cast<size_t>(config_.max_connections);
    o.stream_idle_timeout_ms = config_.connection_idle_timeout.count() * 1000;
    o.metrics = &host.Stats();
    o.thread_host = &host.Threads();

    SSL_CTX* tls_context = o.tls_context;
    auto engine = Engine::Start(std::move(o));
    if (tls_context != nullptr) SSL_CTX_free(tls_context);  // the engine holds its own reference
    if (!engine) return tl::unexpected(engine.error());
    engine_ = std::move(*engine);

    if (config_.https_fallback) {
      fallback_ = std::make_shared<HttpsFallback>(host.Loop(), *engine_, log_);
      Status st = host.SetRawFallback(fallback_);
      if (!st) {
        Stop();
        return st;
      }
    }
    public_host_ = config_.public_host.empty() ? first_host : config_.public_host;
    credentials_ = std::make_shared<Credentials>(secret, config_.credential_ttl.count(), [this] { return Uris(); });
    host.Registry().Publish<sdk::TurnCredentials>(credentials_);
    admin_ = std::make_shared<Admin>(this);
    host.Registry().Publish<sdk::TurnAdmin>(admin_);
    EngineSnapshot snap = engine_->Snapshot();
    auto join = [](const std::vector<Address>& list) {
      std::string s;
      for (const auto& a : list) s += (s.empty() ? "" : ",") + a.ToString();
      return s.empty() ? std::string("-") : s;
    };
    log_->info("turn ready udp={} tcp={} tls={} https_fallback={} threads={} realm={} relay_ports={}-{}", join(snap.udp),
               join(snap.tcp), join(snap.tls), config_.https_fallback ? "on" : "off", config_.threads > 0 ? config_.threads : 0,
               config_.realm.empty() ? first_host : config_.realm, config_.min_port, config_.max_port);
    return OkStatus();
  }

  void Stop() override {
    if (host_ != nullptr && engine_) host_->Registry().Withdraw<sdk::TurnCredentials>();
    if (admin_) {
      if (host_ != nullptr) host_->Registry().Withdraw<sdk::TurnAdmin>();
      admin_->Detach();
      admin_.reset();
    }
    if (fallback_) fallback_->Detach();
    if (engine_) engine_->Stop();
  }

  sdk::Health CheckHealth() const override {
    sdk::Health h;
    if (!engine_) {
      h.state = sdk::HealthState::kFailed;
      h.detail = "not running";
      return h;
    }
    EngineSnapshot s = engine_->Snapshot();
    h.detail = "allocations=" + std::to_string(s.allocations) + " connections=" + std::to_string(s.streams);
    return h;
  }

 private:
  // sdk::TurnAdmin for the console; holds the module only while it runs.
  class Admin final : public sdk::TurnAdmin {
   public:
    explicit Admin(TurnModule* module) : module_(module) {}
    void Detach() {
      std::lock_guard lock(mu_);
      module_ = nullptr;
    }
    sdk::TurnOverview Overview() const override {
      std::lock_guard lock(mu_);
      return module_ != nullptr ? module_->MakeOverview() : sdk::TurnOverview{};
    }
    Status RotateSecret() override {
      std::lock_guard lock(mu_);
      if (module_ == nullptr) return Fail(ErrorCode::kUnavailable, "turn is not running", "TURN is not running");
      return module_->Rotate();
    }

   private:
    mutable std::mutex mu_;  // also serialises rotations
    TurnModule* module_;
  };

  // Called under Admin's lock.
  Status Rotate() {
    if (!config_.secret_file.empty()) {
      return Fail(ErrorCode::kFailedPrecondition, "secret_file is set",
                  "the TURN secret comes from secret_file " + config_.secret_file + "; change it there");
    }
    int64_t now = NowSeconds();
    SecretState current;
    {
      std::lock_guard lock(secrets_mu_);
      current = secrets_;
    }
    PALAVER_ASSIGN_OR_RETURN(SecretState next, RotateSecret(secret_path_, current, config_.credential_ttl.count(), now));
    // Accept both before handing out the new one: a credential is never issued for a secret the
    // relay does not know yet.
    engine_->SetSecrets({next.current}, {*next.previous});
    credentials_->SetSecret(next.current);
    {
      std::lock_guard lock(secrets_mu_);
      secrets_ = next;
    }
    log_->info("turn secret rotated file={} previous_accepted_until={}", secret_path_.string(), next.previous->max_expiry);
    return OkStatus();
  }

  sdk::TurnOverview MakeOverview() const {
    sdk::TurnOverview o;
    if (!engine_) return o;
    EngineSnapshot s = engine_->Snapshot();
    for (const auto& a : s.udp) o.listeners.push_back({"udp", a.ToString()});
    for (const auto& a : s.tcp) o.listeners.push_back({"tcp", a.ToString()});
    for (const auto& a : s.tls) o.listeners.push_back({"tls", a.ToString()});
    if (config_.https_fallback && host_ != nullptr && host_->Info().https_port > 0) {
      o.listeners.push_back({"tls-on-https", "port " + std::to_string(host_->Info().https_port)});
    }
    o.public_host = public_host_;
    o.uris = Uris();
    std::string external;
    if (config_.external_v4) external = config_.external_v4->ToString();
    if (config_.external_v6) external += (external.empty() ? "" : ", ") + config_.external_v6->ToString();
    o.external_ips = external;
    o.relay_ports = std::to_string(config_.min_port) + "-" + std::to_string(config_.max_port);
    o.allocations = s.allocations;
    o.connections = s.streams;
    // The engine's traffic counters (published once a second; the same families the engine fills).
    if (host_ != nullptr) {
      for (const char* direction : {"to_peer", "to_client"}) {
        o.relayed_bytes += host_->Stats()
                               .GetCounter("palaver_turn_relayed_bytes_total", "Payload bytes relayed.",
                                           {{"direction", direction}})
                               .Value();
        o.relayed_packets += host_->Stats()
                                 .GetCounter("palaver_turn_relayed_packets_total", "Packets relayed.",
                                             {{"direction", direction}})
                                 .Value();
      }
    }
    o.credential_ttl_s = config_.credential_ttl.count();
    o.secret_rotatable = config_.secret_file.empty();
    o.secret_file = secret_path_.string();
    std::lock_guard lock(secrets_mu_);
    o.secret_changed_unix = secrets_.changed_unix;
    int64_t until = secrets_.previous ? secrets_.previous->max_expiry : 0;
    o.previous_secret_until_unix = until >= NowSeconds() ? until : 0;
    return o;
  }

  std::vector<std::string> Uris() const {
    if (!config_.uris.empty()) return config_.uris;
    std::vector<std::string> uris;
    if (!engine_) return uris;
    EngineSnapshot s = engine_->Snapshot();
    std::string host = UriHost(public_host_);
    if (!s.udp.empty()) uris.push_back("turn:" + host + ":" + std::to_string(s.udp.front().port()) + "?transport=udp");
    if (!s.tcp.empty()) uris.push_back("turn:" + host + ":" + std::to_string(s.tcp.front().port()) + "?transport=tcp");
    if (!s.tls.empty()) uris.push_back("turns:" + host + ":" + std::to_string(s.tls.front().port()) + "?transport=tcp");
    if (config_.https_fallback && host_ != nullptr && host_->Info().https_port > 0) {
      uris.push_back("turns:" + host + ":" + std::to_string(host_->Info().https_port) + "?transport=tcp");
    }
    return uris;
  }

  TurnConfig pending_;
  TurnConfig config_;
  sdk::Host* host_ = nullptr;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<sdk::CertificateProvider> certs_;
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<HttpsFallback> fallback_;
  std::string public_host_;
  std::filesystem::path secret_path_;
  mutable std::mutex secrets_mu_;
  SecretState secrets_;  // under secrets_mu_
  std::shared_ptr<Credentials> credentials_;
  std::shared_ptr<Admin> admin_;
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<TurnModule>(); }

}  // namespace palaver::turn
