#include "net/forwarded.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <iterator>

namespace palaver::host::net {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsTchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "1.2.3.4", "1.2.3.4:80", "[v6]", "[v6]:80", "v6" → canonical address, or empty.
std::string NodeAddress(std::string_view node) {
  if (!node.empty() && node.front() == '[') {
    auto close = node.find(']');
    if (close == std::string_view::npos) return {};
    std::string_view rest = node.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !AllDigits(rest.substr(1)))) return {};
    std::string_view inner = node.substr(1, close - 1);
    if (inner.find(':') == std::string_view::npos) return {};  // brackets are for IPv6 only
    return CanonicalAddress(inner);
  }
  auto colon = node.find(':');
  if (colon != std::string_view::npos && node.find(':', colon + 1) == std::string_view::npos) {
    // One colon: IPv4 with a port.
    if (!AllDigits(node.substr(colon + 1))) return {};
    std::string_view host = node.substr(0, colon);
    if (host.find('.') == std::string_view::npos) return {};
    return CanonicalAddress(host);
  }
  return CanonicalAddress(node);
}

// Splits `values` (joined as one list) at top-level commas, honouring quoted strings.
std::vector<std::string_view> SplitList(const std::vector<std::string_view>& values, bool& ok) {
  std::vector<std::string_view> out;
  for (std::string_view v : values) {
    size_t start = 0;
    bool quoted = false;
    for (size_t i = 0; i <= v.size(); ++i) {
      if (i < v.size() && quoted) {
        if (v[i] == '\\') ++i;
        else if (v[i] == '"') quoted = false;
        continue;
      }
      if (i < v.size() && v[i] == '"') {
        quoted = true;
        continue;
      }
      if (i == v.size() || v[i] == ',') {
        out.push_back(Trim(v.substr(start, i - start)));
        start = i + 1;
      }
    }
    if (quoted) ok = false;
  }
  return out;
}

// One Forwarded element ("for=...;proto=https;by=...") → its `for` node ("unknown" when there
// is none or it is obfuscated); false on a syntax error.
bool ParseElement(std::string_view element, std::string& hop) {
  hop = "unknown";
  bool seen_for = false;
  size_t i = 0;
  while (i <= element.size()) {
    // pair = token "=" value
    size_t name_start = i;
    while (i < element.size() && IsTchar(element[i])) ++i;
    std::string_view name = element.substr(name_start, i - name_start);
    if (name.empty() || i >= element.size() || element[i] != '=') return false;
    ++i;
    std::string value;
    if (i < element.size() && element[i] == '"') {
      ++i;
      bool closed = false;
      while (i < element.size()) {
        char c = element[i++];
        if (c == '\\') {
          if (i >= element.size()) return false;
          value.push_back(element[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value.push_back(c);
        }
      }
      if (!closed || value.empty()) return false;  // `for=""` names nobody
    } else {
      size_t v_start = i;
      while (i < element.size() && IsTchar(element[i])) ++i;
      value = std::string(element.substr(v_start, i - v_start));
      if (value.empty()) return false;
    }
    bool is_for = name.size() == 3 && std::tolower(static_cast<unsigned char>(name[0])) == 'f' &&
                  std::tolower(static_cast<unsigned char>(name[1])) == 'o' &&
                  std::tolower(static_cast<unsigned char>(name[2])) == 'r';
    if (is_for) {
      if (seen_for) return false;  // a parameter appears once per element (RFC 7239 §4)
      seen_for = true;
      if (value == "unknown" || value.front() == '_') {
        hop = "unknown";
      } else {
        hop = NodeAddress(value);
        if (hop.empty()) return false;
      }
    }
    if (i == element.size()) break;
    if (element[i] != ';') return false;
    ++i;
  }
  return true;
}

std::vector<std::string_view> HeaderValues(const std::vector<std::pair<std::string, std::string>>& headers,
                                           std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : headers) {
    if (k == name) out.emplace_back(v);
  }
  return out;
}

}  // namespace

std::string CanonicalAddress(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return {};
  std::string s(text);
  char buf[INET6_ADDRSTRLEN] = {0};
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    inet_ntop(AF_INET, &v4, buf, sizeof buf);
    return buf;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    inet_ntop(AF_INET6, &v6, buf, sizeof buf);
    std::string ip = buf;
    if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) ip = ip.substr(7);
    return ip;
  }
  return {};
}

bool ParseXForwardedFor(const std::vector<std::string_view>& values, std::vector<std::string>& hops) {
  hops.clear();
  bool ok = true;
  for (std::string_view entry : SplitList(values, ok)) {
    if (entry.empty()) return false;
    if (entry == "unknown") {
      hops.emplace_back("unknown");
      continue;
    }
    std::string a = NodeAddress(entry);
    if (a.empty()) return false;
    hops.push_back(std::move(a));
  }
  return ok;
}

bool ParseForwarded(const std::vector<std::string_view>& values, std::vector<std::string>& hops) {
  hops.clear();
  bool ok = true;
  for (std::string_view element : SplitList(values, ok)) {
    std::string hop;
    if (element.empty() || !ParseElement(element, hop)) return false;
    hops.push_back(std::move(hop));
  }
  return ok;
}

ClientAddress ResolveClientAddress(const std::string& peer, const std::vector<Cidr>& trusted, ProxyHeader which,
                                   const std::vector<std::pair<std::string, std::string>>& headers) {
  ClientAddress out{peer, false, {}};
  if (trusted.empty() || !AnyContains(trusted, peer)) return out;
  auto values = HeaderValues(headers, which == ProxyHeader::kForwarded ? "forwarded" : "x-forwarded-for");
  if (values.empty()) return out;
  std::vector<std::string> hops;
  bool parsed = which == ProxyHeader::kForwarded ? ParseForwarded(values, hops) : ParseXForwardedFor(values, hops);
  if (!parsed || hops.empty()) {
    out.ignored_reason = "malformed";
    return out;
  }
  if (hops.size() > static_cast<size_t>(kMaxForwardedHops)) {
    out.ignored_reason = "too_many_hops";
    return out;
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (*it == "unknown") {
      out.ignored_reason = "unknown_hop";
      return out;
    }
    if (!AnyContains(trusted, *it) || std::next(it) == hops.rend()) {
      out.address = *it;
      out.forwarded = true;
      return out;
    }
  }
  return out;
}

}  // namespace palaver::host::net
