#include "palaver/sdk/cidr.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace palaver::sdk {
namespace {

std::optional<std::array<uint8_t, 16>> ParseAddress(const std::string& text, bool& is_v4) {
  std::array<uint8_t, 16> out{};
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    is_v4 = true;
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    is_v4 = false;
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Cidr> Cidr::Parse(const std::string& text) {
  auto slash = text.find('/');
  std::string host = text.substr(0, slash);
  bool is_v4 = false;
  auto addr = ParseAddress(host, is_v4);
  if (!addr) return std::nullopt;
  Cidr c;
  c.addr = *addr;
  c.prefix = 128;
  if (slash != std::string::npos) {
    std::string p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    int n = std::stoi(p);
    if (n > (is_v4 ? 32 : 128)) return std::nullopt;
    c.prefix = is_v4 ? n + 96 : n;
  }
  return c;
}

bool Cidr::Contains(const std::string& address) const {
  bool is_v4 = false;
  auto a = ParseAddress(address, is_v4);
  if (!a) return false;
  int bits = prefix;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if (((*a)[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

bool AnyContains(const std::vector<Cidr>& nets, const std::string& address) {
  for (const auto& n : nets) {
    if (n.Contains(address)) return true;
  }
  return false;
}

}  // namespace palaver::sdk
