// An HTTPS client for this server's own port on loopback: the console's code exchange with our
// OpenID provider and the `palaverd settings` command's calls to the running server.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::admin {

/// Where palaverd listens, as seen from the same machine. Value type.
struct LoopbackTarget {
  int port = 0;             // the bound HTTPS port
  std::string host_name;    // the certificate's name (SNI, verification, Host header)
  std::string ca_file;      // the local CA (runtime.json); empty: the system's CAs
};

struct LoopbackResponse {
  int status = 0;
  std::string body;
};

/// One request to 127.0.0.1 (then ::1) on `target.port`, the certificate verified for
/// `target.host_name`. Blocking, 10 s timeout: workers or commands only.
Result<LoopbackResponse> LoopbackRequest(const LoopbackTarget& target, const std::string& method,
                                         const std::string& path,
                                         const std::vector<std::pair<std::string, std::string>>& headers,
                                         const std::string& body);

/// The HTTPS port and CA path palaverd wrote to `<state_dir>/runtime.json`; kUnavailable when it
/// is not running (no file, or its pid is gone).
Result<std::pair<int, std::string>> ReadRuntime(const std::string& state_dir);

}  // namespace palaver::admin
