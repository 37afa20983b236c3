#include "palaver/sdk/config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace palaver::sdk {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Parses a non-negative integer with an optional unit suffix; returns false on junk.
bool ParseNumberWithSuffix(const std::string& text, int64_t& number, std::string& suffix) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, number);
  if (ec != std::errc() || ptr != text.data() + i) return false;
  suffix = Lower(text.substr(i));
  return true;
}

}  // namespace

ConfigReader::ConfigReader(const ConfigSection& section) : section_(section) {}

const ConfigEntry* ConfigReader::Find(const std::string& key) {
  asked_.insert(key);
  auto it = section_.entries.find(key);
  return it == section_.entries.end() ? nullptr : &it->second;
}

bool ConfigReader::Has(const std::string& key) const { return section_.entries.count(key) != 0; }

std::string ConfigReader::Where(const std::string& key) const {
  auto it = section_.entries.find(key);
  int line = it != section_.entries.end() ? it->second.line : section_.line;
  std::string file = section_.file.empty() ? "<config>" : section_.file;
  if (it != section_.entries.end() && !it->second.file.empty()) file = it->second.file;
  return file + ":" + std::to_string(line) + ": [" + section_.name + "] " + key;
}

void ConfigReader::Reject(const std::string& key, const std::string& why) {
  errors_.push_back(Where(key) + ": " + why);
}

void ConfigReader::Warn(const std::string& key, const std::string& why) {
  warnings_.push_back(Where(key) + ": warning: " + why);
}

std::string ConfigReader::String(const std::string& key, const std::string& default_value) {
  const ConfigEntry* e = Find(key);
  return e ? e->value : default_value;
}

bool ConfigReader::Bool(const std::string& key, bool default_value) {
  const ConfigEntry* e = Find(key);
  if (!e) return default_value;
  std::string v = Lower(e->value);
  if (v == "yes" || v == "true" || v == "on" || v == "1") return true;
  if (v == "no" || v == "false" || v == "off" || v == "0") return false;
  Reject(key, "expected yes/no, got \"" + e->value + "\"");
  return default_value;
}

int64_t ConfigReader::Int(const std::string& key, int64_t default_value, int64_t min, int64_t max) {
  const ConfigEntry* e = Find(key);
  if (!e) return default_value;
  const std::string& v = e->value;
  int64_t out = 0;
  const char* begin = v.data();
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(begin, end, out);
  if (ec != std::errc() || ptr != end || v.empty()) {
    Reject(key, "expected an integer, got \"" + v + "\"");
    return default_value;
  }
  if (out < min || out > max) {
    Reject(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + v);
    return default_value;
  }
  return out;
}

std::chrono::milliseconds ConfigReader::Duration(const std::string& key,
                                                 std::chrono::milliseconds default_value) {
  const ConfigEntry* e = Find(key);
  if (!e) return default_value;
  int64_t n = 0;
  std::string suffix;
  if (!ParseNumberWithSuffix(e->value, n, suffix)) {
    Reject(key, "expected a duration like 30s, 5m or 2h, got \"" + e->value + "\"");
    return default_value;
  }
  int64_t factor_ms = 0;
  if (suffix.empty() || suffix == "s") factor_ms = 1000;
  else if (suffix == "ms") factor_ms = 1;
  else if (suffix == "m") factor_ms = 60'000;
  else if (suffix == "h") factor_ms = 3'600'000;
  else if (suffix == "d") factor_ms = 86'400'000;
  else {
    Reject(key, "unknown duration unit \"" + suffix + "\" (use ms, s, m, h or d)");
    return default_value;
  }
  if (n > INT64_MAX / factor_ms) {
    Reject(key, "duration too large");
    return default_value;
  }
  return std::chrono::milliseconds(n * factor_ms);
}

int64_t ConfigReader::Size(const std::string& key, int64_t default_value) {
  const ConfigEntry* e = Find(key);
  if (!e) return default_value;
  int64_t n = 0;
  std::string suffix;
  if (!ParseNumberWithSuffix(e->value, n, suffix)) {
    Reject(key, "expected a size like 512, 64k or 10M, got \"" + e->value + "\"");
    return default_value;
  }
  int64_t factor = 0;
  if (suffix.empty() || suffix == "b") factor = 1;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib") factor = 1024;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib") factor = 1024 * 1024;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib") factor = 1024LL * 1024 * 1024;
  else {
    Reject(key, "unknown size unit \"" + suffix + "\" (use k, M or G)");
    return default_value;
  }
  if (n > INT64_MAX / factor) {
    Reject(key, "size too large");
    return default_value;
  }
  return n * factor;
}

std::vector<std::string> ConfigReader::List(const std::string& key,
                                            const std::vector<std::string>& default_value) {
  const ConfigEntry* e = Find(key);
  if (!e) return default_value;
  std::vector<std::string> out;
  std::string cur;
  for (char c : e->value) {
    if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string ConfigReader::Enum(const std::string& key, const std::string& default_value,
                               const std::vector<std::string>& allowed) {
  const ConfigEntry* e = Find(key);
  if (!e) return default_value;
  if (std::find(allowed.begin(), allowed.end(), e->value) != allowed.end()) return e->value;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  Reject(key, "must be one of " + list + ", got \"" + e->value + "\"");
  return default_value;
}

std::vector<std::string> ConfigReader::Problems() const {
  std::vector<std::string> out = errors_;
  for (const auto& [key, entry] : section_.entries) {
    if (asked_.count(key) == 0) out.push_back(Where(key) + ": unknown key");
  }
  return out;
}

Status ConfigReader::Finish() const {
  auto problems = Problems();
  if (problems.empty()) return OkStatus();
  std::string msg;
  for (const auto& p : problems) msg += (msg.empty() ? "" : "\n") + p;
  return Fail(ErrorCode::kInvalidArgument, msg);
}

std::vector<Cidr> ReadCidrList(ConfigReader& section, const std::string& key,
                               const std::vector<std::string>& default_value) {
  std::vector<Cidr> nets;
  for (const auto& text : section.List(key, default_value)) {
    auto cidr = Cidr::Parse(text);
    if (!cidr) section.Reject(key, "\"" + text + "\" is not an address or CIDR range");
    else nets.push_back(*cidr);
  }
  return nets;
}

void WarnIfReadableByOthers(ConfigReader& section, const std::string& key, const std::filesystem::path& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0 || (st.st_mode & 0007) == 0) return;
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
  section.Warn(key, path.string() + " is open to other users (mode " + mode + "); run: chmod o-rwx " +
                        path.string());
}

}  // namespace palaver::sdk
