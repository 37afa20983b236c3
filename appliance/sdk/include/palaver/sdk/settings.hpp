// Admin-editable, typed settings kept in the store, with change notification.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

using SettingValue = std::variant<bool, int64_t, std::string>;

/// A setting's definition. Keys are `<module id>.<name>`, e.g. `signaling.guests_enabled`.
struct SettingSpec {
  std::string key;
  SettingValue default_value;
  std::string description;
  /// Extra validation (ranges, regex syntax). Returns an error text, or empty when valid.
  std::function<std::string(const SettingValue&)> validate;
};

/// Typed settings. Get() reads an in-memory snapshot (non-blocking, thread-safe, fine on the
/// net loop); Set() writes through to the store and must run on a worker; subscribers are called
/// on the net loop after a change is durable.
class Settings {
 public:
  virtual ~Settings() = default;
  /// Defines a setting (in Start). Redefining with the same type is allowed.
  virtual Status Define(SettingSpec spec) = 0;
  virtual Result<SettingValue> Get(const std::string& key) const = 0;
  /// Validates the type and the spec, stores durably, then notifies. Blocking (worker only).
  virtual Status Set(const std::string& key, const SettingValue& value) = 0;
  /// `fn(key, value)` on every change of a key starting with `prefix`. Returns an id.
  virtual uint64_t Subscribe(const std::string& prefix,
                             std::function<void(const std::string&, const SettingValue&)> fn) = 0;
  virtual void Unsubscribe(uint64_t id) = 0;
  virtual std::vector<SettingSpec> List() const = 0;

  bool GetBool(const std::string& key, bool fallback) const;
  int64_t GetInt(const std::string& key, int64_t fallback) const;
  std::string GetString(const std::string& key, const std::string& fallback) const;
};

}  // namespace palaver::sdk
