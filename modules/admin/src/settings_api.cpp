#include "settings_api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "palaver/sdk/services/host_status.hpp"
#include "palaver/sdk/services/token_verifier.hpp"
#include "palaver/sdk/services/user_directory.hpp"
#include "console.hpp"
#include "sessions.hpp"

namespace palaver::admin {
namespace {

constexpr const char* kPrefix = "/admin/api/v1/settings";

sdk::Response Denied(int status, const std::string& why) {
  auto r = sdk::Response::Json(status, "{\"error\":\"" + std::string(status == 401 ? "unauthenticated" : "permission_denied") +
                                           "\",\"error_description\":\"" + sdk::JsonEscape(why) + "\"}");
  if (status == 401) r.SetHeader("www-authenticate", "Bearer");
  r.SetHeader("cache-control", "no-store");
  return r;
}

using AdminTask = std::function<void(const Actor& admin, const sdk::Request& req, sdk::Responder respond)>;

bool IsLoopbackPeer(const std::string& peer) {
  return peer == "::1" || peer.rfind("127.", 0) == 0 || peer == "::ffff:127.0.0.1";
}

// Runs `task` on a worker once `req` carries an access token of an enabled user with the admin
// flag, issued in the user's current session epoch, or (`cli_token` non-empty) the CLI token from
// loopback; answers 401 (no or bad token, or one from before the user's sessions were ended: a
// password change) or 403 (not an administrator) otherwise. Net loop.
void WithAdministrator(const sdk::Request& req, sdk::Services& services, sdk::Workers& workers, sdk::Responder respond,
                       const std::string& cli_token, const AdminNetworks& allowed, AdminTask task) {
  if (!cli_token.empty() && IsLoopbackPeer(req.peer)) {
    auto auth = req.Header("authorization");
    if (auth && auth->size() > 7 && auth->substr(0, 7) == "Bearer " &&
        SecretEquals(std::string(auth->substr(7)), cli_token)) {
      workers.Submit([copy = req, respond, task = std::move(task)] { task(Actor{"cli", "local"}, copy, respond); },
                     nullptr);
      return;
    }
  }
  // `palaverd settings` (above) always may; administrators' tokens only from the allowed networks.
  if (!allowed.Allows(req.peer)) {
    return respond(Denied(403, "the admin API is not available from this address"));
  }
  auto verifier = services.Find<sdk::TokenVerifier>();
  auto directory = services.Find<sdk::UserDirectory>();
  if (!verifier || !directory) return respond(Denied(403, "administration needs the oidc and directory modules"));
  auto claims = sdk::AuthorizeBearer(req, verifier.get(), {});
  if (!claims) return respond(Denied(401, "an administrator's access token is required"));
  if (claims->guest) return respond(Denied(403, "administrators only"));
  workers.Submit(
      [directory, copy = req, who = *claims, respond, task = std::move(task)] {
        auto user = directory->GetById(who.user_id);
        if (!user || !user->enabled || !user->is_admin) return respond(Denied(403, "administrators only"));
        // Like every other API (sdk::AuthorizeActiveBearer): a token from before the user's
        // sessions were ended (password changed) no longer counts, for its remaining minutes.
        auto standing = directory->Standing(who.user_id);
        if (!standing || who.session_epoch < standing->session_epoch) {
          return respond(Denied(401, "the token's sessions were ended"));
        }
        task(Actor{user->username, copy.peer}, copy, respond);
      },
      nullptr);
}

std::string LevelName(spdlog::level::level_enum level) {
  auto v = spdlog::level::to_string_view(level);
  return std::string(v.data(), v.size());
}

// Every registered logger, by name.
std::vector<std::shared_ptr<spdlog::logger>> Loggers() {
  std::vector<std::shared_ptr<spdlog::logger>> all;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { all.push_back(l); });
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a->name() < b->name(); });
  return all;
}

