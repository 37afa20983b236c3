// Config file model (INI) and the strict reader modules parse their section with.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "palaver/sdk/cidr.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// One `key = value` line of the config file, with where it came from.
struct ConfigEntry {
  std::string value;
  int line = 0;
  std::string file;  // the drop-in file that set it; empty: the section's file
};

/// One `[section]` of the config file. Value type; thread-compatible.
struct ConfigSection {
  std::string name;
  std::string file;
  int line = 0;  // line of the `[name]` header; 0 when the section is absent from the file
  std::map<std::string, ConfigEntry> entries;
};

/// Reads typed values out of a ConfigSection for one Configure() call.
///
/// Every getter records the key as known; Finish() reports keys in the section that no getter
/// asked for, plus every invalid value, all at once, each as `file:line: [section] key: why`.
/// Getters are called unconditionally (even for keys only used in some modes) so that the set of
/// keys a module accepts is exactly the set it asks for; the host uses that to list every key.
/// Thread-compatible; used only during Configure().
class ConfigReader {
 public:
  explicit ConfigReader(const ConfigSection& section);

  std::string String(const std::string& key, const std::string& default_value);
  bool Bool(const std::string& key, bool default_value);
  int64_t Int(const std::string& key, int64_t default_value, int64_t min, int64_t max);
  /// Durations: `30s`, `5m`, `2h`, `1d`, `250ms`, or a plain number of seconds.
  std::chrono::milliseconds Duration(const std::string& key, std::chrono::milliseconds default_value);
  /// Sizes: `512`, `64k`, `10M`, `1G` (powers of 1024).
  int64_t Size(const std::string& key, int64_t default_value);
  /// A list split on commas and whitespace; empty entries dropped.
  std::vector<std::string> List(const std::string& key, const std::vector<std::string>& default_value);
  /// One of `allowed`.
  std::string Enum(const std::string& key, const std::string& default_value,
                   const std::vector<std::string>& allowed);

  bool Has(const std::string& key) const;
  /// Records a validation error for `key` (points at the key's line, or the section's).
  void Reject(const std::string& key, const std::string& why);
  /// Records a warning for `key`: the value is accepted, but an operator should act (e.g. a key
  /// file readable by others). Warnings never fail Finish(); `palaverd --check-config` prints them.
  void Warn(const std::string& key, const std::string& why);
  /// The warnings (each already `file:line: [section] key: warning: ...`).
  const std::vector<std::string>& Warnings() const { return warnings_; }

  const std::set<std::string>& KeysAsked() const { return asked_; }
  const std::string& SectionName() const { return section_.name; }

  /// OK when no errors were recorded and every key in the section was asked for. The error
  /// message lists every problem, one per line.
  Status Finish() const;
  /// The individual problems (each already `file:line: ...`).
  std::vector<std::string> Problems() const;

 private:
  const ConfigEntry* Find(const std::string& key);
  std::string Where(const std::string& key) const;

  const ConfigSection& section_;
  std::set<std::string> asked_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

/// The list `key` (addresses or CIDR ranges: metrics_allow, trusted_proxies, allowed_networks) as
/// networks; an entry that is neither is rejected on `section` with its text and left out.
std::vector<Cidr> ReadCidrList(ConfigReader& section, const std::string& key,
                               const std::vector<std::string>& default_value);

/// Warns on `section` for `key` when the file at `path`, which holds a secret (a password, a
/// shared secret, a token), is open to users other than its owner and group (any of read, write,
/// execute): "… is open to other users (mode 0644); run: chmod o-rwx …". Silent when the file cannot be stat'ed (the
/// caller reports that it cannot read it). The group is allowed: Debian's package gives the
/// `palaver` group read access to files root owns.
void WarnIfReadableByOthers(ConfigReader& section, const std::string& key, const std::filesystem::path& path);

}  // namespace palaver::sdk
