#include "palaver/directory/directory_module.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "cli.hpp"
#include "config.hpp"
#include "local_store.hpp"
#include "palaver/sdk/command.hpp"
#include "palaver/sdk/files.hpp"
#include "palaver/sdk/host.hpp"

namespace palaver::directory {
namespace {

class DirectoryModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override {
    return {.id = "directory", .description = "users: local store, password checks, `palaverd user`"};
  }

  Status Configure(sdk::ConfigReader& section) override {
    pending_ = ParseDirectoryConfig(section);
    return OkStatus();
  }

  Status Start(sdk::Host& host) override {
    config_ = pending_;
    log_ = host.Logger();
    PALAVER_RETURN_IF_ERROR(host.Database().Migrate("directory", LocalUserStore::Migrations()));
    users_ = std::make_shared<LocalUserStore>(host.Database());
    if (config_.initial_admin) PALAVER_RETURN_IF_ERROR(CreateInitialAdmin(host.Info().state_dir));
    host.Registry().Publish<sdk::UserDirectory>(users_);
    registry_ = &host.Registry();
    return OkStatus();
  }

  Status Reload() override {
    // Only initial_admin can change, and it only matters at start.
    config_ = pending_;
    return OkStatus();
  }

  void Stop() override {
    if (registry_ != nullptr) registry_->Withdraw<sdk::UserDirectory>();
    registry_ = nullptr;
  }

  std::vector<std::string> Commands() const override { return {"user"}; }

  int RunCommand(const std::string&, const std::vector<std::string>& args, sdk::CommandContext& ctx) override {
    if (auto st = ctx.store.Migrate("directory", LocalUserStore::Migrations()); !st) {
      std::fprintf(ctx.err, "palaverd user: %s\n", st.error().message.c_str());
      return 1;
    }
    LocalUserStore users(ctx.store);
    return RunUserCommand(users, args, ctx);
  }

 private:
  // On first start with no users: an `admin` with a random password, printed once on a
  // terminal and kept in <state_dir>/admin-password (0600). Never logged.
  Status CreateInitialAdmin(const std::filesystem::path& state_dir) {
    PALAVER_ASSIGN_OR_RETURN(int64_t count, users_->Count());
    if (count > 0) return OkStatus();
    std::string password = RandomPassword();
    auto file = state_dir / "admin-password";
    PALAVER_RETURN_IF_ERROR(sdk::WriteFileAtomically(file, password + "\n", 0600));
    NewUser admin{.username = "admin", .display_name = "Administrator", .is_admin = true};
    PALAVER_ASSIGN_OR_RETURN(auto created, users_->Add(admin, password));
    if (isatty(STDOUT_FILENO)) {
      std::fprintf(stdout,
                   "Created the administrator account 'admin' with the password:\n\n    %s\n\n"
                   "It is shown only now and kept in %s (readable by root only).\n"
                   "Change it with: palaverd user passwd admin\n",
                   password.c_str(), file.c_str());
      std::fflush(stdout);
    }
    log_->info("created the initial administrator user={} password_file={}", created.username, file.string());
    return OkStatus();
  }

  DirectoryConfig pending_;
  DirectoryConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<LocalUserStore> users_;
  sdk::Services* registry_ = nullptr;
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<DirectoryModule>(); }

}  // namespace palaver::directory
