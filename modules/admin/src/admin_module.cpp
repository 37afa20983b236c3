#include "palaver/admin/admin_module.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "audit_log.hpp"
#include "cli.hpp"
#include "console.hpp"
#include "palaver/sdk/command.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/files.hpp"
#include "palaver/sdk/host.hpp"
#include "settings_api.hpp"
#include "settings_ops.hpp"

namespace palaver::admin {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class AdminModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override {
    return {.id = "admin",
            .description = "admin console (/admin/), settings and log-level API, audit log, `palaverd settings`",
            // None hard: without oidc or directory the console says sign-in is unavailable and
            // the API answers 403; settings are listed when asked, whoever defined them.
            .depends_on = {}};
  }

  Status Configure(sdk::ConfigReader& section) override {
    ConsoleConfig c;
    c.session_idle_ms = section.Duration("session_idle_timeout", std::chrono::minutes(15)).count();
    c.session_max_ms = section.Duration("session_max_age", std::chrono::hours(12)).count();
    if (c.session_idle_ms < 60'000 || c.session_idle_ms > 24LL * 3600 * 1000) {
      section.Reject("session_idle_timeout", "must be between 1m and 24h");
    }
    if (c.session_max_ms < c.session_idle_ms || c.session_max_ms > 7LL * 24 * 3600 * 1000) {
      section.Reject("session_max_age", "must be at least session_idle_timeout and at most 7d");
    }
    c.allowed_networks = sdk::ReadCidrList(section, "allowed_networks", {});
    pending_ = c;
    return OkStatus();
  }

  Status Start(sdk::Host& host) override {
    log_ = host.Logger();
    PALAVER_RETURN_IF_ERROR(host.Database().Migrate("admin", AuditLog::Migrations()));
    audit_ = std::make_unique<AuditLog>(host.Database());
    changer_ = std::make_unique<SettingsChanger>(host.Policy(), *audit_, log_, NowMs);
    // A fresh token per start for `palaverd settings` on this machine (only palaverd's user can
    // read it; it is accepted from loopback only).
    std::string token = sdk::RandomToken(32);
    PALAVER_RETURN_IF_ERROR(sdk::WriteFileAtomically(host.Info().state_dir / kCliTokenFile, token + "\n", 0600));
    networks_ = std::make_shared<AdminNetworks>(pending_.allowed_networks);
    PALAVER_RETURN_IF_ERROR(RegisterApiRoutes(host, *changer_, token, networks_));
    console_ = std::make_unique<Console>(host, pending_, networks_, *changer_, *audit_);
    return console_->Register();
  }

  // The whole section applies at once: the networks to the next request, the session limits to
  // every session's next use.
  Status Reload() override {
    if (!console_) return OkStatus();
    networks_->Set(pending_.allowed_networks);
    console_->Sessions().SetLimits(pending_.session_idle_ms, pending_.session_max_ms);
    log_->info("admin settings applied networks={} session_idle_timeout_s={} session_max_age_s={}",
               pending_.allowed_networks.empty() ? std::string("any") : std::to_string(pending_.allowed_networks.size()),
               pending_.session_idle_ms / 1000, pending_.session_max_ms / 1000);
    return OkStatus();
  }
  void Stop() override {}

  sdk::Health CheckHealth() const override {
    sdk::Health h;
    if (console_) h.detail = "sessions=" + std::to_string(console_->Sessions().Count());
    return h;
  }

  std::vector<std::string> Commands() const override { return {"settings"}; }
  std::string CommandUsage(const std::string&) const override { return SettingsCommandUsage(); }
  int RunCommand(const std::string&, const std::vector<std::string>& args, sdk::CommandContext& ctx) override {
    return RunSettingsCommand(args, ctx);
  }

 private:
  ConsoleConfig pending_;
  std::shared_ptr<AdminNetworks> networks_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<SettingsChanger> changer_;
  std::unique_ptr<Console> console_;
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<AdminModule>(); }

}  // namespace palaver::admin
