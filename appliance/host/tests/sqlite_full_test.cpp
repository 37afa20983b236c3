// A full store (SQLITE_FULL) is the server's trouble: 503 with a plain message, and the
// transaction that hit it is rolled back whole.
#include <gtest/gtest.h>

#include <string>

#include "palaver/sdk/http.hpp"
#include "palaver/testing/temp_dir.hpp"
#include "sqlite_store.hpp"

namespace palaver::host {
namespace {

TEST(SqliteStoreFull, AFullDatabaseIs503AndRollsBack) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "p.db", std::chrono::milliseconds(100));
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->Migrate("demo", {{1, "CREATE TABLE t (a TEXT)"}}));
  Status full = (*store)->With([](sdk::Db& db) -> Status {
    // The file may not grow past its present size: the next pages do not fit.
    PALAVER_ASSIGN_OR_RETURN(auto pages, db.Query("PRAGMA page_count", {}));
    PALAVER_RETURN_IF_ERROR(db.Exec("PRAGMA max_page_count = " + std::to_string(std::get<int64_t>(pages[0][0])), {}));
    return db.Transaction([](sdk::Db& tx) -> Status {
      PALAVER_RETURN_IF_ERROR(tx.Exec("INSERT INTO t(a) VALUES(?)", {std::string("first")}));
      return tx.Exec("INSERT INTO t(a) VALUES(?)", {std::string(200000, 'x')});
    });
  });
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kUnavailable) << full.error().message;
  EXPECT_NE(full.error().public_message.find("storage is full"), std::string::npos) << full.error().public_message;
  EXPECT_EQ(sdk::Response::FromError(full.error()).status, 503);

  int64_t rows = -1;
  ASSERT_TRUE((*store)->With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto r, db.Query("SELECT count(*) FROM t", {}));
    rows = std::get<int64_t>(r[0][0]);
    return OkStatus();
  }));
  EXPECT_EQ(rows, 0);  // the first insert went with the transaction
}

}  // namespace
}  // namespace palaver::host
