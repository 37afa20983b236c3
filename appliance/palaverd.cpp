// palaverd: the Palaver meeting server. One process, pluggable modules.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <spdlog/spdlog.h>

#include "palaver/host/application.hpp"
#include "palaver/sdk/install_paths.hpp"

namespace {

constexpr const char* kDefaultConfig = palaver::sdk::kDefaultConfigFile;

void PrintHelp() {
  std::printf(
      "Usage: palaverd [--config FILE]\n"
      "       palaverd --check-config FILE [--syntax-only]\n"
      "       palaverd --list-config-keys\n"
      "       palaverd user list|add|passwd|set|grant-admin|revoke-admin|enable|disable|remove ...\n"
      "       palaverd client list|add|remove|import ...  (OpenID Connect clients)\n"
      "       palaverd settings list|get|set ...          (live settings, through the running server)\n"
      "       palaverd backup FILE                        (the state dir, while the server runs)\n"
      "       palaverd restore FILE                       (with the server stopped)\n"
      "       (each takes --config FILE; palaverd <command> --help shows its usage)\n"
      "       palaverd --version | --help\n"
      "\n"
      "Runs the Palaver meeting server in the foreground (systemd runs it as a service).\n"
      "\n"
      "  --config FILE         config file (default %s)\n"
      "  --check-config FILE   check FILE as a start would (files it names, certificate and key,\n"
      "                        secrets, ports), print every problem, exit 0 when it would start\n"
      "  --syntax-only         with --check-config: the file alone, not the files it names\n"
      "  --list-config-keys    print every key each config section accepts\n"
      "  --version             print the version\n"
      "\n"
      "  backup FILE           write users, keys, settings and the local CA to FILE (mode 0600)\n"
      "                        while the server runs\n"
      "  restore FILE          put a backup back in place (palaverd must be stopped)\n"
      "\n"
      "Signals: SIGHUP reloads the config (a bad file is rejected and the running config kept),\n"
      "SIGTERM or SIGINT stops gracefully.\n",
      kDefaultConfig);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = kDefaultConfig;
  std::string check_path;
  bool list_keys = false;
  bool syntax_only = false;
  auto builtins = palaver::host::BuiltinModules();

  // `palaverd <command> [--config FILE] args...`: a module's subcommand (e.g. `user`).
  if (argc >= 2 && argv[1][0] != '-') {
    std::string command = argv[1];
    std::vector<std::string> args;
    for (int i = 2; i < argc; ++i) {
      std::string arg = argv[i];
      if ((arg == "--config" || arg == "-c") && i + 1 < argc) {
        config_path = argv[++i];
      } else {
        args.push_back(arg);
      }
    }
    palaver::host::Application app(builtins, {.foreground = true, .version = PALAVER_VERSION, .commit = PALAVER_COMMIT});
    int code = app.RunCommand(config_path, command, args);
    if (code == -1) {
      std::fprintf(stderr, "palaverd: unknown command '%s' (see --help)\n", command.c_str());
      return 2;
    }
    return code;
  }

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto need_value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "palaverd: %s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      PrintHelp();
      return 0;
    } else if (arg == "--version") {
      std::printf("palaverd %s\n", PALAVER_VERSION);
      return 0;
    } else if (arg == "--config" || arg == "-c") {
      config_path = need_value("--config");
    } else if (arg == "--check-config") {
      check_path = need_value("--check-config");
    } else if (arg == "--syntax-only") {
      syntax_only = true;
    } else if (arg == "--list-config-keys") {
      list_keys = true;
    } else {
      std::fprintf(stderr, "palaverd: unknown argument '%s' (see --help)\n", arg.c_str());
      return 2;
    }
  }

  if (list_keys) {
    for (const auto& [section, keys] : palaver::host::Application::AcceptedKeys(builtins)) {
      for (const auto& k : keys) std::printf("%s.%s\n", section.c_str(), k.c_str());
    }
    return 0;
  }

  // Block the signals we handle before any thread starts, so only sigwait() sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // A write past RLIMIT_FSIZE (a file size limit set by the service manager or an admin) must
  // fail with EFBIG, which SQLite reports as a full disk (503 to the client), not kill palaverd.
  ::signal(SIGXFSZ, SIG_IGN);

  palaver::host::Application app(builtins, {.foreground = true, .version = PALAVER_VERSION, .commit = PALAVER_COMMIT});
  if (!check_path.empty()) {
    auto st = app.Configure(check_path, syntax_only ? palaver::host::Application::Check::kFile
                                                    : palaver::host::Application::Check::kForStart);
    for (const auto& warning : app.ConfigWarnings()) std::fprintf(stderr, "%s\n", warning.c_str());
    if (!st) {
      std::fprintf(stderr, "%s\n", st.error().message.c_str());
      return 2;
    }
    std::printf("%s: ok\n", check_path.c_str());
    return 0;
  }

  auto st = app.Configure(config_path, palaver::host::Application::Check::kForStart);
  if (!st) {
    std::fprintf(stderr, "palaverd: invalid configuration:\n%s\n", st.error().message.c_str());
    return 2;
  }
  st = app.Start();
  if (!st) {
    std::fprintf(stderr, "palaverd: cannot start: %s\n", st.error().message.c_str());
    app.Stop();
    return 1;
  }
  std::fprintf(stdout, "%s", app.Summary().c_str());
  std::fflush(stdout);

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      (void)app.Reload(config_path);
      continue;
    }
    break;
  }
  app.Stop();
  spdlog::shutdown();
  return 0;
}
