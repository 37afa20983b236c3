// TokenVerifier: checks bearer tokens for resource endpoints (address book, kvs, signaling).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// What a verified access token says. Value type.
struct TokenClaims {
  std::string issuer;
  std::string subject;
  std::string audience;     // the client id
  int64_t expires_at = 0;   // unix seconds
  std::vector<std::string> scopes;  // kc.authorizedScopes
  std::string user_id;      // kc.identity["kc.i.id"]
  std::string username;     // kc.identity["kc.i.un"]
  std::string display_name; // kc.identity["kc.i.dn"]
  bool guest = false;       // kc.identity["kc.i.guest"]
  /// Issued by a trusted external issuer: `user_id` is then that issuer's user, namespaced
  /// ("ext:<issuer hash>:<id>") so that it never names a user of the local directory.
  bool external = false;
  int64_t session_epoch = 0;  // the user's session epoch when the token was issued (ours only)
  std::string raw_claims;   // the JSON payload

  bool HasScope(std::string_view scope) const {
    for (const auto& s : scopes) {
      if (s == scope) return true;
    }
    return false;
  }
};

/// What an ID token says about its user. Value type.
struct IdTokenInfo {
  std::string issuer;
  std::string subject;
  std::string name;
  std::string raw_claims;  // the JSON payload
};

/// Published by the `oidc` module. Thread-safe and non-blocking (keys are held in memory), so it
/// may be called on the net loop. Errors are kUnauthenticated with a client-safe public message.
class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  /// A valid, unexpired access token of this issuer (`kc.isAccessToken`), signed by one of its
  /// current keys with the key's own algorithm.
  virtual Result<TokenClaims> VerifyAccessToken(std::string_view token) const = 0;
  /// VerifyAccessToken, then the user's standing in the directory: tokens of users who were
  /// removed or disabled, or whose sessions were ended after the token was issued (password
  /// changed), are refused (kUnauthenticated). Guests and users of external issuers have no
  /// local standing. Blocking (one directory lookup): workers only.
  virtual Result<TokenClaims> VerifyActiveAccessToken(std::string_view token) const {
    return VerifyAccessToken(token);
  }
  /// An ID token signed by this issuer (or a trusted external one), unexpired (the access
  /// token's leeway), whose `aud` is (or contains) `audience`. Returns iss, sub, name.
  virtual Result<IdTokenInfo> VerifyIdToken(std::string_view token, std::string_view audience) const = 0;
};

struct Request;

/// The resource-server check kapi does: `Authorization: Bearer <token>` verified by `verifier`
/// (null: kUnavailable) and every one of `required_scopes` granted. Any token or scope failure
/// is kPermissionDenied (kapi answers those with 403 and an empty body).
Result<TokenClaims> AuthorizeBearer(const Request& request, const TokenVerifier* verifier,
                                    const std::vector<std::string>& required_scopes);

/// AuthorizeBearer with VerifyActiveAccessToken: also refuses tokens of removed or disabled
/// users and of ended sessions. Blocking: workers only.
Result<TokenClaims> AuthorizeActiveBearer(const Request& request, const TokenVerifier* verifier,
                                          const std::vector<std::string>& required_scopes);

struct Response;
/// The answer to a failed AuthorizeBearer: kapi's empty 403 for token and scope failures, the
/// mapped error otherwise.
Response BearerFailure(const Error& error);

}  // namespace palaver::sdk
