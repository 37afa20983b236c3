#include "palaver/sdk/settings.hpp"

namespace palaver::sdk {

bool Settings::GetBool(const std::string& key, bool fallback) const {
  auto v = Get(key);
  if (!v || !std::holds_alternative<bool>(*v)) return fallback;
  return std::get<bool>(*v);
}

int64_t Settings::GetInt(const std::string& key, int64_t fallback) const {
  auto v = Get(key);
  if (!v || !std::holds_alternative<int64_t>(*v)) return fallback;
  return std::get<int64_t>(*v);
}

std::string Settings::GetString(const std::string& key, const std::string& fallback) const {
  auto v = Get(key);
  if (!v || !std::holds_alternative<std::string>(*v)) return fallback;
  return std::get<std::string>(*v);
}

}  // namespace palaver::sdk
