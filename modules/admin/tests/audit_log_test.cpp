#include "audit_log.hpp"

#include <gtest/gtest.h>

#include "palaver/testing/store.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::admin {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(100));
    ASSERT_TRUE(store);
    db_ = std::move(*store);
    ASSERT_TRUE(db_->Migrate("admin", AuditLog::Migrations()));
    log_ = std::make_unique<AuditLog>(*db_);
  }
  palaver::testing::TempDir tmp_;
  std::unique_ptr<sdk::Store> db_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, RecordsAndListsNewestFirst) {
  ASSERT_TRUE(log_->Record({.at_ms = 1000, .actor = "root", .source = "192.0.2.1", .action = "setting.change",
                            .target = "signaling.guests_enabled", .old_value = "false", .new_value = "true"}));
  ASSERT_TRUE(log_->Record({.at_ms = 2000, .actor = "cli", .source = "local", .action = "setting.change",
                            .target = "web.camera_bitrate_kbps", .old_value = "1000", .new_value = "800"}));
  auto all = log_->Search("", 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].actor, "cli");
  EXPECT_EQ((*all)[0].new_value, "800");
  EXPECT_EQ((*all)[1].source, "192.0.2.1");
  EXPECT_EQ((*all)[1].old_value, "false");
  EXPECT_GT((*all)[0].id, (*all)[1].id);
}

TEST_F(AuditLogTest, IsDurable) {
  ASSERT_TRUE(log_->Record({.at_ms = 1, .actor = "root", .source = "::1", .action = "user.create", .target = "anna"}));
  log_.reset();
  db_.reset();
  auto store = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(100));
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Migrate("admin", AuditLog::Migrations()));
  AuditLog reopened(**store);
  auto all = reopened.Search("", 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].target, "anna");
}

TEST_F(AuditLogTest, SearchMatchesAnyColumnLiterally) {
  ASSERT_TRUE(log_->Record({.at_ms = 1, .actor = "root", .source = "::1", .action = "setting.change",
                            .target = "signaling.public_guest_access_regexp", .old_value = "^group/public/.*",
                            .new_value = "^group/100%/.*"}));
  ASSERT_TRUE(log_->Record({.at_ms = 2, .actor = "bert", .source = "::1", .action = "user.delete", .target = "carl"}));
  EXPECT_EQ(log_->Search("BERT", 10)->size(), 1u);
  EXPECT_EQ(log_->Search("regexp", 10)->size(), 1u);
  EXPECT_EQ(log_->Search("100%", 10)->size(), 1u);
  EXPECT_EQ(log_->Search("%", 10)->size(), 1u);  // a literal percent sign, not a wildcard
  EXPECT_EQ(log_->Search("_", 10)->size(), 1u);  // "user.delete" has none; the regexp key has
  EXPECT_EQ(log_->Search("nobody", 10)->size(), 0u);
  EXPECT_EQ(log_->Search("", 1)->size(), 1u);
}

TEST(AuditCsv, QuotesAndDefusesFormulas) {
  std::vector<AuditEntry> entries{{.id = 7, .at_ms = 5, .actor = "root", .source = "::1", .action = "user.create",
                                   .target = "=cmd|' /C calc'!A0", .old_value = "a \"b\"", .new_value = "x,y"}};
  std::string csv = AuditCsv(entries);
  EXPECT_EQ(csv,
            "id,at_ms,actor,source,action,target,old_value,new_value\r\n"
            "7,5,\"root\",\"::1\",\"user.create\",\"'=cmd|' /C calc'!A0\",\"a \"\"b\"\"\",\"x,y\"\r\n");
}

}  // namespace
}  // namespace palaver::admin
