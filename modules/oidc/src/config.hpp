// [oidc] config.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "jose.hpp"
#include "palaver/sdk/config.hpp"

namespace palaver::oidc {

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
};

/// Parses [oidc]; problems are recorded on `reader`. Pure.
OidcConfig ParseOidcConfig(sdk::ConfigReader& reader);
/// The issuer URL for a config and the host's first hostname and HTTPS port.
std::string EffectiveIssuer(const OidcConfig& config, const std::string& hostname, int https_port);

}  // namespace palaver::oidc
