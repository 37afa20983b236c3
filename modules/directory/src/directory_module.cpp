#include "palaver/directory/directory_module.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "cli.hpp"
#include "config.hpp"
#include "gc_api.hpp"
#include "ldap_client.hpp"
#include "ldap_directory.hpp"
#include "local_store.hpp"
#include "user_admin.hpp"
#include "palaver/sdk/command.hpp"
#include "palaver/sdk/files.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/sdk/services/token_verifier.hpp"

namespace palaver::directory {
namespace {

class DirectoryModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override {
    return {.id = "directory", .description = "users: local store or LDAP, password checks, `palaverd user`"};
  }

  Status Configure(sdk::ConfigReader& section) override {
    pending_ = ParseDirectoryConfig(section);
    return OkStatus();
  }

  Status Start(sdk::Host& host) override {
    config_ = pending_;
    log_ = host.Logger();
    registry_ = &host.Registry();
    pool_ = &host.Pool();
    loop_ = &host.Loop();
    stopped_ = false;
    if (config_.backend == "ldap") {
      PALAVER_RETURN_IF_ERROR(StartLdap(host));
    } else {
      PALAVER_RETURN_IF_ERROR(LocalUserStore::MigrateAll(host.Database()));
      auto local = std::make_shared<LocalUserStore>(host.Database());
      users_ = local;
      local_ = local;
      if (config_.initial_admin) PALAVER_RETURN_IF_ERROR(CreateInitialAdmin(host.Info().state_dir));
      // The admin console's and CLI's user management (with LDAP a read-only list, below).
      host.Registry().Publish<sdk::UserAdmin>(
          std::make_shared<LocalUserAdmin>(local, PasswordPolicy{static_cast<size_t>(config_.password_min_length)}));
    }
    if (config_.backend == "ldap") host.Registry().Publish<sdk::UserAdmin>(std::make_shared<ReadOnlyUserAdmin>(users_));
    host.Registry().Publish<sdk::UserDirectory>(users_);
    return host.Http().Add({.methods = {"GET"}, .path = kGcPrefix, .match = sdk::Match::kPrefix, .route_class = "directory"},
                           [this](const sdk::Request& req, sdk::Responder respond) { HandleAddressBook(req, respond); });
  }

  sdk::Health CheckHealth() const override {
    auto ldap = ldap_;
    if (ldap && !ldap->Up()) {
      return {sdk::HealthState::kDegraded, "LDAP unreachable: sign-in fails, the address book is served from cache"};
    }
    return {};
  }

  Status Reload() override {
    // TODO(#3): config_ is read on the loop; swap an immutable snapshot when more keys become
    // reloadable. Until then the required scopes apply after a restart.
    return Fail(ErrorCode::kUnimplemented, "directory settings apply after a restart");
  }

  void Stop() override {
    if (registry_ != nullptr) registry_->Withdraw<sdk::UserAdmin>();
    stopped_ = true;
    if (loop_ != nullptr && probe_timer_ != 0) loop_->Cancel(probe_timer_);
    probe_timer_ = 0;
    if (registry_ != nullptr) registry_->Withdraw<sdk::UserDirectory>();
    registry_ = nullptr;
  }

  std::vector<std::string> Commands() const override { return {"user"}; }
  std::string CommandUsage(const std::string&) const override { return UserCommandUsage(); }

  int RunCommand(const std::string&, const std::vector<std::string>& args, sdk::CommandContext& ctx) override {
    if (pending_.backend == "ldap") {
      std::fprintf(ctx.err, "palaverd user: users come from LDAP ([directory] backend = ldap); manage them there\n");
      return 1;
    }
    if (auto st = LocalUserStore::MigrateAll(ctx.store); !st) {
      std::fprintf(ctx.err, "palaverd user: %s\n", st.error().message.c_str());
      return 1;
    }
    LocalUserStore users(ctx.store);
    return RunUserCommand(users, PasswordPolicy{static_cast<size_t>(pending_.password_min_length)}, args, ctx);
  }

