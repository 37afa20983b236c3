// What an authorization grants and the tokens built from it (spec §1.9): ID token claims,
// access token requests, refresh token claims. Sans-I/O (signing is the caller's).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "palaver/sdk/services/token_issuer.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::oidc {

/// The claim of access and refresh tokens that records the user's session epoch
/// (sdk::UserStanding): a token issued under an older epoch is refused.
inline constexpr const char* kSessionEpochClaim = "plv.sep";

/// Who a grant is for. Value type.
struct Identity {
  std::string raw_id;  // directory user id, or the guest id
  std::string username;
  std::string display_name;
  std::string given_name;
  std::string family_name;
  std::string email;
  bool guest = false;
  const char* Manager() const;
  /// The public `sub` (konnect's derivation).
  std::string Subject() const;
};

/// An approved authorization: carried by codes and refresh tokens. Value type.
struct Grant {
  Identity who;
  std::string client_id;
  std::vector<std::string> scopes;        // approved
  std::string claims_json;                // the approved claims request (kc.authorizedClaims)
  std::set<std::string> id_token_claims;  // names the claims request wants in ID tokens
  int64_t auth_time = 0;
  std::string sid;                        // sign-in session id (ID token `sid`)
  int64_t session_epoch = 0;              // the user's session epoch at sign-in (kSessionEpochClaim)
  bool HasScope(const std::string& s) const;
};

struct IdTokenOptions {
  std::string issuer;
  std::string nonce;
  std::string at_hash;
  std::string c_hash;
  bool with_access_token = false;  // profile/email claims then only when named in the claims request
  bool include_auth_time = false;
  int64_t now = 0;
  int64_t lifetime = 3600;
  std::string subject;  // the grant's public `sub` when the caller has it already; else computed
};
/// The ID token's claims as JSON text (what is signed): members sorted by key, as
/// Poco::JSON::Object::stringify writes them.
std::string IdTokenClaimsJson(const Grant& grant, const IdTokenOptions& options);
/// The same claims parsed (for callers that inspect them).
Poco::JSON::Object IdTokenClaims(const Grant& grant, const IdTokenOptions& options);

/// The access token for a grant (through TokenIssuer).
sdk::AccessTokenRequest AccessTokenFor(const Grant& grant, int64_t lifetime_s);

/// Refresh tokens are JWTs signed by the provider; `jti` is tracked in the store for rotation
/// and `family` ties every token rotated from one grant together.
/// As JSON text (what is signed; members sorted by key as in the ID token). `subject`: the
/// grant's public `sub` if the caller has it (else computed).
std::string RefreshTokenClaimsJson(const Grant& grant, const std::string& issuer, const std::string& jti,
                                   const std::string& family, int64_t now, int64_t lifetime,
                                   const std::string& subject = {});
/// The same claims parsed.
Poco::JSON::Object RefreshTokenClaims(const Grant& grant, const std::string& issuer, const std::string& jti,
                                      const std::string& family, int64_t now, int64_t lifetime);
struct RefreshTokenInfo {
  Grant grant;
  std::string jti;
  std::string family;
  int64_t expires_at = 0;
};
/// Checks `kc.isRefreshToken`, the issuer and the audience (= client_id) of verified claims.
/// Errors are kUnauthenticated ("invalid_grant").
Result<RefreshTokenInfo> ReadRefreshToken(const Poco::JSON::Object& claims, const std::string& issuer,
                                          const std::string& client_id);

}  // namespace palaver::oidc
