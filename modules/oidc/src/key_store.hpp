// The provider's signing keys in palaver.db: generated on first start, rotated, retired keys kept
// for validation until every token they signed has expired.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "jose.hpp"
#include "palaver/sdk/store.hpp"

namespace palaver::oidc {

/// The keys in service. Value type (keys are shared handles).
struct KeySet {
  SigningKey signing;
  std::vector<SigningKey> validation;  // the signing key first, then retired ones
  /// `{"keys":[...]}` with every validation key's public JWK.
  std::string Jwks() const;
};

struct KeyPolicy {
  JwsAlg alg = JwsAlg::kES256;
  int64_t rotate_after_s = 30 * 86400;  // 0: never
  int64_t keep_retired_s = 86400;       // the longest token lifetime
};

/// Blocking (SQLite, key generation): Start or workers only.
class KeyStore {
 public:
  explicit KeyStore(sdk::Store& store) : store_(store) {}
  static std::vector<sdk::Migration> Migrations();
  /// Loads the keys, makes a new signing key when there is none, the current one is older than
  /// `rotate_after_s` or has another algorithm, and forgets keys retired over `keep_retired_s` ago.
  Result<KeySet> Ensure(const KeyPolicy& policy, int64_t now_s);
  /// A 32-byte secret by name, generated on first use and kept (cookie encryption).
  Result<std::string> Secret(const std::string& name);

 private:
  sdk::Store& store_;
};

}  // namespace palaver::oidc