sdk::Response LevelsJson() {
  std::string out = "{";
  for (const auto& l : Loggers()) {
    out += std::string(out.size() > 1 ? "," : "") + "\"" + sdk::JsonEscape(l->name()) + "\":\"" + LevelName(l->level()) + "\"";
  }
  auto r = sdk::Response::Json(200, out + "}");
  r.SetHeader("cache-control", "no-store");
  return r;
}

// `web=debug, tls=info`: every item names a logger that exists and a level spdlog knows.
Result<std::vector<std::pair<std::shared_ptr<spdlog::logger>, spdlog::level::level_enum>>> ParseLevelChanges(
    const std::string& text) {
  std::vector<std::pair<std::shared_ptr<spdlog::logger>, spdlog::level::level_enum>> changes;
  std::string item;
  for (char c : text + ",") {
    if (c != ',' && c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      item.push_back(c);
      continue;
    }
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string level = eq == std::string::npos ? "" : item.substr(eq + 1);
    auto parsed = spdlog::level::from_str(level);
    bool known_level = parsed != spdlog::level::off || level == "off";
    if (eq == std::string::npos || eq == 0 || !known_level) {
      std::string why = "expected <logger>=<level>[, ...] with levels trace, debug, info, warn, error, critical, off";
      return Fail(ErrorCode::kInvalidArgument, why, why);
    }
    std::string name = item.substr(0, eq);
    auto logger = spdlog::get(name);
    if (!logger) {
      std::string known;
      for (const auto& l : Loggers()) known += (known.empty() ? "" : ", ") + l->name();
      std::string shown = name.size() > 64 ? name.substr(0, 64) + "..." : name;
      return Fail(ErrorCode::kInvalidArgument, "unknown logger",
                  "unknown logger \"" + shown + "\" (loggers: " + known + ")");
    }
    changes.emplace_back(std::move(logger), parsed);
    item.clear();
  }
  if (changes.empty()) {
    std::string why = "expected <logger>=<level>[, ...]";
    return Fail(ErrorCode::kInvalidArgument, why, why);
  }
  return changes;
}

sdk::Response MethodNotAllowed(const std::string& description) {
  return sdk::Response::Json(405, "{\"error\":\"method_not_allowed\",\"error_description\":\"" +
                                      sdk::JsonEscape(description) + "\"}");
}

}  // namespace

