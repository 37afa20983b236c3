// `palaverd client ...`: manage registered OAuth clients from the shell.
#pragma once

#include <string>
#include <vector>

#include "clients.hpp"
#include "palaver/sdk/command.hpp"

namespace palaver::oidc {

/// The command's usage text (`palaverd ... --help`).
const char* ClientCommandUsage();

/// Runs `client list|add|remove|import`; returns the exit code (0 ok, 1 failed, 2 usage).
int RunClientCommand(ClientStore& clients, const std::vector<std::string>& args, sdk::CommandContext& ctx);

}  // namespace palaver::oidc
