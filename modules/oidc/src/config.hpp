// [oidc] config.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "jose.hpp"
#include "palaver/sdk/config.hpp"

namespace palaver::oidc {

/// Signing in through another OpenID provider (Keycloak on UCS, another konnect or palaverd):
/// palaverd is a relying party of `issuer`. Off while `issuer` is empty.
struct UpstreamConfig {
  std::string issuer;
  std::string client_id;
  std::string client_secret_file;  // first line is the secret; empty: a public client (PKCE only)
  std::vector<std::string> scopes{"openid", "profile", "email"};
  std::string user_claim = "preferred_username";  // its value is looked up as a Palaver username
  std::string ca_file;                            // empty: external_ca_file, else the system CAs
  std::string label = "Single sign-on";           // the button: "Sign in with <label>"
  std::string label_de;                           // German label; empty: `label`
  bool only = false;                              // hide the password form and refuse passwords
  bool Enabled() const { return !issuer.empty(); }
};

struct OidcConfig {
  std::string issuer;  // empty: https://<first hostname>[:<https_port>]
  JwsAlg signing_alg = JwsAlg::kES256;
  std::chrono::seconds key_rotation{30 * 86400};
  std::chrono::seconds access_token_lifetime{600};
  std::chrono::seconds id_token_lifetime{3600};
  std::chrono::seconds refresh_token_lifetime{3LL * 365 * 86400};
  std::chrono::seconds session_lifetime{12 * 3600};
  std::vector<std::string> external_issuers;  // also accept access tokens of these issuers
  std::string external_ca_file;               // CA bundle for fetching their keys; empty: system CAs
  UpstreamConfig upstream;
};

/// Parses [oidc]; problems are recorded on `reader`. Pure.
OidcConfig ParseOidcConfig(sdk::ConfigReader& reader);
/// The issuer URL for a config and the host's first hostname and HTTPS port.
std::string EffectiveIssuer(const OidcConfig& config, const std::string& hostname, int https_port);

}  // namespace palaver::oidc
