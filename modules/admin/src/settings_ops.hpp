// Changing settings on an administrator's behalf: values parsed from JSON, forms or the command
// line, validated all at once, stored through the settings service and recorded in the audit log.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "audit_log.hpp"
#include "palaver/sdk/settings.hpp"
#include "palaver/sdk/status.hpp"

namespace spdlog {
class logger;
}

namespace palaver::admin {

/// Who changes something, and from where. Value type.
struct Actor {
  std::string name;    // username, or "cli"
  std::string source;  // client address, or "local"
};

/// A value as JSON (`true`, `42`, `"text"`).
std::string ValueJson(const sdk::SettingValue& value);
/// A value as text (`true`, `42`, `text`), for the audit log, the CLI and forms.
std::string ValueText(const sdk::SettingValue& value);
/// The `value` of a JSON body `{"value": ...}`, typed like `like`. kInvalidArgument with a public
/// message otherwise.
Result<sdk::SettingValue> ParseJsonValue(const std::string& body, const sdk::SettingValue& like);
/// A value from text, typed like `like`: booleans are true/false (also on/off, yes/no, 1/0),
/// numbers whole decimal numbers, strings as given.
Result<sdk::SettingValue> ParseTextValue(const std::string& text, const sdk::SettingValue& like);

/// Changes settings. Thread-safe (changes are serialized, so the recorded old value is the one
/// each change replaced); blocking: workers only. The settings and the log must outlive it.
class SettingsChanger {
 public:
  SettingsChanger(sdk::Settings& settings, AuditLog& audit, std::shared_ptr<spdlog::logger> log,
                  std::function<int64_t()> now_ms);
  /// Validates every change first (a known key, the type, the setting's own rule); when one is
  /// bad nothing is stored and the error names the key. Then stores each changed value and
  /// records it in the audit log. Unchanged values are skipped.
  Status Change(const Actor& actor, const std::vector<std::pair<std::string, sdk::SettingValue>>& changes);
  /// Validation only (what Change checks before storing).
  Status Check(const std::vector<std::pair<std::string, sdk::SettingValue>>& changes) const;

 private:
  sdk::Settings& settings_;
  AuditLog& audit_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;
};

}  // namespace palaver::admin
