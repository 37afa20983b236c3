#include <gtest/gtest.h>

#include "local_store.hpp"
#include "palaver/testing/store.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::directory {
namespace {

constexpr HashCost kFast{1, 256, 1};

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(100));
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(LocalUserStore::MigrateAll(*store_));
    users_ = std::make_unique<LocalUserStore>(*store_, kFast);
  }
  sdk::DirectoryUser Add(const std::string& name, const std::string& display, const std::string& mail,
                         const std::string& pw = "pw") {
    auto u = users_->Add({.username = name, .display_name = display, .mail = mail}, pw);
    EXPECT_TRUE(u) << (u ? "" : u.error().message);
    return u ? *u : sdk::DirectoryUser{};
  }
  palaver::testing::TempDir tmp_;
  std::unique_ptr<sdk::Store> store_;
  std::unique_ptr<LocalUserStore> users_;
};

TEST_F(LocalStoreTest, AddGetAndAuthenticate) {
  auto alice = Add("alice", "Alice Adams", "alice@example.org", "s3cret");
  EXPECT_EQ(alice.id.size(), 22u);
  EXPECT_EQ(users_->GetById(alice.id)->username, "alice");
  EXPECT_EQ(users_->GetByUsername("ALICE")->id, alice.id);  // case-insensitive
  auto ok = users_->Authenticate("Alice", "s3cret");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->id, alice.id);
  EXPECT_EQ(users_->GetById("nope").error().code, ErrorCode::kNotFound);
}

TEST_F(LocalStoreTest, FailedAuthenticationNeverSaysWhy) {
  Add("bob", "Bob", "bob@example.org", "right");
  auto wrong_pw = users_->Authenticate("bob", "wrong");
  auto unknown = users_->Authenticate("nobody", "right");
  auto bad_name = users_->Authenticate("' OR 1=1 --", "right");
  ASSERT_TRUE(users_->SetEnabled("bob", false));
  auto disabled = users_->Authenticate("bob", "right");
  for (const auto* r : {&wrong_pw, &unknown, &bad_name, &disabled}) {
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().code, ErrorCode::kUnauthenticated);
    EXPECT_EQ(r->error().public_message, "invalid username or password");
  }
  ASSERT_TRUE(users_->SetEnabled("bob", true));
  EXPECT_TRUE(users_->Authenticate("bob", "right"));
}

TEST_F(LocalStoreTest, DuplicateAndInvalidUsersAreRefused) {
  Add("carol", "Carol", "");
  auto dup = users_->Add({.username = "CAROL"}, "pw");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  for (const char* bad : {"", "-dash", "with space", "semi;colon", "a/b", "x'--"}) {
    EXPECT_FALSE(users_->Add({.username = bad}, "pw")) << bad;
  }
  EXPECT_FALSE(users_->Add({.username = std::string(65, 'a')}, "pw"));
  EXPECT_FALSE(users_->Add({.username = "dave", .display_name = "line\nbreak"}, "pw"));
  EXPECT_FALSE(users_->Add({.username = "erin"}, ""));
  EXPECT_EQ(*users_->Count(), 1);
}

// The start creates an administrator while this is 0 (issue 11, defect 6).
TEST_F(LocalStoreTest, CountAdminsCountsEnabledAdministratorsOnly) {
  Add("anna", "Anna", "");
  EXPECT_EQ(*users_->CountAdmins(), 0);
  ASSERT_TRUE(users_->Add({.username = "root", .is_admin = true}, "pw"));
  EXPECT_EQ(*users_->CountAdmins(), 1);
  ASSERT_TRUE(users_->SetEnabled("root", false));
  EXPECT_EQ(*users_->CountAdmins(), 0);
  ASSERT_TRUE(users_->SetEnabled("root", true));
  ASSERT_TRUE(users_->Remove("root"));
  EXPECT_EQ(*users_->CountAdmins(), 0);
}

