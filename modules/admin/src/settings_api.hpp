// The admin JSON API: settings (/admin/api/v1/settings) and live log levels
// (/admin/api/v1/log-levels), for administrators' access tokens and the `palaverd settings`
// command on the same machine.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "console.hpp"
#include "palaver/sdk/host.hpp"
#include "settings_ops.hpp"

namespace palaver::admin {

/// Registers both routes. `host` and `changer` must outlive the routes. `cli_token` is the
/// secret `palaverd settings` presents from loopback (kept in <state_dir>/admin-cli-token).
///
/// GET /admin/api/v1/settings, PUT /admin/api/v1/settings/<key> {"value": ...}: an administrator's
/// access token (a user the directory marks as admin) or the CLI token from loopback; else
/// 401/403. Values are typed and validated; every change lands in the audit log.
///
/// GET|PUT /admin/api/v1/log-levels (body `web=debug, tls=info`): PUT needs an administrator;
/// GET also answers the monitoring audience. Unknown loggers and levels are 400, nothing changed.
/// `allowed`: the client networks administrators may use the API from (shared with the console;
/// a reload replaces them).
Status RegisterApiRoutes(sdk::Host& host, SettingsChanger& changer, std::string cli_token,
                         std::shared_ptr<const AdminNetworks> allowed);

}  // namespace palaver::admin
