// TokenIssuer: mints access tokens in-process (guest tokens for signaling, tests).
#pragma once

#include <chrono>
#include <cstdint>
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
  std::string authorized_claims;       // kc.authorizedClaims as a JSON object; empty: none
  std::chrono::seconds lifetime{0};    // 0: the provider's access token lifetime
  int64_t session_epoch = 0;           // the user's UserStanding::session_epoch (not for guests)
};

/// A guest's sign-in request (spec §1.12): what kwmserver signed with the Meet client's key in
/// Kopano, signed here with the provider's own key, so no key files are shared. The browser
/// passes it to the authorization endpoint as `request=`; the provider then signs the guest in
/// (implicit flow) restricted to `path`. Value type.
struct GuestRequest {
  std::string client_id;
  std::string scope;         // as the client sent it (must include konnect/guestok)
  std::string guest_id;      // random, unique
  std::string name;          // display name, e.g. "(Guest) Anna"
  std::string path;          // the one room the guest may enter, e.g. "group/public/team"
  std::chrono::seconds lifetime{300};
};

/// Published by the `oidc` module. Thread-safe, non-blocking (one signature).
class TokenIssuer {
 public:
  virtual ~TokenIssuer() = default;
  virtual Result<std::string> IssueAccessToken(const AccessTokenRequest& request) = 0;
  /// A signed request object for a guest sign-in.
  virtual Result<std::string> IssueGuestRequest(const GuestRequest& request) = 0;
};

}  // namespace palaver::sdk
