#include "ini_file.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

namespace palaver::host {
namespace {

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool ValidName(const std::string& s, bool allow_dot) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!(std::islower(c) || std::isdigit(c) || c == '_' || (allow_dot && c == '.'))) return false;
  }
  return true;
}

// Splits a value from an inline comment: '#' or ';' after whitespace starts one (so
// `external_ip = 203.0.113.10 ; public address` is the address). A value in double quotes is
// taken literally, comment characters included; after its closing quote only a comment may
// follow. '#' or ';' inside a word (`a#b`, a URL fragment) is part of the value.
Result<std::string> ValueWithoutComment(const std::string& raw) {
  std::string v = Trim(raw);
  if (!v.empty() && v.front() == '"') {
    auto close = v.find('"', 1);
    if (close == std::string::npos) return Fail(ErrorCode::kInvalidArgument, "value has an opening '\"' but no closing one");
    std::string rest = Trim(v.substr(close + 1));
    if (!rest.empty() && rest[0] != '#' && rest[0] != ';') {
      return Fail(ErrorCode::kInvalidArgument, "unexpected text after the quoted value: \"" + rest + "\"");
    }
    return v.substr(1, close - 1);
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if ((v[i] == '#' || v[i] == ';') && (i == 0 || std::isspace(static_cast<unsigned char>(v[i - 1])))) {
      return Trim(v.substr(0, i));
    }
  }
  return v;
}

}  // namespace

sdk::ConfigSection IniFile::SectionOrEmpty(const std::string& name) const {
  auto it = sections.find(name);
  if (it != sections.end()) return it->second;
  sdk::ConfigSection s;
  s.name = name;
  s.file = path;
  return s;
}

Result<IniFile> ParseIni(const std::string& text, const std::string& path) {
  IniFile file;
  file.path = path;
  std::vector<std::string> errors;
  auto error = [&](int line, const std::string& why) { errors.push_back(path + ":" + std::to_string(line) + ": " + why); };
  std::istringstream in(text);
  std::string raw;
  int line_no = 0;
  sdk::ConfigSection* current = nullptr;
  while (std::getline(in, raw)) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']') {
        error(line_no, "section header must end with ']'");
        current = nullptr;
        continue;
      }
      std::string name = Trim(line.substr(1, line.size() - 2));
      if (!ValidName(name, false)) {
        error(line_no, "invalid section name \"" + name + "\" (lowercase letters, digits, '_')");
        current = nullptr;
        continue;
      }
      if (file.sections.count(name) != 0) {
        error(line_no, "section [" + name + "] appears twice (first at line " +
                           std::to_string(file.sections[name].line) + ")");
        current = nullptr;
        continue;
      }
      auto& s = file.sections[name];
      s.name = name;
      s.file = path;
      s.line = line_no;
      current = &s;
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      error(line_no, "expected 'key = value', '[section]' or a '#' comment");
      continue;
    }
    std::string key = Trim(line.substr(0, eq));
    if (!ValidName(key, true)) {
      error(line_no, "invalid key \"" + key + "\" (lowercase letters, digits, '_', '.')");
      continue;
    }
    auto parsed = ValueWithoutComment(line.substr(eq + 1));
    if (!parsed) {
      error(line_no, key + ": " + parsed.error().message);
      continue;
    }
    std::string value = std::move(*parsed);
    if (current == nullptr) {
      error(line_no, "key \"" + key + "\" outside of a [section]");
      continue;
    }
    auto existing = current->entries.find(key);
    if (existing != current->entries.end()) {
      error(line_no, "[" + current->name + "] " + key + " set twice (first at line " +
                         std::to_string(existing->second.line) + ")");
      continue;
    }
    current->entries[key] = sdk::ConfigEntry{value, line_no};
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    return Fail(ErrorCode::kInvalidArgument, msg);
  }
  return file;
}

Result<IniFile> LoadConfigFiles(const std::filesystem::path& path) {
  PALAVER_ASSIGN_OR_RETURN(IniFile main, LoadIniFile(path));
  std::filesystem::path dir = path.string() + ".d";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return main;
  std::vector<std::filesystem::path> drop_ins;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(".") || !name.ends_with(".cfg") || entry.is_directory()) continue;
    drop_ins.push_back(entry.path());
  }
  if (ec) return Fail(ErrorCode::kUnavailable, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(drop_ins.begin(), drop_ins.end());
  std::vector<std::string> errors;
  for (const auto& p : drop_ins) {
    auto file = LoadIniFile(p);
    if (!file) {
      errors.push_back(file.error().message);
      continue;
    }
    for (auto& [name, section] : file->sections) {
      auto& target = main.sections[name];
      if (target.line == 0 && target.entries.empty()) {
        for (auto& [key, value] : section.entries) value.file = p.string();
        target = section;
        continue;
      }
      for (auto& [key, value] : section.entries) {
        value.file = p.string();
        if (auto old = target.entries.find(key); old != target.entries.end()) {
          const std::string& old_file = old->second.file.empty() ? target.file : old->second.file;
          main.overrides.push_back(p.string() + ":" + std::to_string(value.line) + ": [" + name + "] " + key +
                                   " overrides " + old_file + ":" + std::to_string(old->second.line));
        }
        target.entries[key] = value;
      }
    }
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    return Fail(ErrorCode::kInvalidArgument, msg);
  }
  return main;
}

Result<IniFile> LoadIniFile(const std::filesystem::path& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return Fail(ErrorCode::kNotFound, "cannot read config file " + path.string() + ": " +
                                          (ec && ec != std::errc::no_such_file_or_directory ? ec.message() : "no such file"));
  }
  if (std::filesystem::is_directory(st)) {
    return Fail(ErrorCode::kInvalidArgument, "cannot read config file " + path.string() + ": it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return Fail(ErrorCode::kPermissionDenied, "cannot read config file " + path.string() + ": " +
                                                  (err == EACCES ? "permission denied" : std::strerror(err)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Fail(ErrorCode::kUnavailable, "error reading config file " + path.string());
  std::string text = ss.str();
  if (text.find('\0') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, path.string() + ": not a text file (contains NUL bytes)");
  }
  return ParseIni(text, path.string());
}

}  // namespace palaver::host
