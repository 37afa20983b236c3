#include "kv_store.hpp"

namespace palaver::kvs {
namespace {

Status PutOne(sdk::Db& db, const Scope& scope, const Record& r) {
  return db.Exec(
      "INSERT OR REPLACE INTO kvs_records(realm, owner_id, client_id, collection, ekey, value, content_type)"
      " VALUES(?, ?, ?, ?, ?, ?, ?)",
      {scope.realm, scope.owner, scope.client, CollectionOf(r.key), r.key, r.value, r.content_type});
}

Record FromRow(const sdk::SqlRow& row) { return Record{sdk::SqlText(row[0]), sdk::SqlText(row[1]), sdk::SqlText(row[2])}; }

}  // namespace

std::string CollectionOf(const std::string& key) {
  auto slash = key.find('/');
  return slash == std::string::npos ? std::string() : key.substr(0, slash);
}

std::vector<sdk::Migration> KvStore::Migrations() {
  return {{1,
           "CREATE TABLE kvs_records ("
           " id INTEGER PRIMARY KEY AUTOINCREMENT,"
           " realm TEXT NOT NULL, owner_id TEXT NOT NULL, client_id TEXT NOT NULL,"
           " collection TEXT NOT NULL, ekey TEXT NOT NULL, value BLOB NOT NULL, content_type TEXT NOT NULL,"
           " UNIQUE(realm, owner_id, client_id, ekey));"
           "CREATE INDEX kvs_records_collection ON kvs_records(realm, owner_id, client_id, collection, id);"}};
}

Status KvStore::Put(const Scope& scope, const Record& record) {
  return store_.With([&](sdk::Db& db) { return PutOne(db, scope, record); });
}

Status KvStore::PutBatch(const Scope& scope, const std::vector<Record>& records) {
  return store_.With([&](sdk::Db& db) {
    return db.Transaction([&](sdk::Db& tx) -> Status {
      for (const auto& r : records) PALAVER_RETURN_IF_ERROR(PutOne(tx, scope, r));
      return OkStatus();
    });
  });
}

Result<std::optional<Record>> KvStore::Get(const Scope& scope, const std::string& key) {
  std::optional<Record> out;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT ekey, value, content_type FROM kvs_records"
                                                 " WHERE realm = ? AND owner_id = ? AND client_id = ? AND ekey = ?",
                                                 {scope.realm, scope.owner, scope.client, key}));
    if (!rows.empty()) out = FromRow(rows[0]);
    return OkStatus();
  }));
  return out;
}

Result<std::vector<Record>> KvStore::List(const Scope& scope, const std::string& key) {
  std::string collection = key.find('/') == std::string::npos ? key : CollectionOf(key);
  bool filter = key.find('/') != std::string::npos;
  std::string prefix = key + "/";
  std::vector<Record> out;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    // substr(...) = prefix rather than LIKE: keys may contain % and _.
    PALAVER_ASSIGN_OR_RETURN(
        auto rows,
        db.Query("SELECT ekey, value, content_type FROM kvs_records WHERE realm = ?1 AND owner_id = ?2 AND"
                 " client_id = ?3 AND collection = ?4 AND (?5 = 0 OR substr(ekey, 1, length(?6)) = ?6)"
                 " ORDER BY id LIMIT ?7",
                 {scope.realm, scope.owner, scope.client, collection, static_cast<int64_t>(filter ? 1 : 0), prefix,
                  static_cast<int64_t>(kMaxRecurse)}));
    for (const auto& r : rows) out.push_back(FromRow(r));
    return OkStatus();
  }));
  return out;
}

Result<bool> KvStore::Delete(const Scope& scope, const std::string& key) {
  bool removed = false;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_RETURN_IF_ERROR(db.Exec("DELETE FROM kvs_records WHERE realm = ? AND owner_id = ? AND client_id = ? AND ekey = ?",
                                    {scope.realm, scope.owner, scope.client, key}));
    removed = db.Changes() > 0;
    return OkStatus();
  }));
  return removed;
}

}  // namespace palaver::kvs
