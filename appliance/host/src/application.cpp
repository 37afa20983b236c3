#include "palaver/host/application.hpp"

#include <malloc.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <iterator>
#include <mutex>
#include <optional>
#include <typeindex>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "backup.hpp"
#include "host_config.hpp"
#include "ini_file.hpp"
#include "logging.hpp"
#include "metrics_registry.hpp"
#include "net_server.hpp"
#include "palaver/sdk/command.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"
#include "palaver/sdk/services/host_status.hpp"
#include "process_metrics.hpp"
#include "router.hpp"
#include "settings_service.hpp"
#include "sqlite_store.hpp"
#include "systemd_notify.hpp"
#include "thread_host.hpp"
#include "worker_pool.hpp"

namespace palaver::host {
namespace {

class ServiceRegistry final : public sdk::Services {
 protected:
  void PublishErased(std::type_index type, std::shared_ptr<void> service) override {
    std::lock_guard lock(mu_);
    if (service) services_[type] = std::move(service);
    else services_.erase(type);
  }
  std::shared_ptr<void> FindErased(std::type_index type) const override {
    std::lock_guard lock(mu_);
    auto it = services_.find(type);
    return it == services_.end() ? nullptr : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::type_index, std::shared_ptr<void>> services_;
};

const char* HealthName(sdk::HealthState s) {
  switch (s) {
    case sdk::HealthState::kOk: return "ok";
    case sdk::HealthState::kDegraded: return "degraded";
    case sdk::HealthState::kFailed: return "failed";
  }
  return "failed";
}

std::string Join(const std::vector<std::string>& items, const std::string& sep = "\n") {
  std::string out;
  for (const auto& l : items) out += (out.empty() ? "" : sep) + l;
  return out;
}

std::map<std::string, std::string> ValuesOf(const sdk::ConfigSection& section) {
  std::map<std::string, std::string> out;
  for (const auto& [key, entry] : section.entries) out[key] = entry.value;
  return out;
}

// Keys set, unset or changed between two versions of a section (sorted).
std::vector<std::string> ChangedKeys(const std::map<std::string, std::string>& before,
                                     const std::map<std::string, std::string>& after) {
  std::vector<std::string> out;
  for (const auto& [k, v] : after) {
    auto it = before.find(k);
    if (it == before.end() || it->second != v) out.push_back(k);
  }
  for (const auto& [k, v] : before) {
    if (after.count(k) == 0) out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

struct Application::Impl {
  struct Slot;

  // The sdk::Host one module sees.
  class ModuleHost final : public sdk::Host {
   public:
    ModuleHost(Impl& app, const std::string& id)
        : app_(app), id_(id), router_(app.router, id), threads_(app.threads->For(id)) {}
    const sdk::HostInfo& Info() const override { return app_.host_info; }
    std::shared_ptr<spdlog::logger> Logger() override { return GetLogger(id_); }
    sdk::Router& Http() override { return router_; }
    sdk::NetLoop& Loop() override { return *app_.net; }
    sdk::Workers& Pool() override { return *app_.workers; }
    sdk::ThreadHost& Threads() override { return *threads_; }
    sdk::Store& Database() override { return *app_.store; }
    sdk::Settings& Policy() override { return *app_.settings; }
    sdk::Metrics& Stats() override { return app_.metrics; }
    sdk::Services& Registry() override { return app_.services; }
    Status SetRawFallback(std::shared_ptr<sdk::RawConnectionHandler> handler) override {
      if (app_.raw_fallback && handler) {
        return Fail(ErrorCode::kAlreadyExists, "another module already takes non-HTTP connections");
      }
      app_.raw_fallback = std::move(handler);
      return OkStatus();
    }

   private:
    Impl& app_;
    std::string id_;
    ModuleRouter router_;
    std::unique_ptr<sdk::ThreadHost> threads_;
  };

  struct Slot {
    std::string id;
    std::unique_ptr<sdk::Module> module;
    sdk::ModuleInfo info;
    bool enabled = false;
    bool pending_enabled = false;
    bool started = false;
    std::unique_ptr<ModuleHost> host;
    // The section's key = value pairs in effect and from the last Configure: a reload names
    // exactly the keys that changed but need a restart.
    std::map<std::string, std::string> running_values, pending_values;
  };

  StartupOptions options;
  std::vector<Slot> slots;
  HostConfig host_config;          // running
  HostConfig pending_host_config;  // from the last Configure
  std::map<std::string, std::string> host_running_values, host_pending_values;
  bool configured = false;
  sdk::HostInfo host_info;
  std::shared_ptr<spdlog::logger> log = GetLogger("palaver");

  RouterImpl router;
  MetricsRegistry metrics;
  ServiceRegistry services;
  std::unique_ptr<NetServer> net;
  std::unique_ptr<WorkerPool> workers;
  // Threads modules (and the net layer's file reads) start through the host (sdk::ThreadHost).
  std::unique_ptr<ThreadRegistry> threads = std::make_unique<ThreadRegistry>(metrics, GetLogger("palaver"));
  std::unique_ptr<sdk::ThreadHost> host_threads;  // the host's own: the net layer's file readers
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<SettingsService> settings;
  std::optional<StateDirLock> state_lock;  // held from Start until the process ends
  std::atomic<sdk::NetLoop::TimerId> watchdog_timer{0};
  std::atomic<bool> watchdog_on{false};

  // systemd's watchdog (WatchdogSec=): a ping from the net loop itself, so that a loop that hangs
  // stops the pings and systemd restarts the service. Runs on the net loop.
  void PingWatchdog(std::chrono::milliseconds interval) {
    if (!watchdog_on) return;
    SdNotify("WATCHDOG=1");
    watchdog_timer = net->Schedule(interval, [this, interval] { PingWatchdog(interval); });
  }
  std::shared_ptr<sdk::RawConnectionHandler> raw_fallback;
  std::string metrics_token;
  std::vector<std::string> config_overrides;  // drop-in keys hiding an earlier value (last Configure)
  std::vector<std::string> config_key_warnings;  // accepted values an operator should act on (last Configure)
  std::string trust_anchor;
  // Read on the net loop for every /metrics request, replaced by a reload on the control thread.
  mutable std::mutex metrics_allow_mu;
  std::shared_ptr<const std::vector<Cidr>> metrics_allow PALAVER_GUARDED_BY(metrics_allow_mu) =
      std::make_shared<const std::vector<Cidr>>();

  std::shared_ptr<const std::vector<Cidr>> MetricsAllow() const {
    std::lock_guard lock(metrics_allow_mu);
    return metrics_allow;
  }
  void SetMetricsAllow(std::vector<Cidr> nets) {
    auto next = std::make_shared<const std::vector<Cidr>>(std::move(nets));
    std::lock_guard lock(metrics_allow_mu);
    metrics_allow = std::move(next);
  }
  bool stopped = false;

  Slot* Find(const std::string& id) {
    for (auto& s : slots) {
      if (s.id == id) return &s;
    }
    return nullptr;
  }

  Result<std::vector<Slot*>> StartOrder() {
    std::vector<Slot*> order;
    std::set<std::string> done, visiting;
    std::function<Status(Slot&)> visit = [&](Slot& s) -> Status {
      if (done.count(s.id)) return OkStatus();
      if (visiting.count(s.id)) return Fail(ErrorCode::kInternal, "module dependency cycle at " + s.id);
      visiting.insert(s.id);
      for (const auto& dep : s.info.depends_on) {
        Slot* d = Find(dep);
        if (d != nullptr && d->enabled) PALAVER_RETURN_IF_ERROR(visit(*d));
      }
      visiting.erase(s.id);
      done.insert(s.id);
      order.push_back(&s);
      return OkStatus();
    };
    for (auto& s : slots) {
      if (s.enabled) PALAVER_RETURN_IF_ERROR(visit(s));
    }
    return order;
  }

  Status PrepareStateDir(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(ErrorCode::kFailedPrecondition, "cannot create state dir " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0750);
    auto probe = dir / ".palaverd-write-test";
    {
      std::ofstream out(probe);
      out << "ok";
      if (!out) return Fail(ErrorCode::kFailedPrecondition, "state dir " + dir.string() + " is not writable");
    }
    std::filesystem::remove(probe, ec);
    return OkStatus();
  }

  void RegisterHostRoutes() {
    auto trusted = [this](const sdk::Request& req) {
      if (AnyContains(*MetricsAllow(), req.peer)) return true;
      if (metrics_token.empty()) return false;
      auto auth = req.Header("authorization");
      if (!auth || auth->size() < 7 || auth->substr(0, 7) != "Bearer ") return false;
      std::string_view presented = auth->substr(7);
      return presented.size() == metrics_token.size() &&
             CRYPTO_memcmp(presented.data(), metrics_token.data(), metrics_token.size()) == 0;
    };
    // Monitoring is HTTPS only: a metrics token must not travel in clear text, and the plain
    // port redirects everything (docs/security.md).
    sdk::Route health{.methods = {"GET"}, .path = "/healthz", .on_https = true, .on_http = false,
                      .route_class = "healthz"};
    (void)router.Add("palaver", health, [this, trusted](const sdk::Request& req, sdk::Responder respond) {
      sdk::HealthState overall = sdk::HealthState::kOk;
      std::string modules;
      for (auto& s : slots) {
        if (!s.started) continue;
        sdk::Health h;
        try {
          h = s.module->CheckHealth();
        } catch (...) {
          h = {sdk::HealthState::kFailed, "health check threw"};
        }
        if (h.state > overall) overall = h.state;
        modules += std::string(modules.empty() ? "" : ",") + "\"" + s.id + "\":{\"status\":\"" +
                   HealthName(h.state) + "\",\"detail\":\"" + sdk::JsonEscape(h.detail) + "\"}";
      }
      std::string body = std::string("{\"status\":\"") + HealthName(overall) + "\"";
      if (trusted(req)) body += ",\"version\":\"" + sdk::JsonEscape(options.version) + "\",\"modules\":{" + modules + "}";
      body += "}";
      auto r = sdk::Response::Json(overall == sdk::HealthState::kFailed ? 503 : 200, body);
      r.SetHeader("cache-control", "no-store");
      respond(std::move(r));
    });
    sdk::Route metrics_route{.methods = {"GET"}, .path = "/metrics", .on_https = true, .on_http = false,
                             .route_class = "metrics"};
    (void)router.Add("palaver", metrics_route, [this, trusted](const sdk::Request& req, sdk::Responder respond) {
      if (!trusted(req)) {
        respond(sdk::Response::FromError(Error{ErrorCode::kPermissionDenied, "metrics from untrusted client",
                                               "metrics are only served to allowed addresses or with the metrics token"}));
        return;
      }
      // One series per module and state, 1 for the state it is in: alert on
      // `palaver_module_health{state!="ok"} == 1` without knowing a numbering.
      for (auto& s : slots) {
        const char* state = "stopped";
        if (s.started) {
          sdk::Health h;
          try {
            h = s.module->CheckHealth();
          } catch (...) {
            h.state = sdk::HealthState::kFailed;
          }
          state = HealthName(h.state);
        }
        for (const char* each : {"ok", "degraded", "failed", "stopped"}) {
          metrics
              .GetGauge("palaver_module_health", "Module health: 1 for the state each module is in, 0 for the others.",
                        {{"module", s.id}, {"state", each}})
              .Set(std::string_view(each) == state ? 1 : 0);
        }
      }
      sdk::Response r;
      r.body = metrics.RenderPrometheus();
      if (auto process = ReadProcessSample()) {
        r.body += RenderProcessMetrics(*process);
      } else {
        log->debug("process metrics unavailable err={}", process.error().message);
      }
      r.SetHeader("content-type", "text/plain; version=0.0.4; charset=utf-8");
      r.SetHeader("cache-control", "no-store");
      respond(std::move(r));
    });
    // The admin module (console, settings and log-level API) learns module health, recent
    // warnings and the monitoring audience through this SDK service; the host knows no admin code.
    services.Publish<sdk::HostStatus>(std::make_shared<HostStatusImpl>(*this, trusted));
  }

  // Thread-safe: the slots' ids and started flags are read as the /healthz route reads them.
  class HostStatusImpl final : public sdk::HostStatus {
   public:
    HostStatusImpl(Impl& app, std::function<bool(const sdk::Request&)> trusted)
        : app_(app), trusted_(std::move(trusted)) {}
    std::vector<sdk::ModuleStatus> Modules() const override {
      std::vector<sdk::ModuleStatus> out;
      for (auto& s : app_.slots) {
        sdk::ModuleStatus m{.id = s.id, .description = s.info.description, .started = s.started};
        if (s.started) {
          try {
            m.health = s.module->CheckHealth();
          } catch (...) {
            m.health = {sdk::HealthState::kFailed, "health check threw"};
          }
        }
        out.push_back(std::move(m));
      }
      return out;
    }
    std::vector<sdk::LogEntry> RecentWarnings() const override { return host::RecentWarnings(); }
    bool IsMonitoringClient(const sdk::Request& request) const override { return trusted_(request); }

   private:
    Impl& app_;
    std::function<bool(const sdk::Request&)> trusted_;
  };

  void StopModules() {
    for (auto it = slots.rbegin(); it != slots.rend(); ++it) {
      if (!it->started) continue;
      try {
        it->module->Stop();
      } catch (const std::exception& e) {
        log->error("module stop threw module={} err={}", it->id, e.what());
      } catch (...) {
        log->error("module stop threw module={}", it->id);
      }
      router.RemoveOwner(it->id);
      if (net) net->CloseWebSockets(it->id);
      threads->StopOwner(it->id);  // what the module left running
      it->started = false;
      GetLogger(it->id)->info("module stopped");
    }
  }

  // runtime.json: where this process listens, for scripts and tests. Written whole (temporary
  // file + rename) and removed again at a clean stop, so that it never names a process that is gone.
  void WriteRuntimeInfo(const std::string& trust_anchor) {
    auto path = host_config.state_dir / "runtime.json";
    auto tmp = host_config.state_dir / "runtime.json.tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "{\"pid\":" << ::getpid() << ",\"https_port\":" << net->BoundPort("https")
          << ",\"http_port\":" << net->BoundPort("http") << ",\"ca_certificate\":\""
          << sdk::JsonEscape(trust_anchor) << "\",\"version\":\"" << sdk::JsonEscape(options.version) << "\"}\n";
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) log->warn("cannot write runtime file path={} err={}", path.string(), ec.message());
  }

  void RemoveRuntimeInfo() {
    auto path = host_config.state_dir / "runtime.json";
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.starts_with("{\"pid\":" + std::to_string(::getpid()) + ",")) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  }
};

Application::Application(std::vector<BuiltinModule> builtins, StartupOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  for (const auto& b : builtins) {
    Impl::Slot s;
    s.id = b.id;
    s.module = b.factory();
    s.info = s.module->Info();
    impl_->slots.push_back(std::move(s));
  }
}

Application::~Application() { Stop(); }

std::vector<std::string> Application::ConfigWarnings() const {
  std::vector<std::string> all = impl_->config_overrides;
  all.insert(all.end(), impl_->config_key_warnings.begin(), impl_->config_key_warnings.end());
  return all;
}

namespace {

// The metrics token as Start uses it: the first line of the file, at least 16 characters.
Result<std::string> ReadMetricsToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kFailedPrecondition, "cannot read metrics_token_file " + path);
  std::string token;
  std::getline(in, token);
  if (token.size() < 16) {
    return Fail(ErrorCode::kFailedPrecondition, "metrics token in " + path + " is shorter than 16 characters");
  }
  return token;
}

// The state dir Start will create (or use): an existing one must be a writable directory, a new
// one needs an existing directory above it.
std::optional<std::string> StateDirProblem(const std::filesystem::path& dir) {
  std::error_code ec;
  auto status = std::filesystem::status(dir, ec);
  if (std::filesystem::exists(status)) {
    if (!std::filesystem::is_directory(status)) return "is not a directory";
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return "is not writable by this user";
    return std::nullopt;
  }
  for (auto up = dir.parent_path(); !up.empty(); up = up.parent_path()) {
    auto s = std::filesystem::status(up, ec);
    if (std::filesystem::exists(s)) {
      if (!std::filesystem::is_directory(s)) return up.string() + " is not a directory";
      return std::nullopt;
    }
    if (up == up.root_path()) break;
  }
  return std::nullopt;
}

}  // namespace

Status Application::Configure(const std::filesystem::path& config_path, Check depth) {
  PALAVER_ASSIGN_OR_RETURN(IniFile file, LoadConfigFiles(config_path));
  std::vector<std::string> problems;
  impl_->config_overrides = file.overrides;
  impl_->config_key_warnings.clear();
  for (const auto& [name, section] : file.sections) {
    if (name != "palaver" && impl_->Find(name) == nullptr) {
      problems.push_back(section.file + ":" + std::to_string(section.line) + ": unknown section [" + name +
                         "] (no such module in this build)");
    }
  }
  sdk::ConfigSection host_section = file.SectionOrEmpty("palaver");
  std::map<std::string, std::string> host_values = ValuesOf(host_section);
  sdk::ConfigReader host_reader(host_section);
  HostConfig host_config = ParseHostConfig(host_reader);
  bool host_ok = host_reader.Problems().empty();
  if (depth == Check::kForStart && host_ok) {
    if (!host_config.metrics_token_file.empty()) {
      if (auto token = ReadMetricsToken(host_config.metrics_token_file); !token) {
        host_reader.Reject("metrics_token_file", token.error().message);
      } else {
        sdk::WarnIfReadableByOthers(host_reader, "metrics_token_file", host_config.metrics_token_file);
      }
    }
    if (auto problem = StateDirProblem(host_config.state_dir)) host_reader.Reject("state_dir", *problem);
  }
  for (auto& p : host_reader.Problems()) problems.push_back(std::move(p));
  for (const auto& w : host_reader.Warnings()) impl_->config_key_warnings.push_back(w);
  sdk::HostInfo preflight_info;
  preflight_info.hostnames = host_config.hostnames;
  preflight_info.state_dir = host_config.state_dir;
  preflight_info.https_port = host_config.https_port;
  preflight_info.http_port = host_config.http_redirect ? host_config.http_port : -1;
  preflight_info.listen_address = host_config.listen_address;
  preflight_info.version = impl_->options.version;

  for (auto& s : impl_->slots) {
    sdk::ConfigSection section = file.SectionOrEmpty(s.id);
    s.pending_values = ValuesOf(section);
    sdk::ConfigReader reader(section);
    s.pending_enabled = reader.Bool("enabled", s.info.enabled_by_default);
    Status st;
    try {
      st = s.module->Configure(reader);
    } catch (const std::exception& e) {
      st = Fail(ErrorCode::kInternal, std::string("configure threw: ") + e.what());
    }
    if (!st) {
      problems.push_back(section.file + ": [" + s.id + "]: " + st.error().message);
    }
    // What start would find wrong outside the file, only for a module that will start with a
    // config that parsed (and a [palaver] section that did, for the ports it compares with).
    if (depth == Check::kForStart && st && s.pending_enabled && host_ok && reader.Problems().empty()) {
      try {
        s.module->Preflight(preflight_info, reader);
      } catch (const std::exception& e) {
        problems.push_back(section.file + ": [" + s.id + "]: preflight threw: " + e.what());
      }
    }
    // A disabled module's keys are still checked: a typo should not wait until it is enabled.
    for (auto& p : reader.Problems()) problems.push_back(std::move(p));
    if (s.pending_enabled) {
      for (const auto& w : reader.Warnings()) impl_->config_key_warnings.push_back(w);
    }
  }
  for (auto& s : impl_->slots) {
    if (!s.pending_enabled) continue;
    for (const auto& dep : s.info.depends_on) {
      Impl::Slot* d = impl_->Find(dep);
      if (d == nullptr || !d->pending_enabled) {
        problems.push_back(config_path.string() + ": [" + s.id + "] needs module " + dep + ", which is " +
                           (d == nullptr ? "not in this build" : "disabled"));
      }
    }
  }
  if (!problems.empty()) return Fail(ErrorCode::kInvalidArgument, Join(problems));
  impl_->pending_host_config = std::move(host_config);
  impl_->host_pending_values = std::move(host_values);
  impl_->configured = true;
  return OkStatus();
}

Status Application::Start() {
  Impl& a = *impl_;
  PALAVER_CHECK(a.configured);
  // A fixed mmap threshold: blocks of 1 MiB and more (argon2id's 19 MiB per password check, large
  // bodies) come from mmap and go back to the system when freed; the net layer's 256 KiB file
  // chunks and buffers stay on the heap, reused without a system call. glibc's default raises
  // the threshold to the largest block freed so far, after which every worker thread kept a
  // password check's 19 MiB in its heap for good (an idle server grew by ~80 MB after a few
  // sign-ins; integration test test_signin "give their memory back"). Setting it turns that off.
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 2 * 1024 * 1024);
  a.host_config = a.pending_host_config;
  a.host_running_values = a.host_pending_values;
  for (auto& s : a.slots) {
    s.enabled = s.pending_enabled;
    s.running_values = s.pending_values;
  }
  const HostConfig& hc = a.host_config;
  a.SetMetricsAllow(hc.metrics_allow);
  // Create every logger first so that configured and SPDLOG_LEVEL levels reach all of them.
  GetLogger("net");
  for (auto& s : a.slots) GetLogger(s.id);
  ApplyLogLevels(hc.log_level, hc.log_levels);
  SetJsonLogFormat(hc.log_json);

