#include "config.hpp"

#include <algorithm>
#include <fstream>

namespace palaver::oidc {
namespace {

std::chrono::seconds Seconds(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::seconds>(ms);
}

}  // namespace

OidcConfig ParseOidcConfig(sdk::ConfigReader& r) {
  OidcConfig c;
  c.issuer = r.String("issuer", "");
  if (!c.issuer.empty()) {
    bool ok = c.issuer.rfind("https://", 0) == 0 && c.issuer.size() > 8 && c.issuer.back() != '/' &&
              c.issuer.find_first_of("?# ") == std::string::npos;
    if (!ok) r.Reject("issuer", "must be an https:// URL without query, fragment or trailing slash");
  }
  c.signing_alg = *ParseAlg(r.Enum("signing_alg", "ES256", {"ES256", "RS256", "PS256"}));
  c.key_rotation = Seconds(r.Duration("key_rotation", std::chrono::hours(30 * 24)));
  c.access_token_lifetime = Seconds(r.Duration("access_token_lifetime", std::chrono::seconds(600)));
  c.id_token_lifetime = Seconds(r.Duration("id_token_lifetime", std::chrono::seconds(3600)));
  c.refresh_token_lifetime = Seconds(r.Duration("refresh_token_lifetime", std::chrono::hours(3 * 365 * 24)));
  c.session_lifetime = Seconds(r.Duration("session_lifetime", std::chrono::hours(12)));
  if (c.session_lifetime.count() < 300) r.Reject("session_lifetime", "must be at least 5m");
  if (c.access_token_lifetime.count() < 60) r.Reject("access_token_lifetime", "must be at least 60s");
  if (c.id_token_lifetime.count() < 60) r.Reject("id_token_lifetime", "must be at least 60s");
  if (c.refresh_token_lifetime.count() < 3600) r.Reject("refresh_token_lifetime", "must be at least 1h");
  if (c.key_rotation.count() != 0 && c.key_rotation.count() < 3600) {
    r.Reject("key_rotation", "must be 0 (never) or at least 1h");
  }
  c.external_issuers = r.List("external_issuers", {});
  for (const auto& iss : c.external_issuers) {
    bool ok = iss.rfind("https://", 0) == 0 && iss.size() > 8 && iss.find_first_of("?# ") == std::string::npos;
    if (!ok) r.Reject("external_issuers", "each must be an https:// issuer URL without query or fragment");
  }
  c.external_ca_file = r.String("external_ca_file", "");
  UpstreamConfig& u = c.upstream;
  u.issuer = r.String("upstream_issuer", "");
  u.client_id = r.String("upstream_client_id", "");
  u.client_secret_file = r.String("upstream_client_secret_file", "");
  u.scopes = r.List("upstream_scopes", u.scopes);
  u.user_claim = r.String("upstream_user_claim", u.user_claim);
  u.ca_file = r.String("upstream_ca_file", c.external_ca_file);
  u.label = r.String("upstream_label", u.label);
  u.label_de = r.String("upstream_label_de", "");
  u.only = r.Bool("upstream_only", false);
  if (!u.issuer.empty()) {
    bool ok = u.issuer.rfind("https://", 0) == 0 && u.issuer.size() > 8 && u.issuer.back() != '/' &&
              u.issuer.find_first_of("?# ") == std::string::npos;
    if (!ok) r.Reject("upstream_issuer", "must be an https:// URL without query, fragment or trailing slash");
    if (u.client_id.empty()) r.Reject("upstream_client_id", "is needed with upstream_issuer");
    if (std::find(u.scopes.begin(), u.scopes.end(), "openid") == u.scopes.end()) {
      r.Reject("upstream_scopes", "must contain openid");
    }
    if (u.user_claim.empty() || u.user_claim.size() > 64) r.Reject("upstream_user_claim", "must be a claim name");
    if (u.label.empty() || u.label.size() > 64) r.Reject("upstream_label", "must be 1 to 64 characters");
    if (u.label_de.size() > 64) r.Reject("upstream_label_de", "must be at most 64 characters");
    if (!u.client_secret_file.empty()) {
      std::ifstream in(u.client_secret_file, std::ios::binary);
      std::string line;
      if (u.client_secret_file.front() != '/') {
        r.Reject("upstream_client_secret_file", "must be an absolute path");
      } else if (!in) {
        r.Reject("upstream_client_secret_file", "cannot read " + u.client_secret_file);
      } else if (!std::getline(in, line) || line.empty()) {
        r.Reject("upstream_client_secret_file", u.client_secret_file + " is empty (the secret is its first line)");
      } else {
        sdk::WarnIfReadableByOthers(r, "upstream_client_secret_file", u.client_secret_file);
      }
    }
  } else if (u.only) {
    r.Reject("upstream_only", "needs upstream_issuer");
  }
  return c;
}

std::string EffectiveIssuer(const OidcConfig& config, const std::string& hostname, int https_port) {
  if (!config.issuer.empty()) return config.issuer;
  std::string out = "https://" + hostname;
  if (https_port != 443 && https_port != 0) out += ":" + std::to_string(https_port);
  return out;
}

}  // namespace palaver::oidc