 private:
  // backend = ldap: the service password is read once here; the server is asked once (a clear
  // log line when it cannot be reached, but the start goes on: the directory recovers by itself
  // and /healthz says degraded meanwhile), then probed every ldap_health_interval.
  Status StartLdap(sdk::Host& host) {
    std::string password;
    if (!config_.ldap.bind_password_file.empty()) {
      auto read = ReadBindPassword(config_.ldap.bind_password_file);
      if (!read) return Fail(ErrorCode::kFailedPrecondition, read.error().message, "directory: " + read.error().message);
      password = std::move(*read);
    }
    auto& up_gauge = host.Stats().GetGauge("palaver_directory_ldap_up", "1 when the LDAP server answers, 0 when not.");
    auto log = log_;
    auto client = std::make_shared<LibLdapClient>(config_.ldap, std::move(password));
    ldap_ = std::make_shared<LdapDirectory>(config_.ldap, client, LdapClock::System(),
                                            [log, &up_gauge](bool up, const std::string& why) {
                                              up_gauge.Set(up ? 1 : 0);
                                              if (up) log->info("ldap reachable again");
                                              else log->warn("ldap unreachable, degraded err={}", why);
                                            });
    users_ = ldap_;
    // A failed probe has logged `ldap unreachable` through the state callback.
    if (auto st = ldap_->Probe(); !st) {
      up_gauge.Set(0);
    } else {
      up_gauge.Set(1);
      log_->info("ldap directory ready uris={} base={} preset={}", config_.ldap.uris.size(), config_.ldap.base_dn,
                 config_.ldap.preset);
    }
    ScheduleProbe();
    return OkStatus();
  }

  // Net loop: the probe itself runs on a worker; the next one is scheduled when it is done.
  void ScheduleProbe() {
    probe_timer_ = loop_->Schedule(std::chrono::duration_cast<std::chrono::milliseconds>(config_.ldap.health_interval),
                                   [this] {
                                     if (stopped_) return;
                                     auto ldap = ldap_;
                                     pool_->Submit([ldap] { (void)ldap->Probe(); },
                                                   [this] {
                                                     if (!stopped_) ScheduleProbe();
                                                   });
                                   });
  }

  // On every start without an enabled administrator (the first start, or users created with
  // `palaverd user add` before it): a new administrator with a random password, printed once on
  // a terminal and kept in <state_dir>/admin-password (0600). Never logged. Named `admin`, or
  // `admin-2`, `admin-3`, ... when that name is taken by a plain user (never promoted).
  Status CreateInitialAdmin(const std::filesystem::path& state_dir) {
    PALAVER_ASSIGN_OR_RETURN(int64_t admins, local_->CountAdmins());
    if (admins > 0) return OkStatus();
    PALAVER_ASSIGN_OR_RETURN(int64_t existing, local_->Count());
    std::string name = "admin";
    for (int i = 2; local_->GetByUsername(name); ++i) {
      if (i > 100) return Fail(ErrorCode::kFailedPrecondition, "no free name for an administrator");
      name = "admin-" + std::to_string(i);
    }
    std::string password = RandomPassword();
    auto file = state_dir / "admin-password";
    PALAVER_RETURN_IF_ERROR(sdk::WriteFileAtomically(file, password + "\n", 0600));
    NewUser admin{.username = name, .display_name = "Administrator", .is_admin = true};
    PALAVER_ASSIGN_OR_RETURN(auto created, local_->Add(admin, password));
    if (isatty(STDOUT_FILENO)) {
      std::fprintf(stdout,
                   "Created the administrator account '%s' with the password:\n\n    %s\n\n"
                   "It is shown only now and kept in %s (readable by root only).\n"
                   "Change it with: palaverd user passwd %s\n",
                   created.username.c_str(), password.c_str(), file.c_str(), created.username.c_str());
      std::fflush(stdout);
    }
    log_->info("created the initial administrator user={} password_file={} reason={}", created.username,
               file.string(), existing == 0 ? "first_start" : "no_administrator");
    return OkStatus();
  }