  a.host_info.hostnames = hc.hostnames;
  a.host_info.state_dir = hc.state_dir;
  a.host_info.https_port = hc.https_port;
  a.host_info.http_port = hc.http_redirect ? hc.http_port : -1;
  a.host_info.listen_address = hc.listen_address;
  a.host_info.foreground = a.options.foreground;
  a.host_info.version = a.options.version;

  PALAVER_RETURN_IF_ERROR(a.PrepareStateDir(hc.state_dir));
  // One server per state dir; `palaverd restore` takes the same lock.
  if (!a.state_lock) {
    auto lock = StateDirLock::Acquire(hc.state_dir);
    if (!lock) return Fail(ErrorCode::kFailedPrecondition, lock.error().message + "; only one may use it");
    a.state_lock = std::move(*lock);
  }
  if (!hc.metrics_token_file.empty()) {
    PALAVER_ASSIGN_OR_RETURN(a.metrics_token, ReadMetricsToken(hc.metrics_token_file));
  }
  PALAVER_ASSIGN_OR_RETURN(a.store, SqliteStore::Open(hc.state_dir / "palaver.db", hc.busy_timeout));

  a.metrics
      .GetGauge("palaver_build_info", "Always 1; the labels name the running build.",
                {{"version", a.options.version}, {"commit", a.options.commit.empty() ? "unknown" : a.options.commit}})
      .Set(1);
  a.net = std::make_unique<NetServer>(hc.limits, a.router, a.metrics, GetLogger("net"));
  PALAVER_RETURN_IF_ERROR(a.net->Create());
  a.host_threads = a.threads->For("host");
  PALAVER_RETURN_IF_ERROR(a.net->StartFileReaders(*a.host_threads, 2));
  a.workers = std::make_unique<WorkerPool>(hc.workers, hc.worker_queue_size, *a.net, GetLogger("palaver"), &a.metrics);
  a.settings = std::make_unique<SettingsService>(*a.store, *a.net);
  PALAVER_RETURN_IF_ERROR(a.settings->Init());
  a.RegisterHostRoutes();

