// The Module interface every palaverd module implements, and its lifecycle.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "palaver/sdk/config.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

class Host;
struct CommandContext;
struct HostInfo;

/// Static facts about a module.
struct ModuleInfo {
  std::string id;           // lowercase; also the config section, logger name, metric prefix
  std::string description;
  std::vector<std::string> depends_on;  // ids that must start first (if enabled)
  bool enabled_by_default = true;
};

enum class HealthState { kOk, kDegraded, kFailed };

struct Health {
  HealthState state = HealthState::kOk;
  std::string detail;
};

/// The lifecycle (architecture.md §3):
///   Configure (pure, also the dry run of a reload) → Start (dependency order) →
///   [Configure → Reload]* → Stop (reverse order; idempotent; also after a partial Start).
/// Thread: the host's control thread calls Configure/Start/Reload/Stop, never concurrently.
/// CheckHealth may be called from any thread.
class Module {
 public:
  virtual ~Module() = default;

  virtual ModuleInfo Info() const = 0;

  /// Parses and validates the module's section into a pending config. No sockets, files,
  /// threads or other side effects. Report problems through `section.Reject(...)` (and return
  /// OK) or return an error; the host collects the problems of every module.
  virtual Status Configure(ConfigReader& section) = 0;
  /// Checks, after a Configure without problems, what Start will need beyond the config text:
  /// files present, readable and consistent (a certificate and its key match, a secret long
  /// enough), listeners that cannot clash with the host's. Reads files; opens no socket and
  /// changes nothing. Runs for `palaverd --check-config` and before Start, so that a file
  /// --check-config accepts does not fail to start for these reasons. Report through
  /// `section.Reject(...)` / `section.Warn(...)` (file:line of the key).
  virtual void Preflight(const HostInfo& host, ConfigReader& section) {
    (void)host;
    (void)section;
  }

  /// Acquires resources and registers routes, services, settings and metrics, using the config
  /// of the last successful Configure.
  virtual Status Start(Host& host) = 0;

  /// Applies the config of the last successful Configure to a running module.
  /// Returns kUnimplemented if the change needs a restart of the process (the host says so).
  virtual Status Reload() { return Fail(ErrorCode::kUnimplemented, "reload not supported"); }

  virtual void Stop() = 0;

  /// Non-blocking, thread-safe.
  virtual Health CheckHealth() const { return {}; }

  /// Subcommands this module offers on palaverd's command line (`palaverd <command> ...`).
  virtual std::vector<std::string> Commands() const { return {}; }
  /// The usage text of one of Commands(), for `palaverd <command> --help` (printed to stdout,
  /// exit 0, without reading the config).
  virtual std::string CommandUsage(const std::string& command) const {
    (void)command;
    return {};
  }
  /// Runs one of Commands() after Configure; returns the process exit code (0 ok, 1 failed,
  /// 2 usage). Runs without the server (the store is the configured state dir's).
  virtual int RunCommand(const std::string& command, const std::vector<std::string>& args, CommandContext& ctx) {
    (void)command;
    (void)args;
    (void)ctx;
    return 2;
  }
};

using ModuleFactory = std::unique_ptr<Module> (*)();

}  // namespace palaver::sdk
