// Tokens of other issuers (an existing konnect, Keycloak, ...): their discovery document and
// JWKS, fetched over HTTPS on workers, cached, refreshed periodically and when a token names a
// key we do not have yet.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "jose.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::oidc {

/// Verification keys from a JWKS document; `algs` are the issuer's advertised signing
/// algorithms (RSA keys without `alg` get one key per RSA algorithm among them). Pure.
Result<std::vector<SigningKey>> ParseJwks(const std::string& json, const std::vector<JwsAlg>& algs);
/// The `jwks_uri` and signing algorithms of a discovery document, which must name `issuer`. Pure.
struct DiscoveryInfo {
  std::string jwks_uri;
  std::vector<JwsAlg> algs;
};
Result<DiscoveryInfo> ParseDiscovery(const std::string& json, const std::string& issuer);

/// An HTTPS exchange with another OpenID provider. Blocking (network): workers only.
struct HttpsReply {
  int status = 0;
  std::string body;
};
/// `method` GET or POST (`body` as application/x-www-form-urlencoded); `ca_file` empty: the
/// system CAs. A body over `max_bytes` is kPayloadTooLarge, a non-https URL kInvalidArgument,
/// network and TLS failures kUnavailable (10 s timeout).
Result<HttpsReply> HttpsRequest(const std::string& method, const std::string& url, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                const std::string& ca_file, size_t max_bytes);
inline constexpr size_t kMaxDocumentBytes = 512 * 1024;

/// The trusted external issuers and their keys. Thread-safe; Keys() is non-blocking,
/// Refresh() blocks (network): workers only.
class ExternalIssuers {
 public:
  ExternalIssuers(std::vector<std::string> issuers, std::string ca_file)
      : issuers_(std::move(issuers)), ca_file_(std::move(ca_file)) {}
  const std::vector<std::string>& Issuers() const { return issuers_; }
  bool Trusts(const std::string& issuer) const;
  /// The keys last fetched for `issuer` (empty when none yet).
  std::vector<SigningKey> Keys(const std::string& issuer) const;
  /// Fetches discovery and JWKS of `issuer` and replaces its keys (kept on failure).
  Status Refresh(const std::string& issuer);
  /// True at most once per `min_interval_s` per issuer: whether an on-demand refresh may start.
  bool ClaimRefresh(const std::string& issuer, int64_t now_s, int64_t min_interval_s = 30);
  /// Replaces the keys directly (tests).
  void SetKeys(const std::string& issuer, std::vector<SigningKey> keys);

 private:
  Result<std::string> Fetch(const std::string& url) const;
  std::vector<std::string> issuers_;
  std::string ca_file_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<SigningKey>> keys_ PALAVER_GUARDED_BY(mu_);
  std::map<std::string, int64_t> last_claim_ PALAVER_GUARDED_BY(mu_);
};

}  // namespace palaver::oidc
