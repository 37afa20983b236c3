// Command-line subcommands a module offers (`palaverd user add ...`), run without the server.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "palaver/sdk/host.hpp"
#include "palaver/sdk/store.hpp"

namespace palaver::sdk {

/// What a command may use: the store of the configured state dir and the standard streams.
/// The module's Configure has run with the config file's section. Thread: the calling thread.
struct CommandContext {
  Store& store;
  const HostInfo& host;
  std::FILE* in = stdin;
  std::FILE* out = stdout;
  std::FILE* err = stderr;
};

}  // namespace palaver::sdk
