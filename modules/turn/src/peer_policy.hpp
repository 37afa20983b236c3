// Which peers a TURN allocation may relay to: the guard against using the relay to reach the
// appliance itself or its networks (the class of coturn's CVE-2020-26262, where 0.0.0.0 and
// [::] slipped past a loopback check).
//
// Always refused (no option opens them, except loopback through `allow_loopback`):
//   unspecified 0.0.0.0/8 and ::, loopback 127.0.0.0/8 and ::1, link-local 169.254.0.0/16 and
//   fe80::/10, multicast 224.0.0.0/4 and ff00::/8, broadcast 255.255.255.255, reserved
//   240.0.0.0/4, fec0::/10 (deprecated site-local) and the rest of ::/8; and the appliance's own
//   service endpoints (addr:port), whatever else is allowed.
// IPv6 forms that reach an IPv4 address are judged as that IPv4 address: IPv4-mapped
// ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d.
//
// Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10 shared address space, fc00::/7) are
// ALLOWED by default: the appliance typically serves an intranet where both browsers have
// private addresses, only holders of credentials can create permissions, and the appliance's
// own ports stay refused. Internet-facing installations that do not relay into their LAN set
// `allow_private = false`. On top, configured `denied` and `allowed` CIDR lists decide by
// longest prefix (a tie goes to `denied`); `allowed` can re-open parts of the private ranges
// and of `denied`, never the always-refused categories.
//
// Guests (PeerScope::kGuest: an allocation whose REST user part carries sdk::kTurnGuestUserPrefix,
// which only the signaling module's guest logons get) are anonymous: anyone with a public room's
// link. Their allocations reach private ranges only with `guest_private` (default off), except the
// host's own addresses (`self_addresses`), and on those (private or not) only the relay ports
// (`relay_port_min`..`relay_port_max`): relay-to-relay is how two relay-only browsers meet, and
// nothing else listening there (a DNS forwarder on a bridge, SNMP, a VPN) is a guest's business.
// `allowed` re-opens private ranges for guests too; `allow_private = false` closes them for
// everyone. "Private" is the ranges above: a LAN on global IPv6 addresses needs `denied`.
//
// Thread: immutable after construction; const methods are safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address.hpp"

namespace palaver::turn {

// An address range. Parse accepts "10.0.0.0/8", "fd00::/8" and a bare address (one host). The
// bits past the prefix are cleared. Matches addresses of its own family only (write IPv4
// ranges in IPv4 form; peers are canonicalized to IPv4 when they embed one).
struct Cidr {
  Address base;
  int prefix = 0;

  static std::optional<Cidr> Parse(std::string_view text);
  bool Contains(const Address& ip) const;
  std::string ToString() const;
};

enum class PeerVerdict : uint8_t {
  kAllowed,
  kOwnEndpoint,
  kUnspecified,
  kLoopback,
  kLinkLocal,
  kMulticast,
  kBroadcast,
  kReserved,
  kPrivate,
  kDenied,
};
// Stable lowercase names, for logs and metric labels ("loopback").
std::string_view PeerVerdictName(PeerVerdict v);

// Who holds the allocation.
enum class PeerScope : uint8_t { kMember, kGuest };

struct PeerPolicyOptions {
  bool allow_private = true;
  // Guests into private ranges too (with allow_private).
  bool guest_private = false;
  // The relay port range: the only ports of the host's own addresses a guest may reach.
  uint16_t relay_port_min = 49152;
  uint16_t relay_port_max = 65535;
  // Tests and benchmarks whose peers run on the same host (coturn's --allow-loopback-peers).
  bool allow_loopback = false;
  std::vector<Cidr> denied;
  std::vector<Cidr> allowed;
  // The appliance's service endpoints (HTTPS, TURN listeners, ...). An unspecified address
  // (0.0.0.0 or ::, a wildcard listener) stands for every address in `self_addresses`, or for
  // any address when that list is empty (fail closed).
  std::vector<Address> own_endpoints;
  // The host's own addresses, as the engine knows them (interfaces, external_ip); ports ignored.
  std::vector<Address> self_addresses;
};

class PeerPolicy {
 public:
  PeerPolicy() : PeerPolicy(PeerPolicyOptions{}) {}
  explicit PeerPolicy(PeerPolicyOptions options);

  // For CreatePermission, which names an IP only (the port is ignored).
  PeerVerdict CheckIp(const Address& peer, PeerScope scope = PeerScope::kMember) const;
  // For ChannelBind, Send indications and anything else with a port: CheckIp plus the
  // appliance's own endpoints.
  PeerVerdict Check(const Address& peer, PeerScope scope = PeerScope::kMember) const;

  const PeerPolicyOptions& options() const { return options_; }

 private:
  PeerVerdict Builtin(const Address& canonical) const;
  PeerVerdict Configured(const Address& canonical, PeerScope scope) const;
  bool IsOwnEndpoint(const Address& canonical) const;
  bool IsSelf(const Address& canonical) const;

  PeerPolicyOptions options_;
};

}  // namespace palaver::turn
