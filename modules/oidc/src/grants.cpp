#include "grants.hpp"

#include "palaver/sdk/encoding.hpp"

namespace palaver::oidc {

void CodeStore::Prune(int64_t now_s) {
  while (!order_.empty() && (order_.front().first <= now_s || codes_.size() > max_codes_)) {
    codes_.erase(order_.front().second);
    order_.pop_front();
  }
  // Codes taken early leave stale order entries; bound them too.
  if (order_.size() > 2 * max_codes_ + 16) {
    std::deque<std::pair<int64_t, std::string>> kept;
    for (auto& entry : order_) {
      if (codes_.count(entry.second)) kept.push_back(std::move(entry));
    }
    order_ = std::move(kept);
  }
}

std::string CodeStore::Put(AuthCode code, int64_t now_s) {
  Prune(now_s);
  std::string value = sdk::RandomToken(18);  // 24 characters, as konnect's
  code.expires_at = now_s + kLifetimeSeconds;
  order_.emplace_back(code.expires_at, value);
  codes_.emplace(value, std::move(code));
  Prune(now_s);
  return value;
}

std::optional<AuthCode> CodeStore::Take(const std::string& code, int64_t now_s) {
  auto it = codes_.find(code);
  if (it == codes_.end()) return std::nullopt;
  AuthCode out = std::move(it->second);
  codes_.erase(it);
  if (out.expires_at <= now_s) return std::nullopt;
  return out;
}

std::vector<sdk::Migration> RefreshStore::Migrations() {
  return {{1,
           "CREATE TABLE oidc_refresh_tokens ("
           " jti TEXT PRIMARY KEY, family TEXT NOT NULL, client_id TEXT NOT NULL, user_id TEXT NOT NULL,"
           " expires_at INTEGER NOT NULL, used_at INTEGER);"
           "CREATE INDEX oidc_refresh_tokens_family ON oidc_refresh_tokens(family)"}};
}

Status RefreshStore::Record(const std::string& jti, const std::string& family, const std::string& client_id,
                            const std::string& user_id, int64_t expires_at) {
  return store_.With([&](sdk::Db& db) {
    return db.Exec("INSERT INTO oidc_refresh_tokens(jti, family, client_id, user_id, expires_at) VALUES(?, ?, ?, ?, ?)",
                   {jti, family, client_id, user_id, expires_at});
  });
}

Result<RefreshStore::Use> RefreshStore::Consume(const std::string& jti, int64_t now_s) {
  Use use = Use::kUnknown;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    return db.Transaction([&](sdk::Db& tx) -> Status {
      PALAVER_RETURN_IF_ERROR(tx.Exec(
          "UPDATE oidc_refresh_tokens SET used_at = ? WHERE jti = ? AND used_at IS NULL AND expires_at > ?",
          {now_s, jti, now_s}));
      if (tx.Changes() == 1) {
        use = Use::kOk;
        return OkStatus();
      }
      PALAVER_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT family, used_at FROM oidc_refresh_tokens WHERE jti = ?", {jti}));
      if (rows.empty() || std::holds_alternative<std::nullptr_t>(rows[0][1])) {
        use = Use::kUnknown;
        return OkStatus();
      }
      use = Use::kReused;
      return tx.Exec("DELETE FROM oidc_refresh_tokens WHERE family = ?", {sdk::SqlText(rows[0][0])});
    });
  }));
  return use;
}

Status RefreshStore::Prune(int64_t now_s) {
  return store_.With([&](sdk::Db& db) { return db.Exec("DELETE FROM oidc_refresh_tokens WHERE expires_at <= ?", {now_s}); });
}

std::vector<sdk::Migration> SessionStore::Migrations() {
  return {{1,
           "CREATE TABLE oidc_sessions ("
           " sid TEXT PRIMARY KEY, user_id TEXT NOT NULL, epoch INTEGER NOT NULL, expires_at INTEGER NOT NULL)"}};
}

Status SessionStore::Add(const std::string& sid, const std::string& user_id, int64_t epoch, int64_t expires_at) {
  return store_.With([&](sdk::Db& db) {
    return db.Exec("INSERT INTO oidc_sessions(sid, user_id, epoch, expires_at) VALUES(?, ?, ?, ?)",
                   {sid, user_id, epoch, expires_at});
  });
}

Result<std::optional<int64_t>> SessionStore::Epoch(const std::string& sid, const std::string& user_id, int64_t now_s) {
  std::optional<int64_t> epoch;
  if (sid.empty()) return epoch;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT epoch FROM oidc_sessions WHERE sid = ? AND user_id = ? AND"
                                                 " expires_at > ?", {sid, user_id, now_s}));
    if (!rows.empty()) epoch = sdk::SqlInt(rows[0][0]);
    return OkStatus();
  }));
  return epoch;
}

Status SessionStore::End(const std::string& sid) {
  return store_.With([&](sdk::Db& db) { return db.Exec("DELETE FROM oidc_sessions WHERE sid = ?", {sid}); });
}

Status SessionStore::Prune(int64_t now_s) {
  return store_.With([&](sdk::Db& db) { return db.Exec("DELETE FROM oidc_sessions WHERE expires_at <= ?", {now_s}); });
}

}  // namespace palaver::oidc
