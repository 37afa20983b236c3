// The in-process TokenVerifier: checks our own access tokens against the current key set.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "key_store.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/services/token_verifier.hpp"

namespace palaver::oidc {

/// Thread-safe, non-blocking. `now` is injectable for tests.
class LocalTokenVerifier final : public sdk::TokenVerifier {
 public:
  using Clock = std::function<int64_t()>;
  using IssuerFn = std::function<std::string()>;
  LocalTokenVerifier(IssuerFn issuer, Clock now) : issuer_(std::move(issuer)), now_(std::move(now)) {}
  void SetKeys(std::shared_ptr<const KeySet> keys);
  std::shared_ptr<const KeySet> Keys() const;
  Result<sdk::TokenClaims> VerifyAccessToken(std::string_view token) const override;

  static constexpr int64_t kLeewaySeconds = 30;

 private:
  IssuerFn issuer_;
  Clock now_;
  mutable std::mutex mu_;
  std::shared_ptr<const KeySet> keys_ PALAVER_GUARDED_BY(mu_);
};

}  // namespace palaver::oidc
