#include "static_files.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace palaver::web {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseU64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// True for a fingerprint such as "B6xk9aQ2" or "3f2a9c1e": 8+ chars of [A-Za-z0-9_] with a digit.
bool LooksLikeHash(std::string_view s) {
  if (s.size() < 8) return false;
  bool digit = false;
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || c == '_')) return false;
    digit |= std::isdigit(c) != 0;
  }
  return digit;
}

}  // namespace

std::optional<std::string> SafeRelativePath(std::string_view relative) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t slash = relative.find('/', start);
    if (slash == std::string_view::npos) slash = relative.size();
    std::string_view seg = relative.substr(start, slash - start);
    start = slash + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == ".." || seg[0] == '.') return std::nullopt;
    if (seg.find('\\') != std::string_view::npos || seg.find('\0') != std::string_view::npos) return std::nullopt;
    parts.push_back(seg);
  }
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

RangeResult ParseRange(std::string_view header, uint64_t size, ByteRange& out) {
  header = Trim(header);
  if (header.substr(0, 6) != "bytes=") return RangeResult::kNone;
  std::string_view spec = Trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return RangeResult::kNone;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeResult::kNone;
  std::string_view a = Trim(spec.substr(0, dash));
  std::string_view b = Trim(spec.substr(dash + 1));
  uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix range: the last N bytes
    uint64_t n = 0;
    if (!ParseU64(b, n)) return RangeResult::kNone;
    if (n == 0 || size == 0) return RangeResult::kUnsatisfiable;
    first = n >= size ? 0 : size - n;
    last = size - 1;
  } else {
    if (!ParseU64(a, first)) return RangeResult::kNone;
    if (b.empty()) {
      last = size == 0 ? 0 : size - 1;
    } else {
      if (!ParseU64(b, last) || last < first) return RangeResult::kNone;
      if (last >= size) last = size == 0 ? 0 : size - 1;
    }
    if (first >= size) return RangeResult::kUnsatisfiable;
  }
  out = ByteRange{first, last};
  return RangeResult::kSatisfiable;
}

std::string ContentTypeFor(std::string_view file_name) {
  auto dot = file_name.rfind('.');
  std::string ext = dot == std::string_view::npos ? "" : Lower(file_name.substr(dot + 1));
  static const std::pair<const char*, const char*> kTypes[] = {
      {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"}, {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"}, {"json", "application/json"},
      {"webmanifest", "application/manifest+json"}, {"map", "application/json"},
      {"svg", "image/svg+xml"}, {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},
      {"gif", "image/gif"}, {"webp", "image/webp"}, {"ico", "image/x-icon"}, {"avif", "image/avif"},
      {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"ttf", "font/ttf"}, {"otf", "font/otf"},
      {"txt", "text/plain; charset=utf-8"}, {"wasm", "application/wasm"}, {"mp3", "audio/mpeg"},
      {"ogg", "audio/ogg"}, {"oga", "audio/ogg"}, {"wav", "audio/wav"}, {"mp4", "video/mp4"},
      {"webm", "video/webm"}, {"xml", "application/xml"}, {"pdf", "application/pdf"}};
  for (const auto& [e, t] : kTypes) {
    if (ext == e) return t;
  }
  return "application/octet-stream";
}

bool IsCompressible(std::string_view content_type) {
  return content_type.substr(0, 5) == "text/" || content_type.find("json") != std::string_view::npos ||
         content_type.find("javascript") != std::string_view::npos || content_type == "image/svg+xml" ||
         content_type == "application/wasm" || content_type == "application/xml";
}

std::string CacheControlFor(std::string_view relative_path) {
  static constexpr const char* kImmutable = "public, max-age=31536000, immutable";
  if (relative_path.substr(0, 7) == "assets/" || relative_path.substr(0, 7) == "static/") return kImmutable;
  std::string_view name = relative_path.substr(relative_path.rfind('/') == std::string_view::npos ? 0 : relative_path.rfind('/') + 1);
  auto last_dot = name.rfind('.');
  if (last_dot != std::string_view::npos && last_dot > 0) {
    std::string_view stem = name.substr(0, last_dot);
    size_t sep = stem.find_last_of(".-");
    if (sep != std::string_view::npos && LooksLikeHash(stem.substr(sep + 1))) return kImmutable;
  }
  return "no-cache";
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  auto strip_weak = [](std::string_view t) {
    t = Trim(t);
    if (t.substr(0, 2) == "W/") t.remove_prefix(2);
    return t;
  };
  std::string_view want = strip_weak(etag);
  size_t start = 0;
  while (start <= if_none_match.size()) {
    size_t comma = if_none_match.find(',', start);
    if (comma == std::string_view::npos) comma = if_none_match.size();
    std::string_view item = Trim(if_none_match.substr(start, comma - start));
    start = comma + 1;
    if (item == "*") return true;
    if (!item.empty() && strip_weak(item) == want) return true;
  }
  return false;
}

bool AcceptsEncoding(std::string_view accept_encoding, std::string_view coding) {
  bool star = false;
  size_t start = 0;
  while (start <= accept_encoding.size()) {
    size_t comma = accept_encoding.find(',', start);
    if (comma == std::string_view::npos) comma = accept_encoding.size();
    std::string_view item = Trim(accept_encoding.substr(start, comma - start));
    start = comma + 1;
    std::string_view name = item;
    bool zero = false;
    size_t semi = item.find(';');
    if (semi != std::string_view::npos) {
      name = Trim(item.substr(0, semi));
      std::string params = Lower(item.substr(semi + 1));
      params.erase(std::remove(params.begin(), params.end(), ' '), params.end());
      if (params.rfind("q=0", 0) == 0 && params.find_first_not_of("q=0.", 0) == std::string::npos) zero = true;
    }
    if (Lower(name) == coding) return !zero;
    if (name == "*") star = !zero;
  }
  return star;
}

}  // namespace palaver::web
