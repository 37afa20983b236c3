// The read-only user admin over a directory managed elsewhere (LDAP).
#include "user_admin.hpp"

#include <gtest/gtest.h>

namespace palaver::directory {
namespace {

// A directory of `n` users named u0000…, searched in pages as LDAP's adapter answers.
class FakeDirectory final : public sdk::UserDirectory {
 public:
  explicit FakeDirectory(size_t n) {
    for (size_t i = n; i-- > 0;) {
      std::string digits = std::to_string(i);
      std::string name = "u" + std::string(4 - std::min<size_t>(4, digits.size()), '0') + digits;
      users_.push_back({.id = name, .username = name, .display_name = "User " + name});
    }
  }
  Result<sdk::DirectoryUser> Authenticate(std::string_view, std::string_view) override {
    return Fail(ErrorCode::kUnauthenticated, "no");
  }
  Result<sdk::DirectoryUser> GetById(std::string_view) override { return Fail(ErrorCode::kNotFound, "no"); }
  Result<sdk::DirectoryUser> GetByUsername(std::string_view) override { return Fail(ErrorCode::kNotFound, "no"); }
  Result<sdk::UserPage> Search(std::string_view text, size_t skip, size_t top) override {
    ++searches;
    if (down) return Fail(ErrorCode::kUnavailable, "LDAP unreachable");
    std::vector<sdk::DirectoryUser> match;
    for (const auto& u : users_) {
      if (u.username.find(text) != std::string::npos) match.push_back(u);
    }
    sdk::UserPage page;
    for (size_t i = skip; i < match.size() && i < skip + top; ++i) page.users.push_back(match[i]);
    page.more = skip + top < match.size();
    return page;
  }
  Result<std::string> Photo(std::string_view) override { return Fail(ErrorCode::kNotFound, "no"); }

  int searches = 0;
  bool down = false;

 private:
  std::vector<sdk::DirectoryUser> users_;
};

TEST(ReadOnlyUserAdmin, ListsEveryMatchByUsernameAcrossPages) {
  auto dir = std::make_shared<FakeDirectory>(450);
  ReadOnlyUserAdmin admin(dir);
  EXPECT_TRUE(admin.ReadOnly());
  auto all = admin.List("");
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 450u);
  EXPECT_EQ(all->front().username, "u0000");
  EXPECT_EQ(all->back().username, "u0449");
  EXPECT_EQ(dir->searches, 3);  // pages of 200
  auto some = admin.List("u01");
  ASSERT_TRUE(some);
  EXPECT_EQ(some->size(), 100u);
}

TEST(ReadOnlyUserAdmin, StopsAtTheListingLimit) {
  auto dir = std::make_shared<FakeDirectory>(1500);
  ReadOnlyUserAdmin admin(dir);
  auto all = admin.List("");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), ReadOnlyUserAdmin::kMaxListed);
}

TEST(ReadOnlyUserAdmin, DirectoryFailureIsAnError) {
  auto dir = std::make_shared<FakeDirectory>(3);
  dir->down = true;
  ReadOnlyUserAdmin admin(dir);
  auto all = admin.List("");
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().code, ErrorCode::kUnavailable);
}

TEST(ReadOnlyUserAdmin, RefusesEveryChange) {
  ReadOnlyUserAdmin admin(std::make_shared<FakeDirectory>(1));
  for (Status st : {admin.CheckPassword("u0000", "x"), admin.SetPassword("u0000", "long-password-1"),
                    admin.SetEnabled("u0000", false), admin.SetAdmin("u0000", true),
                    admin.SetProfile("u0000", std::string("New"), std::nullopt), admin.Remove("u0000")}) {
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(st.error().public_message, "users are managed in the LDAP directory, not here");
  }
  auto created = admin.Create({.username = "new"}, "long-password-1");
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace palaver::directory
