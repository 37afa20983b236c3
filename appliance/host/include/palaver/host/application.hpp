// The host process: configures, starts, reloads and stops the compiled-in modules.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "palaver/sdk/module.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::host {

/// One compiled-in module (from the generated builtin list).
struct BuiltinModule {
  const char* id;
  sdk::ModuleFactory factory;
};

/// The generated, explicit list of compiled-in modules, in dependency-friendly order.
std::vector<BuiltinModule> BuiltinModules();

struct StartupOptions {
  bool foreground = true;
  std::string version;
  std::string commit;  // git commit of the build ("unknown" outside a checkout)
};

/// The lifecycle of architecture.md §3. Thread: the control (main) thread only.
class Application {
 public:
  Application(std::vector<BuiltinModule> builtins, StartupOptions options);
  ~Application();

  /// How deep Configure looks: the file alone, or also what start needs from outside it.
  enum class Check { kFile, kForStart };
  /// Reads `config_path`, parses [palaver] and configures every enabled module. Reports every
  /// problem of the file at once. Changes nothing that runs. With kForStart (--check-config and
  /// the start itself) it also checks what Start would otherwise fail on: files named by the
  /// config (certificate and key matching, secrets and tokens long enough), the state dir, and
  /// listener clashes (each module's Preflight).
  Status Configure(const std::filesystem::path& config_path, Check depth = Check::kFile);
  /// Notes of the last Configure for `--check-config`: drop-in keys that override earlier ones,
  /// then warnings (accepted values an operator should act on), which Start also logs.
  std::vector<std::string> ConfigWarnings() const;
  /// Starts everything configured by the last Configure: store, modules in dependency order
  /// (all-or-nothing), then the listeners.
  Status Start();
  /// SIGHUP: a full dry run of the new file first; a bad file leaves the running config in place.
  Status Reload(const std::filesystem::path& config_path);
  /// SIGTERM: stop accepting, drain, stop modules in reverse order. Idempotent.
  void Stop();
  /// `palaverd <command> ...`: configures from `config_path`, opens the store and runs the
  /// module command. Returns the exit code; -1 when no module offers `command`.
  int RunCommand(const std::filesystem::path& config_path, const std::string& command,
                 const std::vector<std::string>& args);
  /// `palaverd backup FILE` / `palaverd restore FILE` (host commands; RunCommand dispatches).
  int RunBackupCommand(const std::filesystem::path& config_path, const std::string& command,
                       const std::vector<std::string>& args);
  /// Every module command (for --help).
  std::vector<std::string> CommandNames() const;

  /// After Start: a few lines for a person at the console (URL, CA certificate, how to stop).
  std::string Summary() const;

  /// Every config key each section accepts (section -> keys), found by configuring every
  /// module with an empty section. Used by `--list-config-keys` and the example-config test.
  static std::map<std::string, std::set<std::string>> AcceptedKeys(const std::vector<BuiltinModule>& builtins);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace palaver::host
