#include "ldap_filter.hpp"

#include <cctype>

namespace palaver::directory {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHex(std::string& out, unsigned char c) {
  out.push_back('\\');
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 0xF]);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string EscapeFilterValue(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c >= 0x7F) {
      AppendHex(out, c);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string EscapeFilterBytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 3);
  for (char ch : bytes) AppendHex(out, static_cast<unsigned char>(ch));
  return out;
}

Status ValidateFilter(std::string_view f) {
  if (f.empty()) return Fail(ErrorCode::kInvalidArgument, "is empty");
  if (f.front() != '(' || f.back() != ')')
    return Fail(ErrorCode::kInvalidArgument, "must be one filter in parentheses, e.g. (objectClass=inetOrgPerson)");
  int depth = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '\0' || c == '\n' || c == '\r') return Fail(ErrorCode::kInvalidArgument, "contains a control character");
    if (c == '\\') {
      if (i + 2 >= f.size() || HexValue(f[i + 1]) < 0 || HexValue(f[i + 2]) < 0) {
        return Fail(ErrorCode::kInvalidArgument, "has a backslash not followed by two hex digits");
      }
      i += 2;
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')') {
      if (--depth < 0) return Fail(ErrorCode::kInvalidArgument, "has an unmatched )");
      if (depth == 0 && i + 1 != f.size()) return Fail(ErrorCode::kInvalidArgument, "has text after the closing )");
    }
  }
  if (depth != 0) return Fail(ErrorCode::kInvalidArgument, "has an unmatched (");
  return OkStatus();
}

std::string AndFilter(const std::vector<std::string>& parts) {
  std::vector<const std::string*> kept;
  for (const auto& p : parts) {
    if (!p.empty()) kept.push_back(&p);
  }
  if (kept.empty()) return "(objectClass=*)";
  if (kept.size() == 1) return *kept[0];
  std::string out = "(&";
  for (const auto* p : kept) out += *p;
  return out + ")";
}

std::string AnyEquals(const std::vector<std::string>& attrs, std::string_view value) {
  std::string escaped = EscapeFilterValue(value);
  std::string out;
  for (const auto& a : attrs) out.append("(").append(a).append("=").append(escaped).append(")");
  return attrs.size() == 1 ? out : "(|" + out + ")";
}

std::string AnyContains(const std::vector<std::string>& attrs, std::string_view text) {
  if (text.empty() || attrs.empty()) return "";
  std::string escaped = EscapeFilterValue(text);
  std::string out;
  for (const auto& a : attrs) out.append("(").append(a).append("=*").append(escaped).append("*)");
  return attrs.size() == 1 ? out : "(|" + out + ")";
}

bool IsAttributeName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) {  // numeric OID: 1.2.840...
    bool last_dot = true;
    for (char c : name) {
      if (c == '.') {
        if (last_dot) return false;
        last_dot = true;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        last_dot = false;
      } else {
        return false;
      }
    }
    return !last_dot;
  }
  if (!std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

std::string GuidToString(std::string_view b) {
  if (b.size() != 16) return "";
  // Data1 (4 bytes), Data2 (2), Data3 (2) little-endian; Data4 (8) as stored.
  static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    auto c = static_cast<unsigned char>(b[kOrder[i]]);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

Result<std::string> GuidFromString(std::string_view t) {
  auto bad = [] { return Fail(ErrorCode::kNotFound, "not a GUID", "no such user"); };
  if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') return bad();
  std::string hex;
  for (char c : t) {
    if (c != '-') hex.push_back(c);
  }
  if (hex.size() != 32) return bad();  // a dash where a digit belongs
  unsigned char canonical[16];
  for (size_t i = 0; i < 16; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return bad();
    canonical[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  std::string out(16, '\0');
  for (int i = 0; i < 16; ++i) out[kOrder[i]] = static_cast<char>(canonical[i]);
  return out;
}

bool IsPlausibleId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '=') return false;
  }
  return true;
}

std::string NormalizeDn(std::string_view dn) {
  std::string out;
  out.reserve(dn.size());
  for (size_t i = 0; i < dn.size(); ++i) {
    char c = dn[i];
    if (c == ' ') {
      bool next_sep = i + 1 < dn.size() && (dn[i + 1] == ',' || dn[i + 1] == '=' || dn[i + 1] == ' ');
      bool prev_sep = !out.empty() && (out.back() == ',' || out.back() == '=');
      if (next_sep || prev_sep) continue;
    }
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace palaver::directory
