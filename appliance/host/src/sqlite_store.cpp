#include "sqlite_store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>

#include <spdlog/spdlog.h>

#include "logging.hpp"

namespace palaver::host {
namespace {

// A full disk (ENOSPC: SQLITE_FULL) or a refused write (EFBIG past RLIMIT_FSIZE, EIO:
// SQLITE_IOERR) is the server's trouble, not the client's: 503 with a plain public message, and
// an error line in the log (at most one every 10 s, so a full disk does not flood the log that
// shares it). SQLite rolls the transaction back; nothing is half-written.
Error StorageError(int rc, const std::string& detail) {
  const int primary = rc & 0xff;
  if (primary == SQLITE_FULL || primary == SQLITE_IOERR) {
    static std::atomic<int64_t> last_log_ms{-1000000};
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    int64_t last = last_log_ms.load();
    if (now - last >= 10000 && last_log_ms.compare_exchange_strong(last, now)) {
      GetLogger("palaver")->error("storage write failed: {} ({}); requests that change data get 503 until it is fixed",
                                  primary == SQLITE_FULL ? "the disk is full" : "I/O error (disk full or file size limit?)",
                                  detail);
    }
    return Error{ErrorCode::kUnavailable, detail,
                 primary == SQLITE_FULL ? "the server's storage is full; try again later"
                                        : "the server cannot write its storage; try again later"};
  }
  ErrorCode code;
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = ErrorCode::kUnavailable; break;
    case SQLITE_CONSTRAINT: code = ErrorCode::kAlreadyExists; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = ErrorCode::kDataLoss; break;
    default: code = ErrorCode::kInternal;
  }
  return Error{code, detail, "storage error"};
}

}  // namespace

class SqliteStore::Conn final : public sdk::Db {
 public:
  explicit Conn(sqlite3* db) : db_(db) {}
  ~Conn() override { sqlite3_close_v2(db_); }

  Status Exec(const std::string& sql, const std::vector<sdk::SqlValue>& params) override {
    if (params.empty()) {
      char* err = nullptr;
      int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
      if (rc != SQLITE_OK) {
        std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        return Fail(StorageError(rc, "sqlite: " + msg));
      }
      return OkStatus();
    }
    auto rows = Query(sql, params);
    if (!rows) return Fail(rows.error());
    return OkStatus();
  }

  Result<std::vector<sdk::SqlRow>> Query(const std::string& sql,
                                         const std::vector<sdk::SqlValue>& params) override {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return Fail(StorageError(rc, std::string("sqlite prepare: ") + sqlite3_errmsg(db_)));
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, sqlite3_finalize);
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      const auto& p = params[i];
      if (std::holds_alternative<std::nullptr_t>(p)) rc = sqlite3_bind_null(stmt, idx);
      else if (std::holds_alternative<int64_t>(p)) rc = sqlite3_bind_int64(stmt, idx, std::get<int64_t>(p));
      else if (std::holds_alternative<double>(p)) rc = sqlite3_bind_double(stmt, idx, std::get<double>(p));
      else {
        const auto& s = std::get<std::string>(p);
        rc = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
      if (rc != SQLITE_OK) return Fail(ErrorCode::kInternal, std::string("sqlite bind: ") + sqlite3_errmsg(db_), "storage error");
    }
    std::vector<sdk::SqlRow> rows;
    for (;;) {
      rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Fail(StorageError(rc, std::string("sqlite step: ") + sqlite3_errmsg(db_)));
      int cols = sqlite3_column_count(stmt);
      sdk::SqlRow row;
      row.reserve(static_cast<size_t>(cols));
      for (int c = 0; c < cols; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL: row.emplace_back(nullptr); break;
          case SQLITE_INTEGER: row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c))); break;
          case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(stmt, c)); break;
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_blob(stmt, c));
            int n = sqlite3_column_bytes(stmt, c);
            row.emplace_back(std::string(text != nullptr ? text : "", static_cast<size_t>(n)));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Status Transaction(const std::function<Status(sdk::Db&)>& fn) override {
    PALAVER_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", {}));
    Status st = fn(*this);
    if (!st) {
      (void)Exec("ROLLBACK", {});
      return st;
    }
    Status commit = Exec("COMMIT", {});
    if (!commit) (void)Exec("ROLLBACK", {});
    return commit;
  }

  int64_t LastInsertRowId() override { return sqlite3_last_insert_rowid(db_); }
  int Changes() override { return sqlite3_changes(db_); }


 private:
  sqlite3* db_;
};

