// Signing in through an upstream OpenID provider (Keycloak on UCS, another konnect or palaverd):
// palaverd as a relying party. The pure parts (discovery, ID token checks, PKCE, the state
// cookie) are separate from the blocking HTTPS exchanges (workers only).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "config.hpp"
#include "jose.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::oidc {

/// What the relying party needs from the upstream's discovery document.
struct UpstreamEndpoints {
  std::string authorization;
  std::string token;
  std::string userinfo;     // may be empty
  std::string end_session;  // may be empty: sign-out then ends only our session
  std::string jwks_uri;
  std::vector<JwsAlg> algs;
};
/// Parses a discovery document, which must name exactly `issuer` and https endpoints. Pure.
Result<UpstreamEndpoints> ParseUpstreamDiscovery(const std::string& json, const std::string& issuer);

/// PKCE S256: base64url(SHA-256(verifier)).
std::string PkceChallenge(const std::string& verifier);

/// Checks an upstream ID token: signature by one of `keys` (the key decides the algorithm),
/// `iss` equal to `issuer`, `aud` naming `client_id` (with more than one audience, `azp` must be
/// `client_id`), `exp`/`iat`/`nbf` (60 s leeway), `nonce` equal to `nonce` (constant time), `sub`
/// present. Errors are kUnauthenticated; the message names the failed check (never the token).
Result<Poco::JSON::Object::Ptr> VerifyUpstreamIdToken(std::string_view token, const std::vector<SigningKey>& keys,
                                                      const std::string& issuer, const std::string& client_id,
                                                      const std::string& nonce, int64_t now_s);

/// The value of `claim` (a string) as the Palaver username to look up; empty when absent.
std::string UserClaimValue(const Poco::JSON::Object& claims, const std::string& claim);

/// One sign-in in progress, kept in a sealed cookie between the redirect and the callback.
struct UpstreamAttempt {
  std::string state;     // random, 32 characters: compared in constant time with the callback's
  std::string nonce;     // random: must come back in the ID token
  std::string verifier;  // PKCE code verifier
  std::string flow;      // the sign-in page's flow ("oidc" inside an authorization request)
  std::string query;     // the carried authorization request
  int64_t expires_at = 0;
  std::string ToJson() const;
  static std::optional<UpstreamAttempt> FromJson(const std::string& json, int64_t now_s);
};

/// True when `a` and `b` are equal, in time independent of where they differ.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

/// The upstream provider: its discovery and keys (cached; fetched on workers) and the code
/// exchange. Thread-safe; every method but Cached() blocks (network): workers only.
class Upstream {
 public:
  Upstream(UpstreamConfig config, std::string client_secret)
      : config_(std::move(config)), secret_(std::move(client_secret)) {}
  const UpstreamConfig& Config() const { return config_; }
  /// The endpoints last fetched (non-blocking); null before the first successful fetch.
  std::optional<UpstreamEndpoints> Cached() const;
  /// Fetches discovery and JWKS again (kept on failure).
  Status Refresh();
  /// Cached endpoints, fetched first when there are none yet. While one such fetch runs, others
  /// fail at once (kUnavailable): an unreachable upstream ties up one worker, not all of them.
  Result<UpstreamEndpoints> Endpoints();

  struct SignedIn {
    std::string id_token;
    Poco::JSON::Object::Ptr claims;
  };
  /// Exchanges `code` at the token endpoint (client_secret_basic, or the client id alone for a
  /// public client; with the PKCE verifier) and verifies the ID token. An unknown `kid` fetches
  /// the JWKS again (at most every 30 s). A missing user claim is taken from userinfo (whose
  /// `sub` must equal the ID token's). kUnavailable: upstream unreachable or answering 5xx;
  /// kUnauthenticated: refused code or a token that fails a check; kInvalidArgument /
  /// kPayloadTooLarge: documents palaverd cannot accept.
  Result<SignedIn> Exchange(const std::string& code, const std::string& verifier, const std::string& redirect_uri,
                            const std::string& nonce, int64_t now_s);

 private:
  Result<std::string> Get(const std::string& url) const;
  UpstreamConfig config_;
  std::string secret_;
  mutable std::mutex mu_;
  std::optional<UpstreamEndpoints> endpoints_ PALAVER_GUARDED_BY(mu_);
  std::vector<SigningKey> keys_ PALAVER_GUARDED_BY(mu_);
  int64_t last_key_fetch_ PALAVER_GUARDED_BY(mu_) = 0;
  bool fetching_ PALAVER_GUARDED_BY(mu_) = false;
};

}  // namespace palaver::oidc