TEST_F(LocalStoreTest, SearchMatchesLiterallyAndPages) {
  Add("anna", "Anna Apfel", "anna@example.org");
  Add("bert", "Bert Birne", "bert@example.org");
  Add("carl", "Carl 100% Kirsch", "carl@example.org");
  Add("dora_x", "Dora", "dora@example.org");
  auto all = users_->Search("", 0, 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->users.size(), 4u);
  EXPECT_EQ(all->users[0].display_name, "Anna Apfel");  // by display name
  EXPECT_FALSE(all->more);
  EXPECT_EQ(users_->Search("BIRNE", 0, 10)->users.size(), 1u);
  EXPECT_EQ(users_->Search("%", 0, 10)->users.size(), 1u);   // only Carl has a literal %
  EXPECT_EQ(users_->Search("_", 0, 10)->users.size(), 1u);   // only dora_x has a literal _
  EXPECT_EQ(users_->Search("' OR '1'='1", 0, 10)->users.size(), 0u);
  auto page1 = users_->Search("example", 0, 3);
  EXPECT_EQ(page1->users.size(), 3u);
  EXPECT_TRUE(page1->more);
  auto page2 = users_->Search("example", 3, 3);
  EXPECT_EQ(page2->users.size(), 1u);
  EXPECT_FALSE(page2->more);
  ASSERT_TRUE(users_->SetEnabled("anna", false));
  EXPECT_EQ(users_->Search("", 0, 10)->users.size(), 3u);  // disabled users are not listed
  EXPECT_FALSE(users_->Search("", 0, 0));
  EXPECT_FALSE(users_->Search(std::string(300, 'x'), 0, 10));
}

TEST_F(LocalStoreTest, PasswordChangeAndRemoval) {
  Add("frank", "Frank", "", "old");
  ASSERT_TRUE(users_->SetPassword("frank", "new"));
  EXPECT_FALSE(users_->Authenticate("frank", "old"));
  EXPECT_TRUE(users_->Authenticate("frank", "new"));
  EXPECT_EQ(users_->SetPassword("ghost", "x").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(users_->Remove("frank"));
  EXPECT_EQ(users_->Remove("frank").error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(users_->GetByUsername("frank"));
  EXPECT_EQ(users_->Photo("x").error().code, ErrorCode::kNotFound);
}

// A password change and disabling raise the session epoch (which ends every session and token
// issued before); re-enabling does not bring them back; a removed user has no standing.
TEST_F(LocalStoreTest, SessionEpochsEndSessions) {
  Add("iris", "Iris", "", "pw");
  auto id = users_->GetByUsername("iris")->id;
  auto s0 = users_->Standing(id);
  ASSERT_TRUE(s0);
  EXPECT_TRUE(s0->enabled);
  EXPECT_EQ(s0->session_epoch, 0);
  ASSERT_TRUE(users_->SetPassword("IRIS", "pw2"));  // usernames are case-insensitive
  EXPECT_EQ(users_->Standing(id)->session_epoch, 1);
  ASSERT_TRUE(users_->SetEnabled("iris", false));
  auto s2 = users_->Standing(id);
  EXPECT_FALSE(s2->enabled);
  EXPECT_EQ(s2->session_epoch, 2);
  ASSERT_TRUE(users_->SetEnabled("iris", true));
  EXPECT_EQ(users_->Standing(id)->session_epoch, 2);
  Add("jack", "Jack", "", "pw");
  EXPECT_EQ(users_->Standing(users_->GetByUsername("jack")->id)->session_epoch, 0);  // per user
  ASSERT_TRUE(users_->Remove("iris"));
  EXPECT_EQ(users_->Standing(id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(users_->SetPassword("iris", "x").error().code, ErrorCode::kNotFound);
}

TEST_F(LocalStoreTest, BusyDatabaseIsAnErrorNotAHang) {
  Add("gina", "Gina", "");
  auto other = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(50));
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->With([](sdk::Db& db) { return db.Exec("BEGIN IMMEDIATE"); }));
  auto added = users_->Add({.username = "hank"}, "pw");
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, ErrorCode::kUnavailable);
  ASSERT_TRUE((*other)->With([](sdk::Db& db) { return db.Exec("ROLLBACK"); }));
  EXPECT_TRUE(users_->Add({.username = "hank"}, "pw"));
}

}  // namespace
}  // namespace palaver::directory
