// Address ranges (CIDR) for allow-lists: the host's metrics_allow and trusted_proxies, the admin
// console's allowed_networks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace palaver::sdk {

/// An IPv4 or IPv6 network. IPv4 is kept as IPv4-mapped IPv6. Value type.
struct Cidr {
  std::array<uint8_t, 16> addr{};
  int prefix = 128;

  /// "10.0.0.0/8", "::1", "192.168.1.7". nullopt when malformed.
  static std::optional<Cidr> Parse(const std::string& text);
  bool Contains(const std::string& address) const;
};

bool AnyContains(const std::vector<Cidr>& nets, const std::string& address);

}  // namespace palaver::sdk
