#include "admin_api.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "logging.hpp"

#include "palaver/sdk/services/token_verifier.hpp"
#include "palaver/sdk/services/user_directory.hpp"

namespace palaver::host {
namespace {

constexpr const char* kPrefix = "/admin/api/v1/settings";

std::string ValueJson(const sdk::SettingValue& v) {
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "true" : "false";
  if (std::holds_alternative<int64_t>(v)) return std::to_string(std::get<int64_t>(v));
  return "\"" + sdk::JsonEscape(std::get<std::string>(v)) + "\"";
}

sdk::Response Denied(int status, const std::string& why) {
  auto r = sdk::Response::Json(status, "{\"error\":\"" + std::string(status == 401 ? "unauthenticated" : "permission_denied") +
                                           "\",\"error_description\":\"" + sdk::JsonEscape(why) + "\"}");
  if (status == 401) r.SetHeader("www-authenticate", "Bearer");
  r.SetHeader("cache-control", "no-store");
  return r;
}

// The JSON `value` of a PUT body, typed like the setting's default.
Result<sdk::SettingValue> ParseValue(const std::string& body, const sdk::SettingValue& like) {
  auto bad = [](const std::string& why) { return Fail(ErrorCode::kInvalidArgument, why, why); };
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(body);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return bad("the body must be {\"value\": ...}");
    auto o = v.extract<Poco::JSON::Object::Ptr>();
    if (!o->has("value")) return bad("the body must be {\"value\": ...}");
    const auto& value = o->get("value");
    if (std::holds_alternative<bool>(like)) {
      if (!value.isBoolean()) return bad("this setting takes true or false");
      return sdk::SettingValue(value.extract<bool>());
    }
    if (std::holds_alternative<int64_t>(like)) {
      if (!value.isInteger() || value.isBoolean()) return bad("this setting takes a whole number");
      return sdk::SettingValue(value.convert<int64_t>());
    }
    if (!value.isString()) return bad("this setting takes a string");
    return sdk::SettingValue(value.extract<std::string>());
  } catch (const Poco::Exception&) {
    return bad("the body is not valid JSON");
  }
}

using AdminTask = std::function<void(const sdk::DirectoryUser& admin, const sdk::Request& req, sdk::Responder respond)>;

// Runs `task` on a worker once `req` carries an access token of an enabled user with the admin
// flag; answers 401 (no or bad token) or 403 (not an administrator) otherwise. Net loop.
void WithAdministrator(const sdk::Request& req, sdk::Services& services, sdk::Workers& workers, sdk::Responder respond,
                       AdminTask task) {
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
        task(*user, copy, respond);
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

}  // namespace

Status RegisterLogLevelRoute(RouterImpl& router, sdk::Services& services, sdk::Workers& workers,
                             std::function<bool(const sdk::Request&)> monitoring, std::shared_ptr<spdlog::logger> log) {
  sdk::Route route{.methods = {"GET", "PUT"}, .path = "/admin/api/v1/log-levels", .max_body_bytes = 4096,
                   .route_class = "admin"};
  return router.Add("palaver", route, [&services, &workers, monitoring, log](const sdk::Request& req,
                                                                            sdk::Responder respond) {
    if (auto origin = req.Header("origin"); origin && *origin != "https://" + req.authority) {
      return respond(sdk::Response::FromError(Error{ErrorCode::kPermissionDenied, "cross-origin log level change",
                                                    "cross-origin requests are refused"}));
    }
    // Reading the levels is for the monitoring audience too; changing them is for administrators.
    if (req.method == "GET" && monitoring(req)) return respond(LevelsJson());
    WithAdministrator(req, services, workers, respond,
                      [log](const sdk::DirectoryUser& admin, const sdk::Request& r, sdk::Responder done) {
                        if (r.method == "PUT") {
                          auto changes = ParseLevelChanges(r.body);
                          if (!changes) return done(sdk::Response::FromError(changes.error()));
                          for (const auto& [logger, level] : *changes) {
                            logger->set_level(level);
                            log->info("log level changed logger={} level={} by={} client={}", logger->name(),
                                      LevelName(level), admin.username, r.peer);
                          }
                        }
                        done(LevelsJson());
                      });
  });
}

Status RegisterAdminSettingsRoutes(RouterImpl& router, sdk::Settings& settings, sdk::Services& services,
                                   sdk::Workers& workers, std::shared_ptr<spdlog::logger> log) {
  sdk::Route route{.methods = {"GET", "PUT"}, .path = kPrefix, .match = sdk::Match::kPrefix, .max_body_bytes = 16 * 1024,
                   .route_class = "admin"};
  return router.Add("palaver", route, [&settings, &services, &workers, log](const sdk::Request& req,
                                                                           sdk::Responder respond) {
    std::string key;
    if (req.path.size() > std::string(kPrefix).size()) {
      if (req.path[std::string(kPrefix).size()] != '/') return respond(sdk::Response::Text(404, "not found\n"));
      key = req.path.substr(std::string(kPrefix).size() + 1);
    }
    if (req.method == "PUT" && key.empty()) return respond(sdk::Response::Text(405, "PUT a single setting\n"));
    if (req.method == "GET" && !key.empty()) return respond(sdk::Response::Text(404, "not found\n"));
    WithAdministrator(req, services, workers, respond,
        [&settings, log, key](const sdk::DirectoryUser& user, const sdk::Request& copy, sdk::Responder respond) {
          if (copy.method == "PUT") {
            auto current = settings.Get(key);
            if (!current) return respond(sdk::Response::FromError(Error{ErrorCode::kNotFound, "no setting " + key,
                                                                        "no such setting"}));
            auto value = ParseValue(copy.body, *current);
            if (!value) return respond(sdk::Response::FromError(value.error()));
            if (auto st = settings.Set(key, *value); !st) return respond(sdk::Response::FromError(st.error()));
            log->info("setting changed key={} value={} by={} client={}", key, ValueJson(*value), user.username, copy.peer);
          }
          std::string out = "{\"settings\":[";
          bool first = true;
          for (const auto& spec : settings.List()) {
            if (!key.empty() && spec.key != key) continue;
            auto value = settings.Get(spec.key);
            out += std::string(first ? "" : ",") + "{\"key\":\"" + sdk::JsonEscape(spec.key) + "\",\"value\":" +
                   ValueJson(value ? *value : spec.default_value) + ",\"default\":" + ValueJson(spec.default_value) +
                   ",\"description\":\"" + sdk::JsonEscape(spec.description) + "\"}";
            first = false;
          }
          auto r = sdk::Response::Json(200, out + "]}");
          r.SetHeader("cache-control", "no-store");
          respond(std::move(r));
        });
  });
}

}  // namespace palaver::host
