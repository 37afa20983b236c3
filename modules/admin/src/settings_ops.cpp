#include "settings_ops.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "palaver/sdk/http.hpp"

namespace palaver::admin {
namespace {

Error Bad(const std::string& why) { return Error{ErrorCode::kInvalidArgument, why, why}; }

const sdk::SettingSpec* FindSpec(const std::vector<sdk::SettingSpec>& specs, const std::string& key) {
  for (const auto& s : specs) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

bool SameType(const sdk::SettingValue& a, const sdk::SettingValue& b) { return a.index() == b.index(); }

}  // namespace

std::string ValueJson(const sdk::SettingValue& v) {
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "true" : "false";
  if (std::holds_alternative<int64_t>(v)) return std::to_string(std::get<int64_t>(v));
  return "\"" + sdk::JsonEscape(std::get<std::string>(v)) + "\"";
}

std::string ValueText(const sdk::SettingValue& v) {
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "true" : "false";
  if (std::holds_alternative<int64_t>(v)) return std::to_string(std::get<int64_t>(v));
  return std::get<std::string>(v);
}

Result<sdk::SettingValue> ParseJsonValue(const std::string& body, const sdk::SettingValue& like) {
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(body);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return tl::unexpected(Bad("the body must be {\"value\": ...}"));
    auto o = v.extract<Poco::JSON::Object::Ptr>();
    if (!o->has("value")) return tl::unexpected(Bad("the body must be {\"value\": ...}"));
    const auto& value = o->get("value");
    if (std::holds_alternative<bool>(like)) {
      if (!value.isBoolean()) return tl::unexpected(Bad("this setting takes true or false"));
      return sdk::SettingValue(value.extract<bool>());
    }
    if (std::holds_alternative<int64_t>(like)) {
      if (!value.isInteger() || value.isBoolean()) return tl::unexpected(Bad("this setting takes a whole number"));
      return sdk::SettingValue(value.convert<int64_t>());
    }
    if (!value.isString()) return tl::unexpected(Bad("this setting takes a string"));
    return sdk::SettingValue(value.extract<std::string>());
  } catch (const Poco::Exception&) {
    return tl::unexpected(Bad("the body is not valid JSON"));
  }
}

Result<sdk::SettingValue> ParseTextValue(const std::string& text, const sdk::SettingValue& like) {
  if (std::holds_alternative<bool>(like)) {
    if (text == "true" || text == "on" || text == "yes" || text == "1") return sdk::SettingValue(true);
    if (text == "false" || text == "off" || text == "no" || text == "0") return sdk::SettingValue(false);
    return tl::unexpected(Bad("this setting takes true or false"));
  }
  if (std::holds_alternative<int64_t>(like)) {
    int64_t n = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (text.empty() || ec != std::errc() || ptr != end) return tl::unexpected(Bad("this setting takes a whole number"));
    return sdk::SettingValue(n);
  }
  return sdk::SettingValue(text);
}

SettingsChanger::SettingsChanger(sdk::Settings& settings, AuditLog& audit, std::shared_ptr<spdlog::logger> log,
                                 std::function<int64_t()> now_ms)
    : settings_(settings), audit_(audit), log_(std::move(log)), now_ms_(std::move(now_ms)) {}

Status SettingsChanger::Check(const std::vector<std::pair<std::string, sdk::SettingValue>>& changes) const {
  auto specs = settings_.List();
  for (const auto& [key, value] : changes) {
    const auto* spec = FindSpec(specs, key);
    if (spec == nullptr) {
      return Fail(ErrorCode::kNotFound, "no setting " + key, "unknown setting \"" + key + "\"");
    }
    if (!SameType(spec->default_value, value)) {
      std::string want = std::holds_alternative<bool>(spec->default_value)    ? "true or false"
                         : std::holds_alternative<int64_t>(spec->default_value) ? "a whole number"
                                                                                 : "a string";
      return Fail(ErrorCode::kInvalidArgument, key + ": wrong type", key + ": this setting takes " + want);
    }
    if (spec->validate) {
      if (auto why = spec->validate(value); !why.empty()) {
        return Fail(ErrorCode::kInvalidArgument, key + ": " + why, key + ": " + why);
      }
    }
  }
  return OkStatus();
}

Status SettingsChanger::Change(const Actor& actor,
                               const std::vector<std::pair<std::string, sdk::SettingValue>>& changes) {
  std::lock_guard lock(mu_);
  PALAVER_RETURN_IF_ERROR(Check(changes));
  for (const auto& [key, value] : changes) {
    auto old = settings_.Get(key);
    if (old && *old == value) continue;
    PALAVER_RETURN_IF_ERROR(settings_.Set(key, value));
    std::string old_text = old ? ValueText(*old) : "";
    log_->info("setting changed key={} value={} by={} client={}", key, ValueJson(value), actor.name, actor.source);
    auto st = audit_.Record(AuditEntry{.at_ms = now_ms_(), .actor = actor.name, .source = actor.source,
                                       .action = "setting.change", .target = key, .old_value = old_text,
                                       .new_value = ValueText(value)});
    if (!st) log_->error("audit log write failed key={} err={}", key, st.error().message);
  }
  return OkStatus();
}

}  // namespace palaver::admin
