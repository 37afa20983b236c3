#include "settings_service.hpp"

#include <charconv>

namespace palaver::host {
namespace {

const char* TypeName(const sdk::SettingValue& v) {
  if (std::holds_alternative<bool>(v)) return "bool";
  if (std::holds_alternative<int64_t>(v)) return "int";
  return "string";
}

}  // namespace

SettingsService::SettingsService(sdk::Store& store, sdk::NetLoop& loop) : store_(store), loop_(loop) {}

Status SettingsService::Init() {
  return store_.Migrate("settings", {{1, "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                                         "updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now')))"}});
}

std::string SettingsService::Encode(const sdk::SettingValue& v) {
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "true" : "false";
  if (std::holds_alternative<int64_t>(v)) return std::to_string(std::get<int64_t>(v));
  return std::get<std::string>(v);
}

Result<sdk::SettingValue> SettingsService::Decode(const sdk::SettingValue& like, const std::string& text) {
  if (std::holds_alternative<bool>(like)) {
    if (text == "true") return sdk::SettingValue(true);
    if (text == "false") return sdk::SettingValue(false);
    return Fail(ErrorCode::kInvalidArgument, "expected true or false, got \"" + text + "\"");
  }
  if (std::holds_alternative<int64_t>(like)) {
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "expected an integer, got \"" + text + "\"");
    }
    return sdk::SettingValue(n);
  }
  return sdk::SettingValue(text);
}

Status SettingsService::Define(sdk::SettingSpec spec) {
  if (spec.key.find('.') == std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "setting key must be <module>.<name>: " + spec.key);
  }
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(spec.key);
    if (it != entries_.end() && it->second.spec.default_value.index() != spec.default_value.index()) {
      return Fail(ErrorCode::kInvalidArgument, "setting " + spec.key + " redefined with another type");
    }
  }
  sdk::SettingValue value = spec.default_value;
  std::optional<std::string> stored;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT value FROM settings WHERE key = ?", {spec.key}));
    if (!rows.empty() && std::holds_alternative<std::string>(rows[0][0])) stored = std::get<std::string>(rows[0][0]);
    return OkStatus();
  }));
  if (stored) {
    auto decoded = Decode(spec.default_value, *stored);
    // A stored value that no longer fits (type changed in an upgrade) falls back to the default.
    if (decoded && (!spec.validate || spec.validate(*decoded).empty())) value = *decoded;
  }
  std::string key = spec.key;
  std::lock_guard lock(mu_);
  entries_[key] = Entry{std::move(spec), std::move(value)};
  return OkStatus();
}

Result<sdk::SettingValue> SettingsService::Get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return Fail(ErrorCode::kNotFound, "unknown setting " + key, "unknown setting");
  return it->second.value;
}

Status SettingsService::Set(const std::string& key, const sdk::SettingValue& value) {
  sdk::SettingSpec spec;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return Fail(ErrorCode::kNotFound, "unknown setting " + key, "unknown setting");
    spec = it->second.spec;
  }
  if (value.index() != spec.default_value.index()) {
    return Fail(ErrorCode::kInvalidArgument, "setting " + key + " expects a " + TypeName(spec.default_value),
                std::string("expected a ") + TypeName(spec.default_value));
  }
  if (spec.validate) {
    std::string why = spec.validate(value);
    if (!why.empty()) return Fail(ErrorCode::kInvalidArgument, "setting " + key + ": " + why, why);
  }
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) {
    return db.Exec("INSERT INTO settings(key, value, updated_at) VALUES(?, ?, strftime('%s','now')) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                   {key, Encode(value)});
  }));
  std::vector<std::function<void(const std::string&, const sdk::SettingValue&)>> to_notify;
  {
    std::lock_guard lock(mu_);
    entries_[key].value = value;
    for (const auto& [id, sub] : subscribers_) {
      if (key.compare(0, sub.prefix.size(), sub.prefix) == 0) to_notify.push_back(sub.fn);
    }
  }
  for (auto& fn : to_notify) loop_.Post([fn, key, value] { fn(key, value); });
  return OkStatus();
}

uint64_t SettingsService::Subscribe(const std::string& prefix,
                                    std::function<void(const std::string&, const sdk::SettingValue&)> fn) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  subscribers_[id] = Subscriber{prefix, std::move(fn)};
  return id;
}

void SettingsService::Unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  subscribers_.erase(id);
}

std::vector<sdk::SettingSpec> SettingsService::List() const {
  std::lock_guard lock(mu_);
  std::vector<sdk::SettingSpec> out;
  for (const auto& [k, e] : entries_) out.push_back(e.spec);
  return out;
}

}  // namespace palaver::host
