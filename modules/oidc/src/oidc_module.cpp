#include "palaver/oidc/oidc_module.hpp"

#include <memory>

#include "cli.hpp"
#include "config.hpp"
#include "palaver/sdk/command.hpp"
#include "palaver/sdk/host.hpp"
#include "provider.hpp"

namespace palaver::oidc {
namespace {

class OidcModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override {
    return {.id = "oidc", .description = "OpenID Connect provider (konnect-compatible)", .depends_on = {"directory"}};
  }

  Status Configure(sdk::ConfigReader& section) override {
    pending_ = ParseOidcConfig(section);
    return OkStatus();
  }

  Status Start(sdk::Host& host) override {
    provider_ = std::make_unique<Provider>(host, host.Logger());
    return provider_->Start(pending_);
  }

  Status Reload() override { return provider_->Reload(pending_); }

  void Stop() override {
    if (provider_) provider_->Stop();
  }

  sdk::Health CheckHealth() const override { return {}; }

  std::vector<std::string> Commands() const override { return {"client"}; }
  std::string CommandUsage(const std::string&) const override { return ClientCommandUsage(); }

  int RunCommand(const std::string&, const std::vector<std::string>& args, sdk::CommandContext& ctx) override {
    if (auto st = ctx.store.Migrate("oidc_clients", ClientStore::Migrations()); !st) {
      std::fprintf(ctx.err, "palaverd client: %s\n", st.error().message.c_str());
      return 1;
    }
    ClientStore clients(ctx.store);
    return RunClientCommand(clients, args, ctx);
  }

 private:
  OidcConfig pending_;
  std::unique_ptr<Provider> provider_;
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<OidcModule>(); }

}  // namespace palaver::oidc
