// The SQLite store (WAL, busy timeout, per-module versioned migrations).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <thread>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/store.hpp"

namespace palaver::host {

/// Thread-safe: each thread gets its own connection (opened on first use). Blocking.
class SqliteStore final : public sdk::Store {
 public:
  /// Opens (creating if missing) and checks the database; refuses a corrupt or non-SQLite file
  /// without touching it.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& path,
                                                   std::chrono::milliseconds busy_timeout);
  ~SqliteStore() override;

  Status Migrate(const std::string& module_id, const std::vector<sdk::Migration>& migrations) override;
  Status With(const std::function<Status(sdk::Db&)>& fn) override;
  const std::filesystem::path& Path() const { return path_; }

 private:
  class Conn;
  SqliteStore(std::filesystem::path path, std::chrono::milliseconds busy_timeout);
  Result<Conn*> ForThisThread();

  std::filesystem::path path_;
  std::chrono::milliseconds busy_timeout_;
  std::mutex mu_;
  std::unordered_map<std::thread::id, std::unique_ptr<Conn>> conns_ PALAVER_GUARDED_BY(mu_);
};

}  // namespace palaver::host
