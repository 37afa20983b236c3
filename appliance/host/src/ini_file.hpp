// The strict INI parser for palaver.cfg (POCO's has no line numbers or unknown-key notion).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "palaver/sdk/config.hpp"

namespace palaver::host {

/// A parsed config file: sections by name, each entry with its line.
struct IniFile {
  std::string path;
  std::map<std::string, sdk::ConfigSection> sections;
  /// Keys a drop-in set over an earlier file's value, as `file:line: [section] key overrides
  /// file:line` (LoadConfigFiles): an edit in palaver.cfg that a drop-in hides should not surprise.
  std::vector<std::string> overrides;
  /// The section, or an empty one (line 0) if the file has none of that name.
  sdk::ConfigSection SectionOrEmpty(const std::string& name) const;
};

/// Parses INI text. Syntax: `[section]`, `key = value`, `#`/`;` comment lines, blank lines.
/// Values may be wrapped in double quotes to keep surrounding spaces. Reports every syntax error
/// (bad line, duplicate section or key, key outside a section) at once as `file:line: why`.
Result<IniFile> ParseIni(const std::string& text, const std::string& path);
/// Reads and parses a file.
Result<IniFile> LoadIniFile(const std::filesystem::path& path);
/// Reads `path` and then every `*.cfg` in the directory `<path>.d/` (if there is one), in the
/// byte order of their names; a key set in a later file overrides the same key of earlier ones
/// (and error messages name the file that set it). Lets a package or an installer set a few keys
/// (e.g. the hostname at first install) without editing the admin's palaver.cfg.
Result<IniFile> LoadConfigFiles(const std::filesystem::path& path);

}  // namespace palaver::host
