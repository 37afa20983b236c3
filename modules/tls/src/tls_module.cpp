// Lifecycle glue of the `tls` module: load the certificate (files or local CA), publish it,
// watch it, reload it, report its health.
#include "palaver/tls/tls_module.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "cert_store.hpp"
#include "config.hpp"
#include "identity.hpp"
#include "key_mode.hpp"
#include "local_ca.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/host.hpp"

namespace palaver::tls {
namespace {

using Clock = std::chrono::system_clock;
using Stamps = std::pair<FileStamp, FileStamp>;  // certificate file, key file

// Health turns degraded this long before the certificate expires.
constexpr std::chrono::days kExpiryWarning{14};
// In local-CA mode the server certificate is re-checked (and renewed when due) this often.
constexpr std::chrono::hours kLocalCaCheckInterval{12};

enum class ExpiryState { kOk, kSoon, kExpired };

ExpiryState ExpiryOf(const sdk::TlsIdentity& identity, Clock::time_point now) {
  if (identity.not_after <= now) return ExpiryState::kExpired;
  if (identity.not_after - now < kExpiryWarning) return ExpiryState::kSoon;
  return ExpiryState::kOk;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

int64_t UnixSeconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// An identity freshly loaded from the configured source, not yet in service.
struct Loaded {
  std::shared_ptr<sdk::TlsIdentity> identity;
  std::string trust_anchor;             // local-CA mode: path of ca.crt
  std::optional<Stamps> stamps;         // files mode: the files as they were before reading
  std::optional<LocalCaOutcome> local_ca;
};

// State shared by the module and its timer and worker callbacks. Held by shared_ptr so that a
// callback running after Stop() still finds it, sees it stopped and does nothing.
struct Shared {
  // Set in Start, then immutable.
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<CertStore> store;
  sdk::Gauge* expiry_gauge = nullptr;
  sdk::Counter* reloads = nullptr;
  sdk::Counter* reload_failures = nullptr;
  std::filesystem::path local_ca_dir;
  std::vector<std::string> hostnames;

  // The timer chain. Held only briefly (never across I/O); also taken on the net loop.
  std::mutex timer_mu;
  bool alive PALAVER_GUARDED_BY(timer_mu) = true;  // false from Stop on: no more timers or host calls
  sdk::Host* host PALAVER_GUARDED_BY(timer_mu) = nullptr;
  uint64_t chain PALAVER_GUARDED_BY(timer_mu) = 0;  // bumped to retire the running chain
  bool timer_armed PALAVER_GUARDED_BY(timer_mu) = false;
  sdk::NetLoop::TimerId timer PALAVER_GUARDED_BY(timer_mu) = 0;

  // Serializes loading and swapping (Start, Reload, periodic checks); held across file I/O.
  std::mutex apply_mu;
  bool stopped PALAVER_GUARDED_BY(apply_mu) = false;
  TlsConfig config PALAVER_GUARDED_BY(apply_mu);
  std::optional<Stamps> loaded_stamps PALAVER_GUARDED_BY(apply_mu);  // files behind the served identity
  std::optional<Stamps> failed_stamps PALAVER_GUARDED_BY(apply_mu);  // files whose failure was reported
  std::string failure_logged PALAVER_GUARDED_BY(apply_mu);          // local-CA mode: last error logged
  ExpiryState expiry_state PALAVER_GUARDED_BY(apply_mu) = ExpiryState::kOk;
  std::string key_mode_warned PALAVER_GUARDED_BY(apply_mu);  // files mode: last key permission warning

  // Read by CheckHealth, which must not wait for a load in progress.
  mutable std::mutex health_mu;
  std::string last_error PALAVER_GUARDED_BY(health_mu);  // non-empty while the last reload failed
};

// Files mode: warns when the key file is readable by its group or others (once per change of
// that state; a fixed mode is noted at info). REQUIRES: s.apply_mu held.
void NoteKeyMode(Shared& s) {
  std::string warning = s.config.UsesFiles() ? KeyFileTooOpen(s.config.key).value_or("") : "";
  if (warning == s.key_mode_warned) return;
  if (!warning.empty()) {
    s.log->warn("{}", warning);
  } else if (s.config.UsesFiles()) {
    s.log->info("private key file is private now path={}", s.config.key.string());
  }
  s.key_mode_warned = warning;
}

void SetLastError(Shared& s, std::string error) {
  std::lock_guard<std::mutex> lock(s.health_mu);
  s.last_error = std::move(error);
}

// Loads the identity `config` describes. Blocking file I/O; OpenSSL work for the local CA.
Result<Loaded> Load(const Shared& s, const TlsConfig& config, Clock::time_point now) {
  Loaded out;
  if (config.UsesFiles()) {
    // Stamps first: if the files change while being read, the next check sees new stamps again.
    out.stamps = Stamps{StampFile(config.certificate), StampFile(config.key)};
    PALAVER_ASSIGN_OR_RETURN(out.identity, LoadIdentityFiles(config.certificate, config.key, "files"));
    return out;
  }
  LocalCaOptions options;
  options.hostnames = s.hostnames;
  options.leaf_lifetime = config.leaf_lifetime;
  PALAVER_ASSIGN_OR_RETURN(LocalCaOutcome outcome, EnsureLocalCa(s.local_ca_dir, options, now));
  out.identity = outcome.identity;
  out.trust_anchor = outcome.files.ca_certificate.string();
  out.local_ca = std::move(outcome);
  return out;
}

// Logs what the local CA did. At start only a replaced CA is worth an `info`: the caller logs the
// "using local CA" line.
void LogLocalCaEvents(Shared& s, const LocalCaOutcome& outcome, bool at_start) {
  if (!outcome.ca_replaced_reason.empty()) {
    s.log->info("local CA replaced reason=\"{}\" ca_certificate={} (clients must trust the new CA certificate)",
                outcome.ca_replaced_reason, outcome.files.ca_certificate.string());
  } else if (outcome.ca_created) {
    s.log->debug("local CA created ca_certificate={}", outcome.files.ca_certificate.string());
  }
  if (outcome.leaf_issued) {
    auto level = at_start ? spdlog::level::debug : spdlog::level::info;
    s.log->log(level, "local CA issued a server certificate reason=\"{}\" names={} not_after={}",
               outcome.leaf_reason, JoinNames(outcome.identity->names), FormatTime(outcome.identity->not_after));
  }
}

// Logs a change of the expiry state of the served certificate (warn once per change).
// REQUIRES: s.apply_mu held.
void NoteExpiry(Shared& s, Clock::time_point now) {
  std::shared_ptr<const sdk::TlsIdentity> identity = s.store->Current();
  ExpiryState state = ExpiryOf(*identity, now);
  if (state == s.expiry_state) return;
  s.expiry_state = state;
  if (state == ExpiryState::kExpired) {
    s.log->warn("certificate expired not_after={} source={} names={}", FormatTime(identity->not_after),
                identity->source, JoinNames(identity->names));
  } else if (state == ExpiryState::kSoon) {
    s.log->warn("certificate expires soon not_after={} source={} names={}", FormatTime(identity->not_after),
                identity->source, JoinNames(identity->names));
  }
}

// Puts `loaded` in service if it differs from the served identity; returns whether it did.
// REQUIRES: s.apply_mu held.
bool Apply(Shared& s, Loaded& loaded) {
  std::shared_ptr<const sdk::TlsIdentity> current = s.store->Current();
  bool changed = current->chain_pem != loaded.identity->chain_pem || current->key_pem != loaded.identity->key_pem ||
                 s.store->TrustAnchorPath() != loaded.trust_anchor;
  s.loaded_stamps = loaded.stamps;
  s.failed_stamps.reset();
  s.failure_logged.clear();
  SetLastError(s, {});
  if (!changed) return false;
  // Subscribers run here, under apply_mu; they must not call back into this module's Reload.
  s.store->Set(loaded.identity, loaded.trust_anchor);
  s.expiry_gauge->Set(UnixSeconds(loaded.identity->not_after));
  s.reloads->Inc();
  return true;
}

void LogInService(Shared& s, const TlsConfig& config, const sdk::TlsIdentity& identity, const char* verb) {
  if (config.UsesFiles()) {
    s.log->info("certificate {} path={} names={} not_after={}", verb, config.certificate.string(),
                JoinNames(identity.names), FormatTime(identity.not_after));
  } else {
    s.log->info("using local CA ca_certificate={} (trust this certificate in your browser or OS)",
                s.store->TrustAnchorPath());
  }
}

// One periodic check, on a worker: in files mode reload when the files changed, in local-CA mode
// renew the server certificate when due. Failures keep the served certificate.
void CheckNow(const std::shared_ptr<Shared>& shared) {
  Shared& s = *shared;
  std::lock_guard<std::mutex> lock(s.apply_mu);
  if (s.stopped) return;
  Clock::time_point now = Clock::now();
  if (s.config.UsesFiles()) {
    Stamps stamps{StampFile(s.config.certificate), StampFile(s.config.key)};
    if (stamps != s.loaded_stamps && stamps != s.failed_stamps) {
      Result<Loaded> loaded = Load(s, s.config, now);
      if (!loaded) {
        // Logged once per change of the files; the next change is tried again.
        s.reload_failures->Inc();
        s.failed_stamps = stamps;
        SetLastError(s, loaded.error().message);
        s.log->error("certificate reload failed path={} err=\"{}\"; still serving the previous certificate",
                     s.config.certificate.string(), loaded.error().message);
      } else if (Apply(s, *loaded)) {
        LogInService(s, s.config, *loaded->identity, "reloaded");
      }
    }
    NoteKeyMode(s);
  } else {
    Result<Loaded> loaded = Load(s, s.config, now);
    if (!loaded) {
      s.reload_failures->Inc();
      SetLastError(s, loaded.error().message);
      if (loaded.error().message != s.failure_logged) {
        s.failure_logged = loaded.error().message;
        s.log->error("local CA check failed err=\"{}\"; still serving the previous certificate",
                     loaded.error().message);
      }
    } else {
      LogLocalCaEvents(s, *loaded->local_ca, /*at_start=*/false);
      Apply(s, *loaded);
    }
  }
  NoteExpiry(s, now);
}

void ScheduleCheck(const std::shared_ptr<Shared>& shared, std::chrono::milliseconds interval, uint64_t chain);

// Starts a new timer chain (retiring the running one). REQUIRES: s.timer_mu held.
void ArmLocked(const std::shared_ptr<Shared>& shared, std::chrono::milliseconds interval) {
  Shared& s = *shared;
  if (!s.alive) return;
  if (s.timer_armed) s.host->Loop().Cancel(s.timer);
  s.timer_armed = false;
  ++s.chain;
  if (interval.count() > 0) ScheduleCheck(shared, interval, s.chain);
}

// Schedules the next check of `chain`. REQUIRES: s.timer_mu held, s.alive.
void ScheduleCheck(const std::shared_ptr<Shared>& shared, std::chrono::milliseconds interval, uint64_t chain) {
  Shared& s = *shared;
  s.timer = s.host->Loop().Schedule(interval, [shared, interval, chain] {
    // On the net loop: hand the blocking check to a worker, then schedule the next one.
    std::lock_guard<std::mutex> lock(shared->timer_mu);
    if (!shared->alive || chain != shared->chain) return;
    shared->timer_armed = false;
    shared->host->Pool().Submit([shared] { CheckNow(shared); },
                                [shared, interval, chain] {
                                  std::lock_guard<std::mutex> relock(shared->timer_mu);
                                  if (!shared->alive || chain != shared->chain) return;
                                  ScheduleCheck(shared, interval, chain);
                                });
  });
  s.timer_armed = true;
}

// How often the source in `config` is checked; zero for never.
std::chrono::milliseconds CheckInterval(const TlsConfig& config) {
  if (config.UsesFiles()) return config.watch_interval;
  return kLocalCaCheckInterval;
}

// Thread: Configure/Start/Reload/Stop on the host's control thread; CheckHealth from any thread.
class TlsModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override {
    sdk::ModuleInfo info;
    info.id = "tls";
    info.description = "TLS certificate for the HTTPS listener: PEM files with hot reload, or a generated local CA";
    info.enabled_by_default = true;
    return info;
  }

  Status Configure(sdk::ConfigReader& section) override {
    // Problems are recorded in `section`; a config with problems is never applied.
    Result<TlsConfig> parsed = ParseTlsConfig(section);
    if (parsed) {
      // The one look at a file here (a stat, nothing read), so that `palaverd --check-config`
      // warns about a key readable by others; Start and Reload log the same.
      if (parsed->UsesFiles()) {
        if (auto warning = KeyFileTooOpen(parsed->key)) section.Warn("key", *warning);
      }
      pending_ = std::move(*parsed);
    }
    return OkStatus();
  }

  // --check-config and start: the certificate and key files are read and must match.
  void Preflight(const sdk::HostInfo& /*host*/, sdk::ConfigReader& section) override {
    if (!pending_.UsesFiles()) return;
    auto loaded = LoadIdentityFiles(pending_.certificate, pending_.key, "files");
    if (!loaded) section.Reject("certificate", loaded.error().message);
  }

  Status Start(sdk::Host& host) override {
    if (State() != nullptr) return Fail(ErrorCode::kFailedPrecondition, "tls module already started");
    auto shared = std::make_shared<Shared>();
    Shared& s = *shared;
    s.log = host.Logger();
    s.expiry_gauge = &host.Stats().GetGauge("palaver_tls_certificate_expiry_timestamp_seconds",
                                            "Expiry time of the served certificate, in unix seconds.");
    s.reloads = &host.Stats().GetCounter("palaver_tls_certificate_reloads_total",
                                         "Times a new certificate was put in service after start.");
    s.reload_failures = &host.Stats().GetCounter(
        "palaver_tls_certificate_reload_failures_total", "Failed certificate reloads or local CA renewals (old one kept).");
    s.local_ca_dir = host.Info().state_dir / "tls";
    s.hostnames = host.Info().hostnames;

    std::chrono::milliseconds interval;
    {
      std::lock_guard<std::mutex> lock(s.apply_mu);
      s.config = pending_;
      Clock::time_point now = Clock::now();
      PALAVER_ASSIGN_OR_RETURN(Loaded loaded, Load(s, s.config, now));
      s.store = std::make_shared<CertStore>(loaded.identity, loaded.trust_anchor);
      s.loaded_stamps = loaded.stamps;
      s.expiry_gauge->Set(UnixSeconds(loaded.identity->not_after));
      if (loaded.local_ca) LogLocalCaEvents(s, *loaded.local_ca, /*at_start=*/true);
      LogInService(s, s.config, *loaded.identity, "loaded");
      NoteKeyMode(s);
      NoteExpiry(s, now);
      interval = CheckInterval(s.config);
    }
    host.Registry().Publish<sdk::CertificateProvider>(s.store);
    host_ = &host;
    {
      std::lock_guard<std::mutex> lock(s.timer_mu);
      s.host = &host;
      ArmLocked(shared, interval);
    }
    std::lock_guard<std::mutex> lock(state_mu_);
    state_ = std::move(shared);
    return OkStatus();
  }

  Status Reload() override {
    std::shared_ptr<Shared> shared = State();
    if (shared == nullptr) return Fail(ErrorCode::kFailedPrecondition, "tls module is not running");
    Shared& s = *shared;
    Status result = OkStatus();
    std::chrono::milliseconds interval;
    {
      std::lock_guard<std::mutex> lock(s.apply_mu);
      bool was_files = s.config.UsesFiles();
      s.config = pending_;
      Clock::time_point now = Clock::now();
      Result<Loaded> loaded = Load(s, s.config, now);
      if (!loaded) {
        // Keep serving the old certificate. The host logs the returned error; remember the files
        // so that the watcher reports them again only after they change.
        s.reload_failures->Inc();
        SetLastError(s, loaded.error().message);
        s.loaded_stamps.reset();
        if (s.config.UsesFiles()) s.failed_stamps = Stamps{StampFile(s.config.certificate), StampFile(s.config.key)};
        s.failure_logged = loaded.error().message;
        result = Fail(loaded.error().code, "certificate not reloaded, still serving the previous one: " +
                                               loaded.error().message);
      } else {
        if (loaded->local_ca) LogLocalCaEvents(s, *loaded->local_ca, /*at_start=*/false);
        bool changed = Apply(s, *loaded);
        if (was_files != s.config.UsesFiles()) {
          LogInService(s, s.config, *loaded->identity, "loaded");
        } else if (changed && s.config.UsesFiles()) {
          LogInService(s, s.config, *loaded->identity, "reloaded");
        } else if (!changed) {
          s.log->debug("certificate unchanged on reload");
        }
      }
      NoteKeyMode(s);
      NoteExpiry(s, now);
      interval = CheckInterval(s.config);
    }
    {
      std::lock_guard<std::mutex> lock(s.timer_mu);
      ArmLocked(shared, interval);
    }
    return result;
  }

  void Stop() override {
    std::shared_ptr<Shared> shared = State();
    if (shared == nullptr) return;
    Shared& s = *shared;
    {
      std::lock_guard<std::mutex> lock(s.timer_mu);
      if (s.alive && s.timer_armed) s.host->Loop().Cancel(s.timer);
      s.timer_armed = false;
      s.alive = false;
      ++s.chain;
    }
    {
      // Waits for a check in progress on a worker; later ones see `stopped`.
      std::lock_guard<std::mutex> lock(s.apply_mu);
      s.stopped = true;
    }
    if (host_ != nullptr) host_->Registry().Withdraw<sdk::CertificateProvider>();
    host_ = nullptr;
    std::lock_guard<std::mutex> lock(state_mu_);
    state_.reset();
  }

  sdk::Health CheckHealth() const override {
    std::shared_ptr<Shared> shared = State();
    if (shared == nullptr) return {};
    std::shared_ptr<const sdk::TlsIdentity> identity = shared->store->Current();
    std::string last_error;
    {
      std::lock_guard<std::mutex> lock(shared->health_mu);
      last_error = shared->last_error;
    }
    sdk::Health health;
    std::vector<std::string> details;
    Clock::time_point now = Clock::now();
    switch (ExpiryOf(*identity, now)) {
      case ExpiryState::kExpired:
        details.push_back("certificate expired at " + FormatTime(identity->not_after));
        break;
      case ExpiryState::kSoon:
        details.push_back("certificate expires at " + FormatTime(identity->not_after) + " (in " +
                          std::to_string(std::chrono::duration_cast<std::chrono::hours>(identity->not_after - now)
                                             .count() / 24) +
                          " days)");
        break;
      case ExpiryState::kOk:
        break;
    }
    if (!last_error.empty()) details.push_back("last reload failed, serving the previous certificate: " + last_error);
    if (!details.empty()) {
      health.state = sdk::HealthState::kDegraded;
      for (const auto& d : details) health.detail += (health.detail.empty() ? "" : "; ") + d;
    }
    return health;
  }

 private:
  std::shared_ptr<Shared> State() const {
    std::lock_guard<std::mutex> lock(state_mu_);
    return state_;
  }

  TlsConfig pending_;           // from the last successful Configure
  sdk::Host* host_ = nullptr;   // from Start until Stop; control thread only
  mutable std::mutex state_mu_;
  std::shared_ptr<Shared> state_ PALAVER_GUARDED_BY(state_mu_);  // null unless started
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<TlsModule>(); }

}  // namespace palaver::tls
