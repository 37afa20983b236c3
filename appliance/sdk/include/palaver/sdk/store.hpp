// The SQLite store: one database file, versioned migrations per module.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "palaver/sdk/status.hpp"

struct sqlite3;

namespace palaver::sdk {

/// A schema step of one module. Versions start at 1 and increase by one.
struct Migration {
  int version = 0;
  std::string sql;  // one or more statements
};

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;
using SqlRow = std::vector<SqlValue>;

/// A column as text (empty for NULL or a number).
inline std::string SqlText(const SqlValue& v) {
  return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : std::string();
}
/// A column as an integer (0 for NULL or text).
inline int64_t SqlInt(const SqlValue& v) { return std::holds_alternative<int64_t>(v) ? std::get<int64_t>(v) : 0; }

/// A connection for the calling worker thread.
/// Thread: the worker that obtained it, for the duration of the callback.
class Db {
 public:
  virtual ~Db() = default;
  virtual Status Exec(const std::string& sql, const std::vector<SqlValue>& params = {}) = 0;
  virtual Result<std::vector<SqlRow>> Query(const std::string& sql,
                                            const std::vector<SqlValue>& params = {}) = 0;
  /// Runs `fn` inside BEGIN IMMEDIATE … COMMIT; rolls back when it fails.
  virtual Status Transaction(const std::function<Status(Db&)>& fn) = 0;
  virtual int64_t LastInsertRowId() = 0;
  virtual int Changes() = 0;
};

/// The store. Thread-safe, but blocking: use only from workers (or during Start).
class Store {
 public:
  virtual ~Store() = default;
  /// Applies the migrations of `module_id` newer than the recorded version, each in a transaction.
  virtual Status Migrate(const std::string& module_id, const std::vector<Migration>& migrations) = 0;
  /// Runs `fn` with this thread's connection.
  virtual Status With(const std::function<Status(Db&)>& fn) = 0;
};

}  // namespace palaver::sdk
