#include "palaver/sdk/http.hpp"

#include <cstdio>

namespace palaver::sdk {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string_view> FindHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                                           std::string_view lowercase_name) {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return std::string_view(value);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> Request::Header(std::string_view lowercase_name) const {
  return FindHeader(headers, lowercase_name);
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    size_t eq = pair.find('=');
    auto raw_key = PercentDecode(pair.substr(0, eq), true);
    if (!raw_key || *raw_key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    auto value = PercentDecode(pair.substr(eq + 1), true);
    if (value) return value;
  }
  return std::nullopt;
}

void Response::SetHeader(std::string_view lowercase_name, std::string value) {
  for (auto& [name, v] : headers) {
    if (name == lowercase_name) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::string(lowercase_name), std::move(value));
}

std::optional<std::string_view> Response::Header(std::string_view lowercase_name) const {
  return FindHeader(headers, lowercase_name);
}

Response Response::Text(int status, std::string text) {
  Response r;
  r.status = status;
  r.body = std::move(text);
  r.SetHeader("content-type", "text/plain; charset=utf-8");
  return r;
}

Response Response::Json(int status, std::string json) {
  Response r;
  r.status = status;
  r.body = std::move(json);
  r.SetHeader("content-type", "application/json");
  return r;
}

Response Response::FromError(const Error& error) {
  std::string description = error.public_message.empty() ? std::string(ErrorCodeName(error.code))
                                                         : error.public_message;
  std::string body = "{\"error\":\"" + std::string(ErrorCodeName(error.code)) +
                     "\",\"error_description\":\"" + JsonEscape(description) + "\"}";
  return Json(HttpStatusFor(error.code), std::move(body));
}

Response Response::Redirect(int status, std::string location) {
  Response r;
  r.status = status;
  r.SetHeader("location", std::move(location));
  return r;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '<': out += "\\u003c"; break;  // safe inside <script>
      case '>': out += "\\u003e"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> PercentDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return std::nullopt;
      out.push_back(decoded);
      i += 2;
    } else if (c == '\0') {
      return std::nullopt;  // as an encoded NUL: no NUL in a decoded value
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<FormParams> ParseForm(std::string_view text) {
  FormParams out;
  size_t i = 0;
  while (i <= text.size() && !text.empty()) {
    size_t amp = text.find('&', i);
    if (amp == std::string_view::npos) amp = text.size();
    std::string_view pair = text.substr(i, amp - i);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      auto key = PercentDecode(pair.substr(0, eq), true);
      auto value = PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!key || !value) return Fail(ErrorCode::kInvalidArgument, "malformed percent-encoding", "malformed parameters");
      for (const auto& [k, v] : out) {
        if (k == *key) return Fail(ErrorCode::kInvalidArgument, "repeated parameter " + k, "parameter " + k + " given twice");
      }
      out.emplace_back(std::move(*key), std::move(*value));
    }
    if (amp == text.size()) break;
    i = amp + 1;
  }
  return out;
}

std::string FormValue(const FormParams& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::string EncodeForm(const FormParams& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return out;
}

}  // namespace palaver::sdk