  PALAVER_ASSIGN_OR_RETURN(auto order, a.StartOrder());
  for (Impl::Slot* s : order) {
    s->host = std::make_unique<Impl::ModuleHost>(a, s->id);
    Status st;
    try {
      st = s->module->Start(*s->host);
    } catch (const std::exception& e) {
      st = Fail(ErrorCode::kInternal, std::string("start threw: ") + e.what());
    }
    s->started = true;  // Stop() must run even after a partial Start
    if (!st) {
      std::string msg = "module " + s->id + " failed to start: " + st.error().message;
      a.StopModules();
      return Fail(st.error().code, msg);
    }
    GetLogger(s->id)->info("module started");
  }

  std::vector<ListenerSpec> listeners;
  listeners.push_back({"https", hc.listen_address, hc.https_port, true});
  if (hc.http_redirect) listeners.push_back({"http", hc.listen_address, hc.http_port, false});
  auto certs = a.services.Find<sdk::CertificateProvider>();
  Status listen = a.net->Listen(listeners, certs, RedirectTarget{hc.hostnames.front(), hc.https_port, hc.hostnames}, a.raw_fallback);
  if (!listen) {
    a.StopModules();
    return listen;
  }
  // Modules that publish URLs (the OIDC issuer) read the port actually bound.
  if (hc.https_port == 0) a.host_info.https_port = a.net->BoundPort("https");
  a.net->SetAccessLog(hc.access_log);
  a.net->SetTrustedProxies(hc.trusted_proxies, hc.proxy_header);
  a.net->Start();
  a.trust_anchor = certs ? certs->TrustAnchorPath() : std::string();
  a.WriteRuntimeInfo(a.trust_anchor);
  for (const auto& o : a.config_overrides) a.log->info("config drop-in: {}", o);
  // What --check-config prints as warnings (e.g. a secret file others may read), in the log too:
  // a service that systemd starts has no other place to say it. At start only: a reload checks
  // the file, not the files it names (no Preflight), and modules that watch a file themselves
  // (the TLS key) log changes as they see them.
  for (const auto& w : a.config_key_warnings) a.log->warn("config {}", w);
  a.log->info("listening https={} http={} state_dir={}", a.net->BoundPort("https"), a.net->BoundPort("http"),
              hc.state_dir.string());
  // Type=notify: the service is up only now, with every listener open.
  SdNotify("READY=1\nSTATUS=Serving https on port " + std::to_string(a.net->BoundPort("https")) + "\nMAINPID=" +
           std::to_string(::getpid()));
  if (auto interval = WatchdogPingInterval()) {
    a.log->info("systemd watchdog on ping_interval_ms={}", interval->count());
    a.watchdog_on = true;
    a.net->Post([&a, interval = *interval] { a.PingWatchdog(interval); });
  }
  return OkStatus();
}

Status Application::Reload(const std::filesystem::path& config_path) {
  Impl& a = *impl_;
  SdNotify("RELOADING=1");
  struct ReadyAgain {
    ~ReadyAgain() { SdNotify("READY=1"); }
  } ready_again;
  Status st = Configure(config_path);
  if (!st) {
    a.log->error("reload rejected file={}: the running configuration stays in place:\n{}", config_path.string(),
                 st.error().message);
    return st;
  }
  const HostConfig& next = a.pending_host_config;
  // What needs a restart, by section: only keys whose value changed are named.
  std::vector<std::string> restart_needed;
  {
    std::vector<std::string> host_keys;
    for (const auto& k : ChangedKeys(a.host_running_values, a.host_pending_values)) {
      if (k != "log_level" && k != "log_levels" && k != "log_format" && k != "metrics_allow" && k != "access_log" &&
          k != "trusted_proxies" && k != "proxy_header") {
        host_keys.push_back(k);
      }
    }
    if (!host_keys.empty()) restart_needed.push_back("[palaver] " + Join(host_keys, ", "));
  }
  a.host_config.log_level = next.log_level;
  a.host_config.log_levels = next.log_levels;
  a.host_config.metrics_allow = next.metrics_allow;
  a.SetMetricsAllow(next.metrics_allow);
  a.host_config.access_log = next.access_log;
  a.net->SetAccessLog(next.access_log);
  a.host_config.trusted_proxies = next.trusted_proxies;
  a.host_config.proxy_header = next.proxy_header;
  a.net->SetTrustedProxies(next.trusted_proxies, next.proxy_header);
  ApplyLogLevels(next.log_level, next.log_levels);
  a.host_config.log_json = next.log_json;
  SetJsonLogFormat(next.log_json);
  for (const char* live :
       {"log_level", "log_levels", "log_format", "metrics_allow", "access_log", "trusted_proxies", "proxy_header"}) {
    if (auto it = a.host_pending_values.find(live); it != a.host_pending_values.end()) {
      a.host_running_values[live] = it->second;
    } else {
      a.host_running_values.erase(live);
    }
  }
  Status result = OkStatus();
  std::vector<std::string> failed;
  for (auto& s : a.slots) {
    if (s.pending_enabled != s.enabled) {
      restart_needed.push_back("[" + s.id + "] enabled = " + (s.pending_enabled ? "yes" : "no"));
      continue;
    }
    if (!s.started) {
      s.running_values = s.pending_values;  // nothing runs that could use them
      continue;
    }
    Status r;
    try {
      r = s.module->Reload();
    } catch (const std::exception& e) {
      r = Fail(ErrorCode::kInternal, std::string("reload threw: ") + e.what());
    }
    if (!r && r.error().code == ErrorCode::kUnimplemented) {
      auto changed = ChangedKeys(s.running_values, s.pending_values);
      if (!changed.empty()) restart_needed.push_back("[" + s.id + "] " + Join(changed, ", "));
    } else if (!r) {
      a.log->error("reload of module {} failed: {}", s.id, r.error().message);
      failed.push_back(s.id);
      result = r;
    } else {
      s.running_values = s.pending_values;
    }
  }
  // One line that says how the reload ended.
  if (!failed.empty()) {
    a.log->error("reload partly applied file={}: modules {} kept their old configuration{}{}", config_path.string(),
                 Join(failed, ", "), restart_needed.empty() ? "" : "; restart needed for ", Join(restart_needed, "; "));
  } else if (!restart_needed.empty()) {
    a.log->warn("reload partly applied file={}: restart needed for {}", config_path.string(), Join(restart_needed, "; "));
  } else {
    a.log->info("reload applied file={}", config_path.string());
  }
  return result;
}

void Application::Stop() {
  Impl& a = *impl_;
  if (a.stopped || !a.net) return;
  a.stopped = true;
  SdNotify("STOPPING=1");
  a.watchdog_on = false;
  if (sdk::NetLoop::TimerId t = a.watchdog_timer.load()) a.net->Cancel(t);
  a.log->info("stopping: draining requests timeout_ms={}", a.host_config.drain_timeout.count());
  a.net->BeginDrain();
  if (!a.net->WaitIdle(a.host_config.drain_timeout)) a.log->warn("drain deadline passed with requests in flight");
  a.StopModules();
  if (a.workers) a.workers->Shutdown();
  a.net->Shutdown();
  a.threads->StopAll();
  a.RemoveRuntimeInfo();
  a.log->info("stopped");
}

std::vector<std::string> Application::CommandNames() const {
  std::vector<std::string> out;
  for (const auto& s : impl_->slots) {
    for (auto& c : s.module->Commands()) out.push_back(c);
  }
  return out;
}

int Application::RunCommand(const std::filesystem::path& config_path, const std::string& command,
                            const std::vector<std::string>& args) {
  Impl& a = *impl_;
  if (command == "backup" || command == "restore") return RunBackupCommand(config_path, command, args);
  Impl::Slot* owner = nullptr;
  for (auto& s : a.slots) {
    for (const auto& c : s.module->Commands()) {
      if (c == command) owner = &s;
    }
  }
  if (owner == nullptr) return -1;
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::string usage = owner->module->CommandUsage(command);
    std::fputs(usage.empty() ? ("palaverd " + command + ": no help available\n").c_str() : usage.c_str(), stdout);
    return 0;
  }
  Status st = Configure(config_path);
  if (!st) {
    std::fprintf(stderr, "palaverd: invalid configuration:\n%s\n", st.error().message.c_str());
    return 2;
  }
  if (!owner->pending_enabled) {
    std::fprintf(stderr, "palaverd %s: module %s is disabled in %s\n", command.c_str(), owner->id.c_str(),
                 config_path.c_str());
    return 1;
  }
  a.host_config = a.pending_host_config;
  ApplyLogLevels(a.host_config.log_level, a.host_config.log_levels);
  a.host_info.hostnames = a.host_config.hostnames;
  a.host_info.state_dir = a.host_config.state_dir;
  a.host_info.version = a.options.version;
  st = a.PrepareStateDir(a.host_config.state_dir);
  if (st) {
    auto store = SqliteStore::Open(a.host_config.state_dir / "palaver.db", a.host_config.busy_timeout);
    if (!store) st = Fail(store.error());
    else a.store = std::move(*store);
  }
  if (!st) {
    std::fprintf(stderr, "palaverd %s: %s\n", command.c_str(), st.error().message.c_str());
    return 1;
  }
  sdk::CommandContext ctx{*a.store, a.host_info};
  int code = 1;
  try {
    code = owner->module->RunCommand(command, args, ctx);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "palaverd %s: internal error: %s\n", command.c_str(), e.what());
  }
  // Run as root on the service's state dir: what the command created stays usable by the service.
  // If it cannot be given to the service's user, the command failed in effect: the service could
  // not open what it made.
  if (Status owned = GiveRootOwnedFilesToStateDirOwner(a.host_config.state_dir); !owned) {
    std::fprintf(stderr, "palaverd %s: %s; the service cannot use them until their owner is fixed (chown -R)\n",
                 command.c_str(), owned.error().message.c_str());
    return code == 0 ? 1 : code;
  }
  return code;
}

