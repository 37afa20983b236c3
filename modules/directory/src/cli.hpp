// `palaverd user ...`: manage local users from the shell.
#pragma once

#include <string>
#include <vector>

#include "local_store.hpp"
#include "palaver/sdk/command.hpp"
#include "password_policy.hpp"

namespace palaver::directory {

/// The command's usage text (`palaverd ... --help`).
const char* UserCommandUsage();

/// Runs `palaverd user <args>`. Passwords come from a no-echo prompt on a terminal, or the first
/// line of standard input otherwise; never from the command line; new ones follow `policy`.
/// Returns the exit code.
int RunUserCommand(LocalUserStore& users, const PasswordPolicy& policy, const std::vector<std::string>& args,
                   sdk::CommandContext& ctx);

}  // namespace palaver::directory
