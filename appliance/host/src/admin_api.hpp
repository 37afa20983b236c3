// The admin API of the host: settings (policy) and log levels, changed by administrators.
#pragma once

#include <functional>
#include <memory>

#include "palaver/sdk/host.hpp"
#include "palaver/sdk/net_loop.hpp"
#include "palaver/sdk/settings.hpp"
#include "router.hpp"

namespace palaver::host {

/// GET /admin/api/v1/settings, PUT /admin/api/v1/settings/<key> {"value": ...}.
/// Callers present an access token (TokenVerifier) of a user the directory marks as admin;
/// anything else is 401/403. Changes are logged with the admin's name.
Status RegisterAdminSettingsRoutes(RouterImpl& router, sdk::Settings& settings, sdk::Services& services,
                                   sdk::Workers& workers, std::shared_ptr<spdlog::logger> log);

/// GET|PUT /admin/api/v1/log-levels (body `web=debug, tls=info`). PUT needs an administrator's
/// access token (as the settings); GET also answers the monitoring audience (`monitoring`:
/// metrics_allow or the metrics token). Unknown logger names and levels are 400, nothing changed.
/// Changes are logged with the admin's name.
Status RegisterLogLevelRoute(RouterImpl& router, sdk::Services& services, sdk::Workers& workers,
                             std::function<bool(const sdk::Request&)> monitoring, std::shared_ptr<spdlog::logger> log);

}  // namespace palaver::host
