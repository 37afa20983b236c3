// The in-process TokenVerifier: checks our own access tokens against the current key set.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "external.hpp"
#include "key_store.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/services/token_issuer.hpp"
#include "palaver/sdk/services/token_verifier.hpp"
#include "palaver/sdk/services/user_directory.hpp"

namespace palaver::oidc {

/// The user id of an external issuer's user: "ext:<base64url of 9 bytes of SHA-256(issuer)>:<id>".
/// Never a local directory id (those have no ':'). Pure.
std::string ExternalUserId(std::string_view issuer, std::string_view id);

/// Verifies and issues the provider's own access tokens with the current key set.
/// Thread-safe, non-blocking. `now` is injectable for tests.
class LocalTokenVerifier final : public sdk::TokenVerifier, public sdk::TokenIssuer {
 public:
  using Clock = std::function<int64_t()>;
  using IssuerFn = std::function<std::string()>;
  LocalTokenVerifier(IssuerFn issuer, Clock now) : issuer_(std::move(issuer)), now_(std::move(now)) {}
  void SetKeys(std::shared_ptr<const KeySet> keys);
  std::shared_ptr<const KeySet> Keys() const;
  Result<sdk::TokenClaims> VerifyAccessToken(std::string_view token) const override;
  /// Also asks `standing` (SetStanding) about the token's user; without one, every user token
  /// is refused as kUnavailable.
  Result<sdk::TokenClaims> VerifyActiveAccessToken(std::string_view token) const override;
  Result<sdk::IdTokenInfo> VerifyIdToken(std::string_view token, std::string_view audience) const override;
  Result<std::string> IssueAccessToken(const sdk::AccessTokenRequest& request) override;
  Result<std::string> IssueGuestRequest(const sdk::GuestRequest& request) override;
  /// The claims of a guest request object this provider signed: signature by a current key,
  /// times, issuer and audience (ours), `kc.isGuestRequest`. Errors are kUnauthenticated.
  Result<Poco::JSON::Object::Ptr> VerifyGuestRequest(std::string_view token) const;
  /// Claims of any JWT signed by one of our keys, without time checks (id_token_hint).
  Result<Poco::JSON::Object::Ptr> VerifyOwnSignature(std::string_view token) const;
  /// Signs claims with the current signing key.
  Result<std::string> Sign(const Poco::JSON::Object& claims) const;
  /// Signs claims already serialized (a JSON object's text).
  Result<std::string> SignJson(std::string_view claims_json) const;
  void SetAccessTokenLifetime(std::chrono::seconds lifetime) { default_lifetime_s_ = lifetime.count(); }
  /// Also accept access tokens of these external issuers; `on_unknown_key(issuer)` is called
  /// (on the verifying thread; it must not block) when a token names a key not fetched yet.
  void SetExternal(std::shared_ptr<ExternalIssuers> external, std::function<void(std::string)> on_unknown_key);

  /// How VerifyActiveAccessToken learns a user's standing (the directory's, on the calling
  /// worker). May block.
  using StandingFn = std::function<Result<sdk::UserStanding>(const std::string& user_id)>;
  void SetStanding(StandingFn standing);

  static constexpr int64_t kLeewaySeconds = 30;

  /// The claims a resource server sees. Tokens of external issuers (`external`) get a namespaced
  /// user id, so no claim of theirs (`kc.identity`, `sub`) can name a local user, let alone an
  /// administrator; our own tokens carry the session epoch.
  static Result<sdk::TokenClaims> ClaimsOf(const Poco::JSON::Object& claims, const std::string& issuer, bool external);

 private:
  IssuerFn issuer_;
  Clock now_;
  std::atomic<int64_t> default_lifetime_s_{600};
  mutable std::mutex mu_;
  std::shared_ptr<const KeySet> keys_ PALAVER_GUARDED_BY(mu_);
  std::shared_ptr<ExternalIssuers> external_ PALAVER_GUARDED_BY(mu_);
  std::function<void(std::string)> on_unknown_key_ PALAVER_GUARDED_BY(mu_);
  std::shared_ptr<const StandingFn> standing_ PALAVER_GUARDED_BY(mu_);
};

}  // namespace palaver::oidc