int Application::RunBackupCommand(const std::filesystem::path& config_path, const std::string& command,
                                  const std::vector<std::string>& args) {
  Impl& a = *impl_;
  bool backup = command == "backup";
  if (args.size() != 1 || args[0] == "--help" || args[0] == "-h" || args[0].empty() || args[0][0] == '-') {
    bool help = args.size() == 1 && (args[0] == "--help" || args[0] == "-h");
    std::fprintf(help ? stdout : stderr,
                 backup ? "Usage: palaverd backup FILE [--config FILE]\n"
                          "Writes the whole state (users, signing keys, clients, settings, local CA, TURN secret)\n"
                          "to FILE (mode 0600), while the server keeps running. FILE holds secrets: keep it like a\n"
                          "private key.\n"
                        : "Usage: palaverd restore FILE [--config FILE]\n"
                          "Replaces the state in the config's state dir by the backup FILE. palaverd must be stopped\n"
                          "first (systemctl stop palaver); the previous database is kept as palaver.db.pre-restore.\n");
    return help ? 0 : 2;
  }
  Status st = Configure(config_path);
  if (!st) {
    std::fprintf(stderr, "palaverd: invalid configuration:\n%s\n", st.error().message.c_str());
    return 2;
  }
  const HostConfig& hc = a.pending_host_config;
  std::filesystem::path file = args[0];
  if (backup) {
    auto report = BackupStateDir(hc.state_dir, file, hc.busy_timeout, a.options.version);
    if (!report) {
      std::fprintf(stderr, "palaverd backup: %s\n", report.error().message.c_str());
      return 1;
    }
    std::printf("Backed up %s to %s (%lld bytes, %d further files).\n"
                "It holds signing keys and password hashes: keep it as secret as a private key.\n",
                hc.state_dir.c_str(), file.c_str(), static_cast<long long>(report->database_bytes), report->files);
    return 0;
  }
  st = a.PrepareStateDir(hc.state_dir);
  if (!st) {
    std::fprintf(stderr, "palaverd restore: %s\n", st.error().message.c_str());
    return 1;
  }
  auto report = RestoreStateDir(hc.state_dir, file);
  // e.g. the lock file, made by this process.
  if (Status owned = GiveRootOwnedFilesToStateDirOwner(hc.state_dir); !owned) {
    std::fprintf(stderr, "palaverd restore: %s; the service cannot use them until their owner is fixed (chown -R)\n",
                 owned.error().message.c_str());
    if (report) return 1;
  }
  if (!report) {
    std::fprintf(stderr, "palaverd restore: %s\n", report.error().message.c_str());
    if (report.error().code == ErrorCode::kUnavailable && report.error().message.starts_with("palaverd is running")) {
      std::fprintf(stderr, "Stop it first (systemctl stop palaver), run the restore again, then start it "
                           "(systemctl start palaver). Nothing was changed.\n");
    }
    return 1;
  }
  std::printf("Restored %s into %s (%d further files); the previous database is kept as %s.\n"
              "Start palaverd again (systemctl start palaver).\n",
              file.c_str(), hc.state_dir.c_str(), report->files, (hc.state_dir / "palaver.db.pre-restore").c_str());
  return 0;
}