Status RegisterApiRoutes(sdk::Host& host, SettingsChanger& changer, std::string cli_token,
                         std::shared_ptr<const AdminNetworks> allowed) {
  auto log = host.Logger();
  sdk::Services& services = host.Registry();
  sdk::Workers& workers = host.Pool();
  sdk::Settings& settings = host.Policy();
  sdk::Route levels{.methods = {"GET", "PUT"}, .path = "/admin/api/v1/log-levels", .max_body_bytes = 4096,
                    .route_class = "admin"};
  PALAVER_RETURN_IF_ERROR(host.Http().Add(levels, [&services, &workers, log, allowed](const sdk::Request& req,
                                                                                      sdk::Responder respond) {
    if (auto origin = req.Header("origin"); origin && *origin != "https://" + req.authority) {
      return respond(sdk::Response::FromError(Error{ErrorCode::kPermissionDenied, "cross-origin log level change",
                                                    "cross-origin requests are refused"}));
    }
    // Reading the levels is for the monitoring audience too; changing them is for administrators.
    auto hs = services.Find<sdk::HostStatus>();
    if (req.method == "GET" && hs && hs->IsMonitoringClient(req)) return respond(LevelsJson());
    WithAdministrator(req, services, workers, respond, "", *allowed,
                      [log](const Actor& admin, const sdk::Request& r, sdk::Responder done) {
                        if (r.method == "PUT") {
                          auto changes = ParseLevelChanges(r.body);
                          if (!changes) return done(sdk::Response::FromError(changes.error()));
                          for (const auto& [logger, level] : *changes) {
                            logger->set_level(level);
                            log->info("log level changed logger={} level={} by={} client={}", logger->name(),
                                      LevelName(level), admin.name, r.peer);
                          }
                        }
                        done(LevelsJson());
                      });
  }));
  // Everything else under /admin/api/ answers JSON too: 405 with Allow for a known endpoint and
  // another method, 404 for no endpoint (before, the console's HTML pages and redirects answered).
  sdk::Route rest{.methods = {"GET", "PUT", "POST", "DELETE", "PATCH"}, .path = "/admin/api/",
                  .match = sdk::Match::kPrefix, .max_body_bytes = 4096, .route_class = "admin"};
  PALAVER_RETURN_IF_ERROR(host.Http().Add(rest, [](const sdk::Request& req, sdk::Responder respond) {
    const std::string settings_prefix = kPrefix;
    bool known = req.path == "/admin/api/v1/log-levels" || req.path == settings_prefix ||
                 req.path.starts_with(settings_prefix + "/");
    if (known) {
      auto r = MethodNotAllowed("method " + req.method + " is not allowed here");
      r.SetHeader("allow", "GET, PUT");
      return respond(std::move(r));
    }
    respond(sdk::Response::FromError(Error{ErrorCode::kNotFound, "no admin API endpoint " + req.path,
                                           "no such admin API endpoint"}));
  }));
  sdk::Route route{.methods = {"GET", "PUT"}, .path = kPrefix, .match = sdk::Match::kPrefix, .max_body_bytes = 16 * 1024,
                   .route_class = "admin"};
  return host.Http().Add(route, [&settings, &services, &workers, &changer, cli_token, allowed](const sdk::Request& req,
                                                                                     sdk::Responder respond) {
    std::string key;
    if (req.path.size() > std::string(kPrefix).size()) key = req.path.substr(std::string(kPrefix).size() + 1);
    if (req.method == "PUT" && key.empty()) {
      auto r = MethodNotAllowed("PUT one setting: /admin/api/v1/settings/<key>");
      r.SetHeader("allow", "GET");
      return respond(std::move(r));
    }
    WithAdministrator(req, services, workers, respond, cli_token, *allowed,
        [&settings, &changer, key](const Actor& who, const sdk::Request& copy, sdk::Responder respond) {
          // GET of one setting answers it alone; an unknown key is 404 (JSON, like every answer).
          if (!key.empty() && !settings.Get(key)) {
            return respond(sdk::Response::FromError(
                Error{ErrorCode::kNotFound, "no setting " + key, "unknown setting \"" + key + "\""}));
          }
          if (copy.method == "PUT") {
            auto current = settings.Get(key);
            auto value = ParseJsonValue(copy.body, *current);
            if (!value) return respond(sdk::Response::FromError(value.error()));
            if (auto st = changer.Change(who, {{key, *value}}); !st) return respond(sdk::Response::FromError(st.error()));
          }
          std::string out = "{\"settings\":[";
          bool first = true;
          for (const auto& spec : settings.List()) {
            if (!key.empty() && spec.key != key) continue;
            auto value = settings.Get(spec.key);
            const char* type = std::holds_alternative<bool>(spec.default_value)      ? "bool"
                               : std::holds_alternative<int64_t>(spec.default_value) ? "int"
                                                                                     : "string";
            out += std::string(first ? "" : ",") + "{\"key\":\"" + sdk::JsonEscape(spec.key) + "\",\"type\":\"" +
                   type + "\",\"value\":" + ValueJson(value ? *value : spec.default_value) +
                   ",\"default\":" + ValueJson(spec.default_value) + ",\"description\":\"" +
                   sdk::JsonEscape(spec.description) + "\"}";
            first = false;
          }
          auto r = sdk::Response::Json(200, out + "]}");
          r.SetHeader("cache-control", "no-store");
          respond(std::move(r));
        });
  });
}

}  // namespace palaver::admin
