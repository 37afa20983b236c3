// Lifecycle glue of the `tls` module: load the certificate (files or local CA), publish it,
// watch it, reload it, report its health.
#include "palaver/tls/tls_module.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include <openssl/rand.h>

#include "acme_cert.hpp"
#include "acme_client.hpp"
#include "acme_state.hpp"
#include "acme_transport.hpp"
#include "cert_store.hpp"
#include "config.hpp"
#include "identity.hpp"
#include "key_mode.hpp"
#include "local_ca.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/files.hpp"
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

// ACME certificates may live only days: they warn when a fifth of their lifetime is left, if
// that is less than kExpiryWarning (renewal starts when a third is left).
std::chrono::seconds WarningLead(const sdk::TlsIdentity& identity) {
  if (identity.source == "acme" && identity.leaf != nullptr) {
    return ExpiryWarningLead(NotBefore(*identity.leaf), identity.not_after);
  }
  return kExpiryWarning;
}

ExpiryState ExpiryOf(const sdk::TlsIdentity& identity, Clock::time_point now) {
  if (identity.not_after <= now) return ExpiryState::kExpired;
  if (identity.not_after - now < WarningLead(identity)) return ExpiryState::kSoon;
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

// The names an ACME certificate is ordered for: the DNS names among [palaver] hostnames (not
// localhost, not IP addresses, which a public CA does not validate, and no `*.` wildcards, which
// need DNS-01), lowercased, in order.
std::vector<std::string> AcmeNames(const std::vector<std::string>& hostnames) {
  std::vector<std::string> out;
  for (std::string name : hostnames) {
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ip = name.find(':') != std::string::npos ||
              name.find_first_not_of("0123456789.") == std::string::npos;
    if (name.empty() || ip || name == "localhost" || name.find('.') == std::string::npos ||
        name.find('*') != std::string::npos) {
      continue;
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
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
  sdk::Gauge* expiry_timestamp = nullptr;  // palaver_tls_certificate_expiry_timestamp_seconds
  sdk::Counter* acme_issued = nullptr;
  sdk::Counter* acme_failed = nullptr;
  std::shared_ptr<AcmeChallenges> acme_challenges;
  std::filesystem::path acme_dir;
  std::vector<std::string> acme_names;
  bool http_listener = true;  // false when [palaver] http_port is off: HTTP-01 cannot be answered
  std::atomic<bool> acme_stopping{false};
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
  uint64_t acme_chain PALAVER_GUARDED_BY(timer_mu) = 0;  // bumped to retire the ACME check chain
  bool acme_timer_armed PALAVER_GUARDED_BY(timer_mu) = false;
  sdk::NetLoop::TimerId acme_timer PALAVER_GUARDED_BY(timer_mu) = 0;

  // Serializes loading and swapping (Start, Reload, periodic checks); held across file I/O.
  std::mutex apply_mu;
  bool stopped PALAVER_GUARDED_BY(apply_mu) = false;
  TlsConfig config PALAVER_GUARDED_BY(apply_mu);
  std::optional<Stamps> loaded_stamps PALAVER_GUARDED_BY(apply_mu);  // files behind the served identity
  std::optional<Stamps> failed_stamps PALAVER_GUARDED_BY(apply_mu);  // files whose failure was reported
  std::string failure_logged PALAVER_GUARDED_BY(apply_mu);          // local-CA mode: last error logged
  ExpiryState expiry_state PALAVER_GUARDED_BY(apply_mu) = ExpiryState::kOk;
  std::string key_mode_warned PALAVER_GUARDED_BY(apply_mu);  // files mode: last key permission warning
  std::shared_ptr<sdk::TlsIdentity> acme_identity PALAVER_GUARDED_BY(apply_mu);  // ACME certificate, or null

  // Serializes ACME runs (held across the CA's answers, never while apply_mu is wanted first).
  std::mutex acme_mu;
  int acme_failures PALAVER_GUARDED_BY(acme_mu) = 0;  // consecutive failed attempts
  std::atomic<int64_t> acme_next_ms{0};  // wait before the next ACME check (set by the check)

  // Read by CheckHealth, which must not wait for a load in progress.
  mutable std::mutex health_mu;
  std::string last_error PALAVER_GUARDED_BY(health_mu);  // non-empty while the last reload failed
  std::string acme_problem PALAVER_GUARDED_BY(health_mu);  // why ACME has no (fresh) certificate; "" when fine
};

void SetAcmeProblem(Shared& s, std::string problem) {
  std::lock_guard<std::mutex> lock(s.health_mu);
  s.acme_problem = std::move(problem);
}

// In ACME mode the ACME certificate, once there, is served instead of the local CA's (which
// stays ready as the fallback). REQUIRES: s.apply_mu held.
void PreferAcme(const Shared& s, const TlsConfig& config, Loaded& loaded) {
  if (!config.acme || !s.acme_identity) return;
  loaded.identity = s.acme_identity;
  loaded.trust_anchor.clear();
  loaded.stamps.reset();
}

// Reads and checks the stored ACME certificate; sets s.acme_identity when it can be served.
// Returns why it cannot ("" when it can). REQUIRES: s.apply_mu held.
std::string LoadStoredAcme(Shared& s, Clock::time_point now) {
  AcmeStorage storage(s.acme_dir);
  Result<std::string> pem = storage.LoadCertificatePem();
  if (!pem) {
    s.acme_identity.reset();
    if (pem.error().code == ErrorCode::kNotFound) return "no certificate obtained yet";
    return pem.error().message;
  }
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = CheckStoredCertificate(*pem, s.acme_names, now);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!identity) {
    s.acme_identity.reset();
    return "stored certificate " + storage.CertificatePath().string() + " unusable (" + identity.error().message +
           "); requesting a new one";
  }
  s.acme_identity = std::move(*identity);
  return {};
}

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
  s.expiry_timestamp->Set(UnixSeconds(loaded.identity->not_after));
  s.reloads->Inc();
  return true;
}

void LogInService(Shared& s, const TlsConfig& config, const sdk::TlsIdentity& identity, const char* verb) {
  if (identity.source == "acme") {
    s.log->info("certificate {} source=acme names={} not_after={}", verb, JoinNames(identity.names),
                FormatTime(identity.not_after));
  } else if (config.UsesFiles()) {
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
      PreferAcme(s, s.config, *loaded);
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

// ---- ACME ----------------------------------------------------------------------------------

// Fails every request once the module stops, so that a run in progress ends quickly.
class StoppableTransport final : public AcmeTransport {
 public:
  StoppableTransport(std::unique_ptr<AcmeTransport> inner, const std::atomic<bool>& stopping)
      : inner_(std::move(inner)), stopping_(stopping) {}
  Result<AcmeHttpResponse> Send(const std::string& method, const std::string& url, const std::string& body) override {
    if (stopping_.load()) return Fail(ErrorCode::kUnavailable, "palaverd is stopping");
    return inner_->Send(method, url, body);
  }

 private:
  std::unique_ptr<AcmeTransport> inner_;
  const std::atomic<bool>& stopping_;
};

// Logs each challenge answer put up, then hands it to the listeners' registry.
class LoggingResponder final : public AcmeChallengeResponder {
 public:
  LoggingResponder(AcmeChallengeResponder& inner, spdlog::logger& log) : inner_(inner), log_(log) {}
  Status Present(const std::string& type, const std::string& name, const std::string& token,
                 const std::string& key_authorization) override {
    log_.info("ACME challenge answered type={} name={}", type, name);
    return inner_.Present(type, name, token, key_authorization);
  }
  void Clear() override { inner_.Clear(); }

 private:
  AcmeChallengeResponder& inner_;
  spdlog::logger& log_;
};

double RandomFraction() {
  uint32_t r = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r) != 1) return 0.5;
  return static_cast<double>(r) / 4294967296.0;
}

// What one ACME check decided. Value type.
struct AcmeOutcome {
  std::shared_ptr<sdk::TlsIdentity> obtained;  // a new certificate, or null
  bool resumed = false;
  int bad_nonces = 0;                          // badNonce answers retried
  std::string reason;                          // why it was ordered
  Clock::time_point next_check;
};

// One ACME check, blocking (on a worker): decide whether a certificate is due (none, names
// changed, ARI window reached, a third of the lifetime left) and if so obtain it.
// `retry_after` receives the CA's Retry-After of a failed request.
Result<AcmeOutcome> RunAcme(Shared& s, const TlsConfig& config, std::shared_ptr<sdk::TlsIdentity> current,
                            Clock::time_point now, std::optional<std::chrono::seconds>* retry_after) {
  AcmeStorage storage(s.acme_dir);
  PALAVER_RETURN_IF_ERROR(storage.EnsureDir());
  bool created = false;
  PALAVER_ASSIGN_OR_RETURN(EvpPkeyPtr account_key, storage.LoadOrCreateAccountKey(&created));
  if (created) s.log->info("ACME account key created path={}", storage.AccountKeyPath().string());
  StoppableTransport transport(MakePocoAcmeTransport(config.acme_ca_file), s.acme_stopping);
  const std::atomic<bool>& stopping = s.acme_stopping;
  AcmeEnvironment env{[] { return Clock::now(); },
                      [&stopping](std::chrono::milliseconds d) {
                        // In small steps, so that Stop does not wait for a long poll.
                        auto until = std::chrono::steady_clock::now() + d;
                        while (!stopping.load() && std::chrono::steady_clock::now() < until) {
                          std::this_thread::sleep_for(std::chrono::milliseconds(100));
                        }
                      }};
  AcmeClient client(transport, config.acme_directory, *account_key, env);

  AcmeOutcome out;
  AcmeIssueRequest request;
  request.names = s.acme_names;
  request.challenge_types.clear();
  for (const auto& type : config.acme_challenges) {
    if (type != "http-01" || s.http_listener) request.challenge_types.push_back(type);
  }
  if (current) {
    // Ask the CA for its renewal window when it offers ARI; without one the lifetime rule applies.
    std::optional<AcmeRenewalWindow> window;
    Clock::time_point recheck = now + std::chrono::hours(12);
    Result<std::string> cert_id = AriCertId(*current->leaf);
    if (cert_id && CoversNames(*current, s.acme_names) && client.LoadDirectory() &&
        !client.Directory().renewal_info.empty()) {
      Result<AcmeRenewalWindow> info = client.RenewalInfo(*cert_id);
      if (info) {
        window = *info;
        recheck = now + info->retry_after.value_or(std::chrono::hours(6));
      } else {
        s.log->debug("ACME renewalInfo not available err=\"{}\"", info.error().message);
      }
    }
    RenewalPlan plan = PlanRenewal(current.get(), s.acme_names, now, window, RandomFraction());
    if (!plan.due) {
      out.next_check = std::min(plan.renew_at, recheck);
      return out;
    }
    out.reason = plan.reason;
    if (cert_id && plan.reason.rfind("renewal due", 0) == 0) request.replaces = *cert_id;
  } else {
    out.reason = "no certificate";
  }

  auto register_account = [&]() -> Status {
    std::optional<AcmeEab> eab;
    if (!config.acme_eab_kid.empty()) eab = AcmeEab{config.acme_eab_kid, config.acme_eab_hmac_key};
    PALAVER_ASSIGN_OR_RETURN(std::string url, client.Register(config.acme_email, config.acme_agree_tos, eab));
    PALAVER_RETURN_IF_ERROR(storage.SaveAccountUrl(config.acme_directory, url));
    s.log->info("ACME account registered directory={} account={}", config.acme_directory, url);
    return OkStatus();
  };
  std::string account_url = storage.LoadAccountUrl(config.acme_directory);
  bool registered = account_url.empty();
  if (registered) {
    PALAVER_RETURN_IF_ERROR(register_account());
  } else {
    client.SetAccountUrl(account_url);
  }
  s.log->info("ACME order started reason=\"{}\" names={} directory={}", out.reason, JoinNames(s.acme_names),
              config.acme_directory);
  LoggingResponder responder(*s.acme_challenges, *s.log);
  Result<AcmeIssued> issued = client.Issue(request, responder, storage);
  if (!issued && !registered &&
      issued.error().message.find("urn:ietf:params:acme:error:accountDoesNotExist") != std::string::npos) {
    // The CA no longer knows the stored account (a test CA restarted, a company CA reset):
    // register the same key again and order once more.
    s.log->warn("ACME account unknown to the CA, registering again account={}", account_url);
    PALAVER_RETURN_IF_ERROR(register_account());
    issued = client.Issue(request, responder, storage);
  }
  out.bad_nonces = client.BadNonceRetries();
  if (!issued) {
    *retry_after = client.LastRetryAfter();
    return tl::unexpected(issued.error());
  }
  PALAVER_RETURN_IF_ERROR(storage.SaveCertificate(issued->chain_pem, issued->key_pem));
  storage.ClearOrder();
  PALAVER_ASSIGN_OR_RETURN(std::string stored, storage.LoadCertificatePem());
  PALAVER_ASSIGN_OR_RETURN(out.obtained, CheckStoredCertificate(stored, s.acme_names, Clock::now()));
  OPENSSL_cleanse(stored.data(), stored.size());
  out.resumed = issued->resumed;
  out.next_check = std::min(RenewalTime(NotBefore(*out.obtained->leaf), out.obtained->not_after),
                            Clock::now() + std::chrono::hours(12));
  return out;
}

// The ACME check task: runs RunAcme, puts a new certificate in service, logs, and records
// when the next check is due (s.acme_next).
void AcmeCheck(const std::shared_ptr<Shared>& shared) {
  Shared& s = *shared;
  std::lock_guard<std::mutex> run_lock(s.acme_mu);
  TlsConfig config;
  std::shared_ptr<sdk::TlsIdentity> current;
  {
    std::lock_guard<std::mutex> lock(s.apply_mu);
    if (s.stopped) return;
    config = s.config;
    current = s.acme_identity;
  }
  if (!config.acme) return;
  Clock::time_point now = Clock::now();
  std::optional<std::chrono::seconds> retry_after;
  Result<AcmeOutcome> outcome = RunAcme(s, config, current, now, &retry_after);
  // What the admin console's certificates page shows about this check.
  auto note = [&](bool ok, std::string result) {
    int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    s.store->SetRenewal({.acme = true, .last_check_unix = now_s, .last_ok = ok, .last_result = std::move(result),
                         .next_check_unix = now_s + s.acme_next_ms.load() / 1000});
  };
  if (!outcome) {
    ++s.acme_failures;
    std::chrono::seconds wait = Backoff(s.acme_failures, config.acme_retry_interval,
                                        std::chrono::duration_cast<std::chrono::seconds>(kAcmeMaxRetry), retry_after);
    s.acme_next_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count();
    s.acme_failed->Inc();
    const std::string& err = outcome.error().message;
    if (s.acme_stopping.load()) return;
    note(false, err);
    if (current) {
      s.log->warn("ACME renewal failed err=\"{}\" attempt={} retry_in_s={}; still serving the certificate valid until {}",
                  err, s.acme_failures, wait.count(), FormatTime(current->not_after));
      SetAcmeProblem(s, "ACME renewal failing (attempt " + std::to_string(s.acme_failures) + ", next in " +
                            std::to_string(wait.count()) + " s): " + err);
    } else {
      s.log->error("ACME certificate not obtained err=\"{}\" attempt={} retry_in_s={}; serving the local CA's certificate",
                   err, s.acme_failures, wait.count());
      SetAcmeProblem(s, "no ACME certificate yet, serving the local CA's (attempt " + std::to_string(s.acme_failures) +
                            ", next in " + std::to_string(wait.count()) + " s): " + err);
    }
    return;
  }
  s.acme_failures = 0;
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(outcome->next_check - Clock::now());
  s.acme_next_ms = std::max(delay, std::chrono::milliseconds(1000)).count();
  if (!outcome->obtained) {
    SetAcmeProblem(s, {});
    note(true, current ? "no renewal due; serving the certificate valid until " + FormatTime(current->not_after)
                       : "nothing to do");
    return;
  }
  note(true, "certificate obtained (" + outcome->reason + "), valid until " + FormatTime(outcome->obtained->not_after));
  std::lock_guard<std::mutex> lock(s.apply_mu);
  if (s.stopped || !s.config.acme) return;
  s.acme_identity = outcome->obtained;
  s.acme_issued->Inc();
  SetAcmeProblem(s, {});
  Loaded loaded;
  loaded.identity = outcome->obtained;
  Apply(s, loaded);
  s.log->info("certificate obtained source=acme reason=\"{}\" names={} not_after={} resumed={} bad_nonce_retries={}",
              outcome->reason, JoinNames(outcome->obtained->names), FormatTime(outcome->obtained->not_after),
              outcome->resumed ? "yes" : "no", outcome->bad_nonces);
  NoteExpiry(s, Clock::now());
}

void ScheduleAcme(const std::shared_ptr<Shared>& shared, std::chrono::milliseconds delay, uint64_t chain);

// Starts a new ACME check chain with its first check after `delay` (retiring the running
// chain), or only retires it when ACME is off. REQUIRES: s.timer_mu held.
void ArmAcmeLocked(const std::shared_ptr<Shared>& shared, bool acme, std::chrono::milliseconds delay) {
  Shared& s = *shared;
  if (!s.alive) return;
  if (s.acme_timer_armed) s.host->Loop().Cancel(s.acme_timer);
  s.acme_timer_armed = false;
  ++s.acme_chain;
  if (acme) ScheduleAcme(shared, delay, s.acme_chain);
}

// REQUIRES: s.timer_mu held, s.alive.
void ScheduleAcme(const std::shared_ptr<Shared>& shared, std::chrono::milliseconds delay, uint64_t chain) {
  Shared& s = *shared;
  s.acme_timer = s.host->Loop().Schedule(delay, [shared, chain] {
    std::lock_guard<std::mutex> lock(shared->timer_mu);
    if (!shared->alive || chain != shared->acme_chain) return;
    shared->acme_timer_armed = false;
    shared->host->Pool().Submit([shared] { AcmeCheck(shared); },
                                [shared, chain] {
                                  std::chrono::milliseconds next(shared->acme_next_ms.load());
                                  std::lock_guard<std::mutex> relock(shared->timer_mu);
                                  if (!shared->alive || chain != shared->acme_chain) return;
                                  ScheduleAcme(shared, std::max(next, std::chrono::milliseconds(1000)), chain);
                                });
  });
  s.acme_timer_armed = true;
}

// What Configure cannot see: ACME needs a public name, and HTTP-01 alone needs the plain listener.
Status CheckAcmeFits(const Shared& s, const TlsConfig& config) {
  if (!config.acme) return OkStatus();
  if (s.acme_names.empty()) {
    return Fail(ErrorCode::kFailedPrecondition,
                "[tls] acme = yes needs a public DNS name in [palaver] hostnames (not localhost or an IP address)");
  }
  if (!s.http_listener && config.acme_challenges == std::vector<std::string>{"http-01"}) {
    return Fail(ErrorCode::kFailedPrecondition,
                "[tls] acme_challenge = http-01 needs the plain-HTTP listener ([palaver] http_port is off); "
                "use tls-alpn-01 or auto");
  }
  return OkStatus();
}

// At start (or when ACME is switched on): serve a stored ACME certificate when it is sound, and
// say why not otherwise. REQUIRES: s.apply_mu held.
void NoteAcmeAtStart(Shared& s, Clock::time_point now) {
  std::string why = LoadStoredAcme(s, now);
  if (why.empty()) {
    SetAcmeProblem(s, {});
    return;
  }
  if (why.rfind("no certificate", 0) == 0) {
    s.log->info("ACME on: serving the local CA's certificate until one is obtained reason=\"{}\" names={}", why,
                JoinNames(s.acme_names));
  } else {
    s.log->warn("ACME on: serving the local CA's certificate until one is obtained reason=\"{}\" names={}", why,
                JoinNames(s.acme_names));
  }
  SetAcmeProblem(s, "no ACME certificate yet, serving the local CA's: " + why);
}

// HTTP-01 (RFC 8555 §8.3): GET /.well-known/acme-challenge/<token> on the plain-HTTP listener
// answers the key authorization while the token's challenge is pending, else 404.
Status AddChallengeRoute(sdk::Host& host, std::shared_ptr<const AcmeChallenges> challenges) {
  static constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";
  sdk::Route route{.methods = {"GET", "HEAD"},
                   .path = std::string(kPrefix),
                   .match = sdk::Match::kPrefix,
                   .on_https = false,
                   .on_http = true,
                   .route_class = "acme"};
  return host.Http().Add(route, [challenges](const sdk::Request& req, sdk::Responder respond) {
    std::string token = req.path.substr(kPrefix.size());
    std::optional<std::string> answer = challenges->HttpAnswer(token);
    if (!answer) {
      respond(sdk::Response::Text(404, "No such ACME challenge.\n"));
      return;
    }
    sdk::Response r;
    r.status = 200;
    r.body = *answer;
    r.SetHeader("content-type", "application/octet-stream");
    r.SetHeader("cache-control", "no-store");
    respond(std::move(r));
  });
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

  // --check-config and start: the certificate and key files are read and must match; ACME gets
  // what Start checks (CheckAcmeFits) and a readable acme_ca_file.
  void Preflight(const sdk::HostInfo& host, sdk::ConfigReader& section) override {
    if (pending_.acme) {
      if (AcmeNames(host.hostnames).empty()) {
        section.Reject("acme", "needs a public DNS name in [palaver] hostnames (not localhost or an IP address)");
      }
      if (host.http_port < 0 && pending_.acme_challenges == std::vector<std::string>{"http-01"}) {
        section.Reject("acme_challenge", "http-01 needs the plain-HTTP listener ([palaver] http_port is off); "
                                         "use tls-alpn-01 or auto");
      }
      if (!pending_.acme_ca_file.empty()) {
        auto ca = sdk::ReadFileText(pending_.acme_ca_file);
        if (!ca) {
          section.Reject("acme_ca_file", ca.error().message);
        } else if (ca->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
          section.Reject("acme_ca_file", pending_.acme_ca_file.string() + " holds no PEM certificate");
        }
      }
    }
    if (!pending_.UsesFiles()) return;
    auto loaded = LoadIdentityFiles(pending_.certificate, pending_.key, "files");
    if (!loaded) section.Reject("certificate", loaded.error().message);
  }

  Status Start(sdk::Host& host) override {
    if (State() != nullptr) return Fail(ErrorCode::kFailedPrecondition, "tls module already started");
    auto shared = std::make_shared<Shared>();
    Shared& s = *shared;
    s.log = host.Logger();
    s.reloads = &host.Stats().GetCounter("palaver_tls_certificate_reloads_total",
                                         "Times a new certificate was put in service after start.");
    s.reload_failures = &host.Stats().GetCounter(
        "palaver_tls_certificate_reload_failures_total", "Failed certificate reloads or local CA renewals (old one kept).");
    s.expiry_timestamp = &host.Stats().GetGauge("palaver_tls_certificate_expiry_timestamp_seconds",
                                                 "notAfter of the served certificate, unix seconds.");
    s.acme_issued = &host.Stats().GetCounter("palaver_tls_acme_certificates_obtained_total",
                                             "Certificates obtained from the ACME CA.");
    s.acme_failed = &host.Stats().GetCounter("palaver_tls_acme_failures_total",
                                             "ACME attempts that failed (order, validation, CA unreachable, ...).");
    s.local_ca_dir = host.Info().state_dir / "tls";
    s.acme_dir = s.local_ca_dir / "acme";
    s.hostnames = host.Info().hostnames;
    s.acme_names = AcmeNames(s.hostnames);
    s.acme_challenges = std::make_shared<AcmeChallenges>();
    s.http_listener = host.Info().http_port >= 0;
    PALAVER_RETURN_IF_ERROR(CheckAcmeFits(s, pending_));

    std::chrono::milliseconds interval;
    {
      std::lock_guard<std::mutex> lock(s.apply_mu);
      s.config = pending_;
      Clock::time_point now = Clock::now();
      PALAVER_ASSIGN_OR_RETURN(Loaded loaded, Load(s, s.config, now));
      if (s.config.acme) NoteAcmeAtStart(s, now);
      PreferAcme(s, s.config, loaded);
      s.store = std::make_shared<CertStore>(loaded.identity, loaded.trust_anchor);
      s.store->SetAcmeChallenges(s.acme_challenges);
      s.loaded_stamps = loaded.stamps;
          s.expiry_timestamp->Set(UnixSeconds(loaded.identity->not_after));
      if (loaded.local_ca) LogLocalCaEvents(s, *loaded.local_ca, /*at_start=*/true);
      LogInService(s, s.config, *loaded.identity, "loaded");
      // The host logs the config's warnings at start, a key others may read among them
      // (Preflight): remembered here, not said twice; a later change of its mode is (NoteKeyMode).
      s.key_mode_warned = s.config.UsesFiles() ? KeyFileTooOpen(s.config.key).value_or("") : "";
      NoteExpiry(s, now);
      interval = CheckInterval(s.config);
    }
    PALAVER_RETURN_IF_ERROR(AddChallengeRoute(host, s.acme_challenges));
    host.Registry().Publish<sdk::CertificateProvider>(s.store);
    host_ = &host;
    {
      std::lock_guard<std::mutex> lock(s.timer_mu);
      s.host = &host;
      ArmLocked(shared, interval);
      // The first ACME check runs as soon as the listeners are up (challenges need them).
      ArmAcmeLocked(shared, s.config.acme, std::chrono::milliseconds(0));
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
      PALAVER_RETURN_IF_ERROR(CheckAcmeFits(s, pending_));
      s.config = pending_;
      Clock::time_point now = Clock::now();
      if (s.config.acme) {
        if (!s.acme_identity) NoteAcmeAtStart(s, now);
      } else {
        s.acme_identity.reset();
        SetAcmeProblem(s, {});
      }
      Result<Loaded> loaded = Load(s, s.config, now);
      if (loaded) PreferAcme(s, s.config, *loaded);
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
      // A reload checks at once (new names or a new CA order a certificate; otherwise nothing).
      ArmAcmeLocked(shared, pending_.acme, std::chrono::milliseconds(0));
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
      if (s.alive && s.acme_timer_armed) s.host->Loop().Cancel(s.acme_timer);
      s.timer_armed = false;
      s.acme_timer_armed = false;
      s.alive = false;
      ++s.chain;
      ++s.acme_chain;
      s.acme_stopping = true;
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
    std::string acme_problem;
    {
      std::lock_guard<std::mutex> lock(shared->health_mu);
      last_error = shared->last_error;
      acme_problem = shared->acme_problem;
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
    if (!acme_problem.empty()) details.push_back(acme_problem);
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
