#include "admin_api.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <spdlog/spdlog.h>

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

}  // namespace

Status RegisterAdminSettingsRoutes(RouterImpl& router, sdk::Settings& settings, sdk::Services& services,
                                   sdk::Workers& workers, std::shared_ptr<spdlog::logger> log) {
  sdk::Route route{.methods = {"GET", "PUT"}, .path = kPrefix, .match = sdk::Match::kPrefix, .max_body_bytes = 16 * 1024,
                   .route_class = "admin"};
  return router.Add("palaver", route, [&settings, &services, &workers, log](const sdk::Request& req, sdk::Responder respond) {
    std::string key;
    if (req.path.size() > std::string(kPrefix).size()) {
      if (req.path[std::string(kPrefix).size()] != '/') return respond(sdk::Response::Text(404, "not found\n"));
      key = req.path.substr(std::string(kPrefix).size() + 1);
    }
    if (req.method == "PUT" && key.empty()) return respond(sdk::Response::Text(405, "PUT a single setting\n"));
    if (req.method == "GET" && !key.empty()) return respond(sdk::Response::Text(404, "not found\n"));
    auto verifier = services.Find<sdk::TokenVerifier>();
    auto directory = services.Find<sdk::UserDirectory>();
    if (!verifier || !directory) return respond(Denied(403, "administration needs the oidc and directory modules"));
    auto claims = sdk::AuthorizeBearer(req, verifier.get(), {});
    if (!claims) return respond(Denied(401, "an administrator's access token is required"));
    if (claims->guest) return respond(Denied(403, "administrators only"));
    sdk::Request copy = req;
    sdk::TokenClaims who = *claims;
    workers.Submit(
        [&settings, directory, log, copy, who, key, respond] {
          auto user = directory->GetById(who.user_id);
          if (!user || !user->enabled || !user->is_admin) return respond(Denied(403, "administrators only"));
          if (copy.method == "PUT") {
            auto current = settings.Get(key);
            if (!current) return respond(sdk::Response::FromError(Error{ErrorCode::kNotFound, "no setting " + key,
                                                                        "no such setting"}));
            auto value = ParseValue(copy.body, *current);
            if (!value) return respond(sdk::Response::FromError(value.error()));
            if (auto st = settings.Set(key, *value); !st) return respond(sdk::Response::FromError(st.error()));
            log->info("setting changed key={} value={} by={} client={}", key, ValueJson(*value), user->username, copy.peer);
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
        },
        nullptr);
  });
}

}  // namespace palaver::host