SqliteStore::SqliteStore(std::filesystem::path path, std::chrono::milliseconds busy_timeout)
    : path_(std::move(path)), busy_timeout_(busy_timeout) {}

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::filesystem::path& path,
                                                       std::chrono::milliseconds busy_timeout) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, busy_timeout));
  // Open and check on this thread; the connection is then owned by this thread's slot.
  PALAVER_ASSIGN_OR_RETURN(Conn * conn, store->ForThisThread());
  auto check = conn->Query("PRAGMA quick_check", {});
  if (!check) {
    return Fail(ErrorCode::kDataLoss, "database " + path.string() + " is unreadable or corrupt (" +
                                          check.error().message + "); it was left untouched");
  }
  if (check->empty() || !std::holds_alternative<std::string>((*check)[0][0]) ||
      std::get<std::string>((*check)[0][0]) != "ok") {
    return Fail(ErrorCode::kDataLoss, "database " + path.string() + " failed its integrity check; it was left untouched");
  }
  PALAVER_RETURN_IF_ERROR(conn->Exec(
      "CREATE TABLE IF NOT EXISTS schema_versions (module TEXT PRIMARY KEY, version INTEGER NOT NULL)", {}));
  return store;
}

Result<SqliteStore::Conn*> SqliteStore::ForThisThread() {
  std::lock_guard lock(mu_);
  auto& slot = conns_[std::this_thread::get_id()];
  if (slot) return slot.get();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    conns_.erase(std::this_thread::get_id());
    return Fail(ErrorCode::kUnavailable, "cannot open database " + path_.string() + ": " + msg);
  }
  ::chmod(path_.c_str(), 0600);
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout_.count()));
  auto conn = std::make_unique<Conn>(db);
  // journal_mode=WAL touches the file: it fails (and we stop) on a file that is not a database.
  auto wal = conn->Query("PRAGMA journal_mode=WAL", {});
  if (!wal) {
    conns_.erase(std::this_thread::get_id());
    return Fail(ErrorCode::kDataLoss, "database " + path_.string() + " is not a valid SQLite database (" +
                                          wal.error().message + "); it was left untouched");
  }
  // synchronous=FULL: every COMMIT syncs the WAL before it returns, so a write answered with
  // success survives a power loss too (NORMAL survives kill -9 and crashes of palaverd, but may
  // lose the last commits when the machine loses power). One fsync per write transaction; writes
  // are rare (sign-ins, tokens, kvs, settings) next to reads. docs/security.md, "Crash safety".
  Status st = conn->Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", {});
  if (!st) {
    conns_.erase(std::this_thread::get_id());
    return Fail(st.error());
  }
  slot = std::move(conn);
  return slot.get();
}

Status SqliteStore::With(const std::function<Status(sdk::Db&)>& fn) {
  PALAVER_ASSIGN_OR_RETURN(Conn * conn, ForThisThread());
  return fn(*conn);
}

Status SqliteStore::Migrate(const std::string& module_id, const std::vector<sdk::Migration>& migrations) {
  return With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT version FROM schema_versions WHERE module = ?", {module_id}));
    int64_t current = rows.empty() ? 0 : std::get<int64_t>(rows[0][0]);
    int64_t expected = 1;
    for (const auto& m : migrations) {
      if (m.version != expected++) {
        return Fail(ErrorCode::kInternal, "migrations of " + module_id + " are not numbered 1, 2, 3, ...");
      }
    }
    if (current > static_cast<int64_t>(migrations.size())) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "database schema of " + module_id + " is version " + std::to_string(current) +
                      ", newer than this palaverd knows (" + std::to_string(migrations.size()) +
                      "); refusing to run an older version on it");
    }
    for (const auto& m : migrations) {
      if (m.version <= current) continue;
      PALAVER_RETURN_IF_ERROR(db.Transaction([&](sdk::Db& tx) -> Status {
        PALAVER_RETURN_IF_ERROR(tx.Exec(m.sql, {}));
        return tx.Exec("INSERT INTO schema_versions(module, version) VALUES(?, ?) "
                       "ON CONFLICT(module) DO UPDATE SET version = excluded.version",
                       {module_id, static_cast<int64_t>(m.version)});
      }));
    }
    return OkStatus();
  });
}

}  // namespace palaver::host

#include "palaver/host/store_factory.hpp"

namespace palaver::host {

Result<std::unique_ptr<sdk::Store>> OpenSqliteStore(const std::filesystem::path& path,
                                                    std::chrono::milliseconds busy_timeout) {
  PALAVER_ASSIGN_OR_RETURN(auto store, SqliteStore::Open(path, busy_timeout));
  return std::unique_ptr<sdk::Store>(std::move(store));
}

}  // namespace palaver::host
