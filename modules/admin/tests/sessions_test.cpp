#include "sessions.hpp"

#include <gtest/gtest.h>

namespace palaver::admin {
namespace {

class SessionTableTest : public ::testing::Test {
 protected:
  int64_t now_ = 1'000'000;
  SessionTable table_{15 * 60 * 1000, 12 * 3600 * 1000, [this] { return now_; }};
};

TEST_F(SessionTableTest, ExpiresAfterInactivity) {
  auto s = table_.Create("u1", "root", "Root");
  EXPECT_EQ(s.id.size(), 43u);  // 32 random bytes, base64url
  EXPECT_NE(s.csrf, s.id);
  now_ += 14 * 60 * 1000;
  ASSERT_TRUE(table_.Touch(s.id));  // used: the idle clock starts again
  now_ += 14 * 60 * 1000;
  ASSERT_TRUE(table_.Touch(s.id));
  now_ += 15 * 60 * 1000 + 1;
  EXPECT_FALSE(table_.Touch(s.id));
  EXPECT_EQ(table_.Count(), 0u);
}

TEST_F(SessionTableTest, ExpiresAtTheAbsoluteLimitEvenWhenUsed) {
  auto s = table_.Create("u1", "root", "Root");
  for (int i = 0; i < 12 * 6; ++i) {
    now_ += 10 * 60 * 1000;
    if (!table_.Touch(s.id)) {
      EXPECT_GE(i, 12 * 6 - 1);
      return;
    }
  }
  now_ += 10 * 60 * 1000;
  EXPECT_FALSE(table_.Touch(s.id));
}

// A reload's new limits apply to sessions that already exist, from their next use on.
TEST_F(SessionTableTest, NewLimitsApplyToExistingSessions) {
  auto first = table_.Create("u1", "root", "Root");
  now_ += 10 * 60 * 1000;
  auto second = table_.Create("u2", "ada", "Ada");
  now_ += 2 * 60 * 1000;
  ASSERT_TRUE(table_.Touch(first.id));  // idle 12 of 15 min
  now_ += 6 * 60 * 1000;  // both idle for 6 and 8 min: fine under 15
  table_.SetLimits(5 * 60 * 1000, 12 * 3600 * 1000);  // idle 15 -> 5 min
  EXPECT_FALSE(table_.Touch(first.id));
  EXPECT_FALSE(table_.Touch(second.id));
  auto fresh = table_.Create("u1", "root", "Root");
  now_ += 4 * 60 * 1000;
  ASSERT_TRUE(table_.Touch(fresh.id));
  table_.SetLimits(5 * 60 * 1000, 3 * 60 * 1000 + 59 * 1000);  // absolute: under its age of 4 min
  EXPECT_FALSE(table_.Touch(fresh.id));
  table_.SetLimits(60 * 60 * 1000, 12 * 3600 * 1000);  // longer limits keep what is alive
  auto kept = table_.Create("u1", "root", "Root");
  now_ += 30 * 60 * 1000;
  EXPECT_TRUE(table_.Touch(kept.id));
}

TEST_F(SessionTableTest, RemovesEveryOneOfAUser) {
  auto a = table_.Create("u1", "root", "Root");
  auto b = table_.Create("u1", "root", "Root");
  auto c = table_.Create("u2", "bert", "Bert");
  table_.RemoveUser("u1");
  EXPECT_FALSE(table_.Touch(a.id));
  EXPECT_FALSE(table_.Touch(b.id));
  EXPECT_TRUE(table_.Touch(c.id));
  EXPECT_FALSE(table_.Touch("made-up"));
}

TEST_F(SessionTableTest, SigninsAreSingleUseAndExpire) {
  auto p = table_.BeginSignin("/admin/users");
  EXPECT_FALSE(p.verifier.empty());
  auto taken = table_.TakeSignin(p.state);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->return_to, "/admin/users");
  EXPECT_EQ(taken->verifier, p.verifier);
  EXPECT_FALSE(table_.TakeSignin(p.state));
  auto q = table_.BeginSignin("/admin/");
  now_ += 10 * 60 * 1000 + 1;
  EXPECT_FALSE(table_.TakeSignin(q.state));
}

TEST(SecretEquals, ComparesWholeSecrets) {
  EXPECT_TRUE(SecretEquals("abc", "abc"));
  EXPECT_FALSE(SecretEquals("abc", "abd"));
  EXPECT_FALSE(SecretEquals("abc", "abcd"));
  EXPECT_FALSE(SecretEquals("", ""));
}

}  // namespace
}  // namespace palaver::admin
