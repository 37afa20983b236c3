// [turn] config. Parsing is pure (no files, sockets or threads).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "address.hpp"
#include "palaver/sdk/config.hpp"
#include "peer_policy.hpp"

namespace palaver::turn {

struct TurnConfig {
  // UDP and TCP listeners (the same addresses for both). Default: every IPv4 and IPv6 address,
  // port 3478 (IPv6 left out at start when the host has none).
  std::vector<Address> listen;
  bool listen_is_default = true;
  bool udp = true;
  bool tcp = true;
  std::vector<Address> tls_listen;  // TURN over TLS (default port 5349); empty: off
  bool tls_listen_is_default = true;
  bool https_fallback = true;       // TURN over TLS on the HTTPS port (443)
  std::string realm;                // default: the first hostname
  std::string public_host;          // in the URIs handed out; default: the first hostname
  std::vector<std::string> uris;    // explicit URIs instead of the derived ones
  std::optional<Address> external_v4, external_v6;
  std::optional<Address> relay_v4, relay_v6;
  uint16_t min_port = 49152;
  uint16_t max_port = 65535;
  int threads = 0;  // 0: one per core, at most 4
  std::string secret_file;  // default: <state_dir>/turn_secret (generated on first start)
  std::string static_users_file;  // lines "name:password"; optional
  std::chrono::seconds credential_ttl{12 * 3600};
  std::chrono::seconds nonce_lifetime{600};
  std::chrono::seconds max_lifetime{3600};
  int64_t max_allocations = 10000;
  int64_t max_allocations_per_user = 200;  // a mesh call: peers × TURN URIs per user
  int64_t max_permissions = 64;   // per allocation
  int64_t max_channels = 64;      // per allocation
  int64_t bandwidth = 0;          // bytes/s per allocation; 0 = unlimited
  int64_t unauthenticated_per_second = 50;  // per client IP
  int64_t unauthenticated_burst = 200;
  int64_t max_connections = 10000;          // TCP/TLS
  std::chrono::seconds connection_idle_timeout{120};
  bool allow_loopback_peers = false;
  bool allow_private_peers = true;
  bool guest_private_peers = false;  // guests' allocations (sdk::kTurnGuestUserPrefix) into private ranges
  std::vector<Cidr> allowed_peers;
  std::vector<Cidr> denied_peers;
};

/// Parses [turn]; problems are recorded on `reader`.
TurnConfig ParseTurnConfig(sdk::ConfigReader& reader);

/// "name:password" lines; '#' comments and blank lines ignored. Error text names the line.
std::optional<std::map<std::string, std::string, std::less<>>> ParseStaticUsers(const std::string& text, std::string* error);

}  // namespace palaver::turn
