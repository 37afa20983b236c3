#include "peer_policy.hpp"

#include <algorithm>

namespace palaver::turn {
namespace {

bool InV4(uint32_t ip, uint32_t net, int prefix) {
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (ip & mask) == (net & mask);
}

bool IsUnspecified(const Address& a) {
  for (uint8_t b : a.ip()) {
    if (b != 0) return false;
  }
  return true;
}

// The configured private ranges (see the header).
bool IsPrivate(const Address& a) {
  if (a.is_v4()) {
    uint32_t ip = a.v4();
    return InV4(ip, 0x0A000000, 8) || InV4(ip, 0xAC100000, 12) || InV4(ip, 0xC0A80000, 16) ||
           InV4(ip, 0x64400000, 10);
  }
  return (a.ip()[0] & 0xFE) == 0xFC;  // fc00::/7
}

}  // namespace

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  size_t slash = text.find('/');
  auto ip = Address::ParseIp(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int max = ip->is_v4() ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max) return std::nullopt;
  }
  std::array<uint8_t, 16> bytes{};
  auto raw = ip->ip();
  for (size_t i = 0; i < raw.size(); ++i) {
    int keep = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    bytes[i] = static_cast<uint8_t>(raw[i] & static_cast<uint8_t>(0xFF00 >> keep));
  }
  auto base = Address::FromBytes(std::span<const uint8_t>(bytes.data(), raw.size()), 0);
  return Cidr{*base, prefix};
}

bool Cidr::Contains(const Address& ip) const {
  if (ip.family() != base.family()) return false;
  auto a = ip.ip();
  auto b = base.ip();
  int bits = prefix;
  for (size_t i = 0; i < a.size() && bits > 0; ++i, bits -= 8) {
    int keep = std::min(bits, 8);
    auto mask = static_cast<uint8_t>(0xFF00 >> keep);
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

std::string Cidr::ToString() const { return base.IpString() + "/" + std::to_string(prefix); }

std::string_view PeerVerdictName(PeerVerdict v) {
  switch (v) {
    case PeerVerdict::kAllowed: return "allowed";
    case PeerVerdict::kOwnEndpoint: return "own_endpoint";
    case PeerVerdict::kUnspecified: return "unspecified";
    case PeerVerdict::kLoopback: return "loopback";
    case PeerVerdict::kLinkLocal: return "link_local";
    case PeerVerdict::kMulticast: return "multicast";
    case PeerVerdict::kBroadcast: return "broadcast";
    case PeerVerdict::kReserved: return "reserved";
    case PeerVerdict::kPrivate: return "private";
    case PeerVerdict::kDenied: return "denied";
  }
  return "?";
}

PeerPolicy::PeerPolicy(PeerPolicyOptions options) : options_(std::move(options)) {
  for (auto& a : options_.own_endpoints) a = a.Canonical();
  for (auto& a : options_.self_addresses) a = a.Canonical();
}

PeerVerdict PeerPolicy::Builtin(const Address& a) const {
  if (a.is_v4()) {
    uint32_t ip = a.v4();
    if (InV4(ip, 0x00000000, 8)) return PeerVerdict::kUnspecified;  // "this network", 0.0.0.0
    if (InV4(ip, 0x7F000000, 8)) return options_.allow_loopback ? PeerVerdict::kAllowed : PeerVerdict::kLoopback;
    if (InV4(ip, 0xA9FE0000, 16)) return PeerVerdict::kLinkLocal;
    if (InV4(ip, 0xE0000000, 4)) return PeerVerdict::kMulticast;
    if (ip == 0xFFFFFFFF) return PeerVerdict::kBroadcast;
    if (InV4(ip, 0xF0000000, 4)) return PeerVerdict::kReserved;
    return PeerVerdict::kAllowed;
  }
  auto b = a.ip();
  if (IsUnspecified(a)) return PeerVerdict::kUnspecified;
  bool loopback = b[15] == 1 && std::all_of(b.begin(), b.end() - 1, [](uint8_t x) { return x == 0; });
  if (loopback) return options_.allow_loopback ? PeerVerdict::kAllowed : PeerVerdict::kLoopback;
  if (b[0] == 0xFF) return PeerVerdict::kMulticast;
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return PeerVerdict::kLinkLocal;  // fe80::/10
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return PeerVerdict::kReserved;   // fec0::/10
  if (b[0] == 0x00) return PeerVerdict::kReserved;  // ::/8 other than the forms handled above
  return PeerVerdict::kAllowed;
}

PeerVerdict PeerPolicy::Configured(const Address& a, PeerScope scope) const {
  int best_denied = -1;
  int best_allowed = -1;
  for (const auto& c : options_.denied) {
    if (c.Contains(a)) best_denied = std::max(best_denied, c.prefix);
  }
  for (const auto& c : options_.allowed) {
    if (c.Contains(a)) best_allowed = std::max(best_allowed, c.prefix);
  }
  if (best_denied >= 0 && best_denied >= best_allowed) return PeerVerdict::kDenied;
  if (best_allowed >= 0) return PeerVerdict::kAllowed;
  if (!IsPrivate(a)) return PeerVerdict::kAllowed;
  if (!options_.allow_private) return PeerVerdict::kPrivate;
  if (scope == PeerScope::kGuest && !options_.guest_private && !IsSelf(a)) return PeerVerdict::kPrivate;
  return PeerVerdict::kAllowed;
}

bool PeerPolicy::IsOwnEndpoint(const Address& a) const {
  for (const auto& e : options_.own_endpoints) {
    if (e.port() != a.port()) continue;
    if (!IsUnspecified(e)) {
      if (e.SameIp(a)) return true;
      continue;
    }
    if (options_.self_addresses.empty()) return true;
    for (const auto& self : options_.self_addresses) {
      if (self.SameIp(a)) return true;
    }
  }
  return false;
}

PeerVerdict PeerPolicy::CheckIp(const Address& peer, PeerScope scope) const {
  Address a = peer.Canonical();
  PeerVerdict v = Builtin(a);
  if (v != PeerVerdict::kAllowed) return v;
  return Configured(a, scope);
}

bool PeerPolicy::IsSelf(const Address& a) const {
  return std::any_of(options_.self_addresses.begin(), options_.self_addresses.end(),
                     [&a](const Address& self) { return self.SameIp(a); });
}

PeerVerdict PeerPolicy::Check(const Address& peer, PeerScope scope) const {
  Address a = peer.Canonical();
  if (IsOwnEndpoint(a)) return PeerVerdict::kOwnEndpoint;
  // A guest on the host's own addresses: relay ports only.
  if (scope == PeerScope::kGuest && IsSelf(a) &&
      (a.port() < options_.relay_port_min || a.port() > options_.relay_port_max)) {
    return PeerVerdict::kOwnEndpoint;
  }
  return CheckIp(a, scope);
}

}  // namespace palaver::turn
