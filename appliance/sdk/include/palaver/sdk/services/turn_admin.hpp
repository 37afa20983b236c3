// TurnAdmin: what the admin console shows about the built-in TURN server, and rotating its secret.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// The built-in TURN server as it runs. Value type.
struct TurnOverview {
  struct Listener {
    std::string transport;  // "udp", "tcp", "tls", "tls-on-https"
    std::string address;    // "0.0.0.0:3478"
  };
  std::vector<Listener> listeners;
  std::string public_host;          // the host name in the TURN URIs handed out
  std::vector<std::string> uris;    // the TURN URIs handed out
  std::string external_ips;         // advertised relay addresses ("" = the relay's own)
  std::string relay_ports;          // "49152-65535"
  size_t allocations = 0;
  size_t connections = 0;           // TCP and TLS
  uint64_t relayed_bytes = 0;       // payload bytes relayed since start, both directions
  uint64_t relayed_packets = 0;
  int64_t credential_ttl_s = 0;
  int64_t secret_changed_unix = 0;  // when the secret was generated or last rotated
  bool secret_rotatable = false;    // false: it comes from the admin's secret_file
  std::string secret_file;
  int64_t previous_secret_until_unix = 0;  // 0: no retired secret is accepted any more
};

/// Published by the `turn` module. Overview() is non-blocking; RotateSecret() writes files
/// (workers or commands only). The TURN secret never leaves the module.
class TurnAdmin {
 public:
  virtual ~TurnAdmin() = default;
  virtual TurnOverview Overview() const = 0;
  /// A new secret: credentials handed out from now on use it; those handed out before keep
  /// working until they expire (at most credential_ttl), nothing minted with the old secret
  /// later does. kFailedPrecondition when the secret comes from the admin's secret_file.
  virtual Status RotateSecret() = 0;
};

}  // namespace palaver::sdk
