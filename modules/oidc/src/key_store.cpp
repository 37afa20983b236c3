#include "key_store.hpp"

namespace palaver::oidc {
namespace {

std::string NewKid() { return sdk::RandomToken(9); }

}  // namespace

std::string KeySet::Jwks() const {
  std::string out = "{\"keys\":[";
  for (size_t i = 0; i < validation.size(); ++i) out += (i ? "," : "") + validation[i].PublicJwk();
  return out + "]}";
}

std::vector<sdk::Migration> KeyStore::Migrations() {
  return {{1,
           "CREATE TABLE oidc_signing_keys ("
           " kid TEXT PRIMARY KEY, alg TEXT NOT NULL, private_pem TEXT NOT NULL,"
           " created_at INTEGER NOT NULL, retired_at INTEGER)"},
          {2, "CREATE TABLE oidc_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)"}};
}

Result<std::string> KeyStore::Secret(const std::string& name) {
  std::string value;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    return db.Transaction([&](sdk::Db& tx) -> Status {
      PALAVER_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT value FROM oidc_secrets WHERE name = ?", {name}));
      if (!rows.empty()) {
        auto decoded = sdk::Base64UrlDecode(std::get<std::string>(rows[0][0]));
        if (!decoded || decoded->size() != 32) return Fail(ErrorCode::kDataLoss, "secret " + name + " is damaged");
        value = *decoded;
        return OkStatus();
      }
      std::string fresh = sdk::RandomToken(32);
      value = *sdk::Base64UrlDecode(fresh);
      return tx.Exec("INSERT INTO oidc_secrets(name, value) VALUES(?, ?)", {name, fresh});
    });
  }));
  return value;
}

Result<KeySet> KeyStore::Ensure(const KeyPolicy& policy, int64_t now_s) {
  std::optional<KeySet> result;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    return db.Transaction([&](sdk::Db& tx) -> Status {
      PALAVER_RETURN_IF_ERROR(tx.Exec("DELETE FROM oidc_signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?",
                                      {now_s - policy.keep_retired_s}));
      PALAVER_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT kid, alg, private_pem, created_at FROM oidc_signing_keys"
                                                   " WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1"));
      bool need_new = rows.empty();
      if (!rows.empty()) {
        auto alg = ParseAlg(std::get<std::string>(rows[0][1]));
        int64_t created = std::get<int64_t>(rows[0][3]);
        need_new = !alg || *alg != policy.alg || (policy.rotate_after_s > 0 && now_s - created >= policy.rotate_after_s);
      }
      if (need_new) {
        PALAVER_RETURN_IF_ERROR(tx.Exec("UPDATE oidc_signing_keys SET retired_at = ? WHERE retired_at IS NULL", {now_s}));
        PALAVER_ASSIGN_OR_RETURN(SigningKey fresh, SigningKey::Generate(policy.alg, NewKid()));
        PALAVER_RETURN_IF_ERROR(tx.Exec("INSERT INTO oidc_signing_keys(kid, alg, private_pem, created_at) VALUES(?, ?, ?, ?)",
                                        {fresh.kid(), std::string(AlgName(policy.alg)), fresh.PrivatePem(), now_s}));
      }
      PALAVER_ASSIGN_OR_RETURN(auto all, tx.Query("SELECT kid, alg, private_pem FROM oidc_signing_keys"
                                                  " ORDER BY retired_at IS NOT NULL, created_at DESC"));
      std::vector<SigningKey> keys;
      for (const auto& r : all) {
        auto alg = ParseAlg(std::get<std::string>(r[1]));
        if (!alg) return Fail(ErrorCode::kDataLoss, "signing key " + std::get<std::string>(r[0]) + " has unknown alg");
        PALAVER_ASSIGN_OR_RETURN(SigningKey k,
                                 SigningKey::FromPrivatePem(std::get<std::string>(r[2]), *alg, std::get<std::string>(r[0])));
        keys.push_back(std::move(k));
      }
      if (keys.empty()) return Fail(ErrorCode::kInternal, "no signing key after ensuring one");
      result = KeySet{keys.front(), std::move(keys)};
      return OkStatus();
    });
  }));
  return *result;
}

}  // namespace palaver::oidc
