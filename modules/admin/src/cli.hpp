// `palaverd settings list|get|set`: the running server's settings service, over its admin API on
// loopback (validated, durable, applied at once and audited exactly as console changes are).
#pragma once

#include <string>
#include <vector>

#include "palaver/sdk/command.hpp"

namespace palaver::admin {

/// The command's usage text (`palaverd ... --help`).
const char* SettingsCommandUsage();

/// The file (0600, in the state dir) holding the token `palaverd settings` presents; rewritten
/// with a fresh token at every start of the admin module.
inline constexpr const char* kCliTokenFile = "admin-cli-token";

int RunSettingsCommand(const std::vector<std::string>& args, sdk::CommandContext& ctx);

}  // namespace palaver::admin
