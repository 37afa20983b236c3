#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "sqlite_store.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::host {
namespace {

using testing::TempDir;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SqliteStore, MigratesOncePerVersion) {
  TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "p.db", std::chrono::milliseconds(100));
  ASSERT_TRUE(store) << store.error().message;
  std::vector<sdk::Migration> v1 = {{1, "CREATE TABLE t (a INTEGER)"}};
  ASSERT_TRUE((*store)->Migrate("demo", v1));
  ASSERT_TRUE((*store)->Migrate("demo", v1));  // idempotent
  std::vector<sdk::Migration> v2 = {{1, "CREATE TABLE t (a INTEGER)"}, {2, "ALTER TABLE t ADD COLUMN b TEXT"}};
  ASSERT_TRUE((*store)->Migrate("demo", v2));
  ASSERT_TRUE((*store)->With([](sdk::Db& db) { return db.Exec("INSERT INTO t(a, b) VALUES(?, ?)", {int64_t{1}, std::string("x")}); }));
  // An older binary refuses a newer schema.
  auto older = (*store)->Migrate("demo", v1);
  ASSERT_FALSE(older);
  EXPECT_NE(older.error().message.find("newer than this palaverd knows"), std::string::npos);
}

TEST(SqliteStore, FailedMigrationRollsBack) {
  TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "p.db", std::chrono::milliseconds(100));
  ASSERT_TRUE(store);
  auto st = (*store)->Migrate("demo", {{1, "CREATE TABLE t (a INTEGER); THIS IS NOT SQL"}});
  ASSERT_FALSE(st);
  // The query's own status is checked: a failed SELECT returns no rows too, and must not pass as
  // "rolled back".
  auto tables_named_t = [&] {
    std::vector<sdk::SqlRow> out;
    Status q = (*store)->With([&](sdk::Db& db) -> Status {
      PALAVER_ASSIGN_OR_RETURN(out, db.Query("SELECT name FROM sqlite_master WHERE name = 't'"));
      return OkStatus();
    });
    EXPECT_TRUE(q) << q.error().message;
    return out;
  };
  EXPECT_TRUE(tables_named_t().empty());
  // Version 1 was not recorded either: the same migration, fixed, runs and creates the table.
  ASSERT_TRUE((*store)->Migrate("demo", {{1, "CREATE TABLE t (a INTEGER)"}}));
  EXPECT_EQ(tables_named_t().size(), 1u);
}

TEST(SqliteStore, RefusesCorruptFileAndLeavesItUntouched) {
  TempDir dir;
  auto path = dir.path() / "p.db";
  {
    std::ofstream out(path, std::ios::binary);
    out << "this is not a database, but someone's data";
  }
  std::string before = ReadAll(path);
  auto store = SqliteStore::Open(path, std::chrono::milliseconds(100));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(store.error().message.find("left untouched"), std::string::npos);
  EXPECT_EQ(ReadAll(path), before);
}

TEST(SqliteStore, RefusesTruncatedDatabase) {
  TempDir dir;
  auto path = dir.path() / "p.db";
  {
    auto store = SqliteStore::Open(path, std::chrono::milliseconds(100));
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->Migrate("demo", {{1, "CREATE TABLE t (a TEXT); INSERT INTO t VALUES (hex(randomblob(20000)));"}}));
    ASSERT_TRUE((*store)->With([](sdk::Db& db) { return db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); }));
  }
  std::filesystem::resize_file(path, 6000);
  std::string before = ReadAll(path);
  auto store = SqliteStore::Open(path, std::chrono::milliseconds(100));
  ASSERT_FALSE(store);
  EXPECT_EQ(ReadAll(path), before);
}

TEST(SqliteStore, BusyDatabaseIsUnavailableNotAHang) {
  TempDir dir;
  auto path = dir.path() / "p.db";
  auto store = SqliteStore::Open(path, std::chrono::milliseconds(50));
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Migrate("demo", {{1, "CREATE TABLE t (a INTEGER)"}}));
  auto other = SqliteStore::Open(path, std::chrono::milliseconds(50));
  ASSERT_TRUE(other);
  // Hold a write lock on one connection; a write from another must fail with kUnavailable.
  ASSERT_TRUE((*store)->With([](sdk::Db& db) { return db.Exec("BEGIN IMMEDIATE"); }));
  Status st = (*other)->With([](sdk::Db& db) { return db.Exec("INSERT INTO t VALUES (?)", {int64_t{1}}); });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(st.error().public_message, "storage error");  // no SQL details for clients
  ASSERT_TRUE((*store)->With([](sdk::Db& db) { return db.Exec("ROLLBACK"); }));
}

}  // namespace
}  // namespace palaver::host
