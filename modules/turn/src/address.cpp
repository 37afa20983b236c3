#include "address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace palaver::turn {
namespace {

// FNV-1a over the bytes that matter. Unseeded: the tables keyed by addresses only grow through
// authenticated Allocate requests (bounded by the quotas), so colliding keys buy an attacker
// nothing that the quota does not already bound.
size_t Fnv1a(size_t h, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

Address Address::V4(std::array<uint8_t, 4> ip, uint16_t port) {
  Address a;
  a.family_ = Family::kIPv4;
  std::memcpy(a.ip_.data(), ip.data(), 4);
  a.port_ = port;
  return a;
}

Address Address::V4(uint32_t ip_host_order, uint16_t port) {
  return V4({static_cast<uint8_t>(ip_host_order >> 24), static_cast<uint8_t>(ip_host_order >> 16),
             static_cast<uint8_t>(ip_host_order >> 8), static_cast<uint8_t>(ip_host_order)},
            port);
}

Address Address::V6(const std::array<uint8_t, 16>& ip, uint16_t port) {
  Address a;
  a.family_ = Family::kIPv6;
  a.ip_ = ip;
  a.port_ = port;
  return a;
}

std::optional<Address> Address::FromBytes(std::span<const uint8_t> ip, uint16_t port) {
  if (ip.size() == 4) return V4({ip[0], ip[1], ip[2], ip[3]}, port);
  if (ip.size() == 16) {
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), ip.data(), 16);
    return V6(b, port);
  }
  return std::nullopt;
}

uint32_t Address::v4() const {
  return (uint32_t{ip_[0]} << 24) | (uint32_t{ip_[1]} << 16) | (uint32_t{ip_[2]} << 8) | uint32_t{ip_[3]};
}

std::optional<Address> Address::ParseIp(std::string_view text, uint16_t port) {
  if (text.empty() || text.size() > 45) return std::nullopt;  // INET6_ADDRSTRLEN - 1
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<uint8_t, 16> b{};
  if (inet_pton(AF_INET, buf, b.data()) == 1) return V4({b[0], b[1], b[2], b[3]}, port);
  if (inet_pton(AF_INET6, buf, b.data()) == 1) return V6(b, port);
  return std::nullopt;
}

std::optional<Address> Address::Parse(std::string_view text) {
  auto parse_port = [](std::string_view p) -> std::optional<uint16_t> {
    if (p.empty() || p.size() > 5) return std::nullopt;
    uint32_t v = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    if (v > 65535) return std::nullopt;
    return static_cast<uint16_t>(v);
  };
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto ip = ParseIp(text.substr(1, close - 1));
    if (!ip || ip->is_v4()) return std::nullopt;
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return ip;
    if (rest.front() != ':') return std::nullopt;
    auto port = parse_port(rest.substr(1));
    if (!port) return std::nullopt;
    return ip->WithPort(*port);
  }
  size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    auto ip = ParseIp(text.substr(0, colon));
    auto port = parse_port(text.substr(colon + 1));
    if (!ip || !ip->is_v4() || !port) return std::nullopt;
    return ip->WithPort(*port);
  }
  return ParseIp(text);  // a bare IPv4 or IPv6 address
}

std::optional<Address> Address::EmbeddedV4() const {
  if (is_v4()) return std::nullopt;
  static constexpr uint8_t kZero[12] = {};
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  const uint8_t* p = ip_.data();
  bool mapped = std::memcmp(p, kMapped, 12) == 0;
  bool nat64 = std::memcmp(p, kNat64, 12) == 0;
  // ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 are IPv6's own unspecified and loopback.
  bool compat = std::memcmp(p, kZero, 12) == 0 && (p[12] | p[13] | p[14]) != 0;
  if (!mapped && !nat64 && !compat) return std::nullopt;
  return V4({p[12], p[13], p[14], p[15]}, port_);
}

std::string Address::IpString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, ip_.data(), buf, sizeof(buf));
  return buf;
}

std::string Address::ToString() const {
  std::string ip = IpString();
  if (is_v4()) return ip + ":" + std::to_string(port_);
  return "[" + ip + "]:" + std::to_string(port_);
}

size_t Address::Hash() const {
  size_t h = 14695981039346656037ULL;
  uint8_t head[3] = {static_cast<uint8_t>(family_), static_cast<uint8_t>(port_ >> 8), static_cast<uint8_t>(port_)};
  h = Fnv1a(h, head, sizeof(head));
  return Fnv1a(h, ip_.data(), is_v4() ? 4 : 16);
}

std::string_view TransportName(Transport t) {
  switch (t) {
    case Transport::kUdp: return "udp";
    case Transport::kTcp: return "tcp";
    case Transport::kTls: return "tls";
  }
  return "?";
}

size_t FiveTupleHash::operator()(const FiveTuple& t) const {
  size_t h = t.client.Hash();
  h ^= t.server.Hash() + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= static_cast<size_t>(t.transport) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

}  // namespace palaver::turn
