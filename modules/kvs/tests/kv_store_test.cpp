#include <gtest/gtest.h>

#include "kv_store.hpp"
#include "palaver/testing/store.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::kvs {
namespace {

class KvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(100));
    ASSERT_TRUE(store);
    db_ = std::move(*store);
    ASSERT_TRUE(db_->Migrate("kvs", KvStore::Migrations()));
    kv_ = std::make_unique<KvStore>(*db_);
  }
  std::vector<std::string> Keys(const Scope& s, const std::string& key) {
    std::vector<std::string> out;
    auto records = kv_->List(s, key);
    EXPECT_TRUE(records);
    if (records) {
      for (const auto& r : *records) out.push_back(r.key);
    }
    return out;
  }
  palaver::testing::TempDir tmp_;
  std::unique_ptr<sdk::Store> db_;
  std::unique_ptr<KvStore> kv_;
  Scope alice_{.owner = "alice", .client = "meet"};
};

TEST_F(KvStoreTest, PutGetReplaceDelete) {
  ASSERT_TRUE(kv_->Put(alice_, {"a/b", "{\"x\":1}", "application/json"}));
  auto r = kv_->Get(alice_, "a/b");
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->value, "{\"x\":1}");
  ASSERT_TRUE(kv_->Put(alice_, {"a/b", "bytes", "text/plain"}));
  EXPECT_EQ((*kv_->Get(alice_, "a/b"))->content_type, "text/plain");
  EXPECT_TRUE(*kv_->Delete(alice_, "a/b"));
  EXPECT_FALSE(*kv_->Delete(alice_, "a/b"));
  EXPECT_FALSE(*kv_->Get(alice_, "a/b"));
}

TEST_F(KvStoreTest, OwnersAndClientsAreSeparate) {
  ASSERT_TRUE(kv_->Put(alice_, {"c/k", "1", ""}));
  Scope bob{.owner = "bob", .client = "meet"};
  Scope other_client{.owner = "alice", .client = "other"};
  EXPECT_FALSE(*kv_->Get(bob, "c/k"));
  EXPECT_FALSE(*kv_->Get(other_client, "c/k"));
  EXPECT_TRUE(Keys(bob, "c").empty());
  EXPECT_FALSE(*kv_->Delete(bob, "c/k"));
  EXPECT_TRUE(*kv_->Get(alice_, "c/k"));
}

TEST_F(KvStoreTest, RecurseKeepsStorageOrderAndReplacedMoveToTheEnd) {
  for (const char* k : {"r/contact/1", "r/group/public/x", "r/contact/2", "other/z"}) {
    ASSERT_TRUE(kv_->Put(alice_, {k, "{}", "application/json"}));
  }
  EXPECT_EQ(Keys(alice_, "r"), (std::vector<std::string>{"r/contact/1", "r/group/public/x", "r/contact/2"}));
  ASSERT_TRUE(kv_->Put(alice_, {"r/contact/1", "{\"n\":2}", "application/json"}));
  EXPECT_EQ(Keys(alice_, "r"), (std::vector<std::string>{"r/group/public/x", "r/contact/2", "r/contact/1"}));
  EXPECT_EQ(Keys(alice_, "r/contact"), (std::vector<std::string>{"r/contact/2", "r/contact/1"}));
  // Prefix matching is literal: % and _ are not wildcards.
  ASSERT_TRUE(kv_->Put(alice_, {"r/c%/1", "{}", "application/json"}));
  EXPECT_EQ(Keys(alice_, "r/c%"), (std::vector<std::string>{"r/c%/1"}));
  EXPECT_TRUE(Keys(alice_, "nothing").empty());
}

TEST_F(KvStoreTest, BatchIsAllOrNothing) {
  ASSERT_TRUE(kv_->PutBatch(alice_, {{"b/1", "{}", "application/json"}, {"b/2", "x", "text/plain"}}));
  EXPECT_EQ(Keys(alice_, "b").size(), 2u);
  ASSERT_TRUE(db_->With([](sdk::Db& db) {
    return db.Exec("CREATE TRIGGER refuse BEFORE INSERT ON kvs_records WHEN NEW.ekey = 'b/bad' "
                   "BEGIN SELECT RAISE(ABORT, 'refused'); END");
  }));
  EXPECT_FALSE(kv_->PutBatch(alice_, {{"b/3", "{}", "application/json"}, {"b/bad", "{}", "application/json"}}));
  EXPECT_EQ(Keys(alice_, "b").size(), 2u);  // b/3 rolled back
}

TEST(KvCollection, FirstSegmentOnlyForMultiSegmentKeys) {
  EXPECT_EQ(CollectionOf("a/b/c"), "a");
  EXPECT_EQ(CollectionOf("single"), "");
}

}  // namespace
}  // namespace palaver::kvs