  // /api/gc/v1: the request is parsed on the loop; the bearer token (a signature check) and the
  // directory work run on a worker. Token and scope failures answer 403 with an empty body, as
  // kapi does, before any other error.
  void HandleAddressBook(const sdk::Request& req, const sdk::Responder& respond) {
    auto verifier = registry_ != nullptr ? registry_->Find<sdk::TokenVerifier>() : nullptr;
    GcTarget target = ParseGcPath(req.path);
    Result<ListQuery> query = ListQuery{};
    if (target.kind == GcTarget::Kind::kUsers) query = ParseListQuery(req);
    std::string authorization(req.Header("authorization").value_or(""));
    auto users = users_;
    auto scopes = config_.api_required_scopes;
    auto log = log_;
    std::string peer = req.peer;
    pool_->Submit([users, verifier, scopes, authorization, target, query, log, peer, respond] {
      sdk::Request bearer;
      bearer.headers.emplace_back("authorization", authorization);
      auto claims = sdk::AuthorizeActiveBearer(bearer, verifier.get(), scopes);
      if (!claims) {
        log->debug("address book request refused client={} err={}", peer, claims.error().message);
        return respond(sdk::BearerFailure(claims.error()));
      }
      if (target.kind == GcTarget::Kind::kUnknown) {
        return respond(sdk::Response::FromError(Error{ErrorCode::kNotFound, "no such resource", "no such resource"}));
      }
      if (!query) return respond(sdk::Response::FromError(query.error()));
      respond(AddressBookWork(*users, target, *query, *claims));
    }, nullptr);
  }

  // Blocking: on a worker.
  static sdk::Response AddressBookWork(sdk::UserDirectory& users, const GcTarget& target, const ListQuery& query,
                                       const sdk::TokenClaims& who) {
    auto json = [](std::string body) {
      auto r = sdk::Response::Json(200, std::move(body));
      r.SetHeader("cache-control", "no-store");
      return r;
    };
    switch (target.kind) {
      case GcTarget::Kind::kUsers: {
        auto page = users.Search(query.search, query.skip, query.top);
        if (!page) return sdk::Response::FromError(page.error());
        return json(UserListJson(*page, query));
      }
      case GcTarget::Kind::kMe:
      case GcTarget::Kind::kUser:
      case GcTarget::Kind::kUserPhoto: {
        Result<sdk::DirectoryUser> user = Fail(ErrorCode::kNotFound, "no user", "no such user");
        if (target.kind == GcTarget::Kind::kMe) {
          if (!who.user_id.empty()) user = users.GetById(who.user_id);
          if (!user && !who.username.empty()) user = users.GetByUsername(who.username);
        } else {
          // Meet looks contacts up by id, or by username with useIdentifiedUser.
          user = users.GetById(target.id);
          if (!user && user.error().code == ErrorCode::kNotFound) user = users.GetByUsername(target.id);
        }
        if (!user) return sdk::Response::FromError(user.error());
        if (target.kind != GcTarget::Kind::kUserPhoto) return json(UserJson(*user, {}));
        auto photo = users.Photo(user->id);
        if (!photo) return sdk::Response::FromError(photo.error());
        sdk::Response r;
        bool jpeg = photo->size() > 2 && static_cast<unsigned char>((*photo)[0]) == 0xFF &&
                    static_cast<unsigned char>((*photo)[1]) == 0xD8;
        bool png = photo->rfind("\x89PNG", 0) == 0;
        r.SetHeader("content-type", jpeg ? "image/jpeg" : png ? "image/png" : "application/octet-stream");
        r.SetHeader("cache-control", "private, max-age=300");
        r.body = std::move(*photo);
        return r;
      }
      case GcTarget::Kind::kUnknown:
        break;
    }
    return sdk::Response::FromError(Error{ErrorCode::kNotFound, "no such resource", "no such resource"});
  }

  DirectoryConfig pending_;
  DirectoryConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<sdk::UserDirectory> users_;
  std::shared_ptr<LocalUserStore> local_;  // backend = local
  std::shared_ptr<LdapDirectory> ldap_;    // backend = ldap
  sdk::Services* registry_ = nullptr;
  sdk::Workers* pool_ = nullptr;
  sdk::NetLoop* loop_ = nullptr;
  sdk::NetLoop::TimerId probe_timer_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<DirectoryModule>(); }

}  // namespace palaver::directory
