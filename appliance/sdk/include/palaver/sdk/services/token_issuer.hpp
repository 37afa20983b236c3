// TokenIssuer: mints access tokens in-process (guest tokens for signaling, tests).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// What an access token is for. Value type.
struct AccessTokenRequest {
  std::string subject;
  std::string audience;                // the client id
  std::vector<std::string> scopes;     // become kc.authorizedScopes
  std::string user_id;                 // kc.identity["kc.i.id"]
  std::string username;                // kc.identity["kc.i.un"]
  std::string display_name;            // kc.identity["kc.i.dn"]
  bool guest = false;                  // kc.identity["kc.i.guest"]
  std::chrono::seconds lifetime{0};    // 0: the provider's access token lifetime
};

/// Published by the `oidc` module. Thread-safe, non-blocking (one signature).
class TokenIssuer {
 public:
  virtual ~TokenIssuer() = default;
  virtual Result<std::string> IssueAccessToken(const AccessTokenRequest& request) = 0;
};

}  // namespace palaver::sdk