std::string Application::Summary() const {
  const Impl& a = *impl_;
  int port = a.net ? a.net->BoundPort("https") : -1;
  std::string url = "https://" + a.host_config.hostnames.front() + (port == 443 ? "" : ":" + std::to_string(port)) + "/";
  std::string out = "palaverd " + a.options.version + " is running.\n";
  out += "  Open:            " + url + "\n";
  if (a.net && a.net->BoundPort("http") >= 0) {
    out += "  Plain HTTP:      port " + std::to_string(a.net->BoundPort("http")) + " redirects to HTTPS\n";
  }
  if (!a.trust_anchor.empty()) {
    out += "  CA certificate:  " + a.trust_anchor + "\n";
    out += "                   (import it into your browser or system trust store to trust " + url + ")\n";
  }
  if (std::getenv("JOURNAL_STREAM") != nullptr) {  // run by systemd: no terminal to press keys in
    out += "  Stop / reload:   systemctl stop|reload palaver (or kill -TERM|-HUP " + std::to_string(::getpid()) + ")\n";
  } else {
    out += "  Stop:            press Ctrl-C, or: kill -TERM " + std::to_string(::getpid()) + "\n";
    out += "  Reload config:   kill -HUP " + std::to_string(::getpid()) + "\n";
  }
  return out;
}

std::map<std::string, std::set<std::string>> Application::AcceptedKeys(const std::vector<BuiltinModule>& builtins) {
  std::map<std::string, std::set<std::string>> out;
  sdk::ConfigSection host_section;
  host_section.name = "palaver";
  sdk::ConfigReader host_reader(host_section);
  (void)ParseHostConfig(host_reader);
  out["palaver"] = host_reader.KeysAsked();
  for (const auto& b : builtins) {
    auto module = b.factory();
    sdk::ConfigSection section;
    section.name = b.id;
    sdk::ConfigReader reader(section);
    (void)reader.Bool("enabled", true);
    (void)module->Configure(reader);
    out[b.id] = reader.KeysAsked();
  }
  return out;
}

}  // namespace palaver::host
