#include <gtest/gtest.h>

#include "password.hpp"

namespace palaver::directory {
namespace {

// Cheap costs keep the tests fast; the format and checks are the same.
constexpr HashCost kFast{1, 256, 1};

TEST(Password, HashesAreArgon2idAndSalted) {
  auto a = HashPassword("correct horse", kFast);
  auto b = HashPassword("correct horse", kFast);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->rfind("$argon2id$v=19$m=256,t=1,p=1$", 0), 0u) << *a;
  EXPECT_NE(*a, *b);  // fresh salt each time
  EXPECT_TRUE(VerifyPassword(*a, "correct horse"));
  EXPECT_TRUE(VerifyPassword(*b, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*a, "correct horsE"));
  EXPECT_FALSE(VerifyPassword(*a, ""));
}

TEST(Password, DefaultCostIsOwaspMinimum) {
  auto h = HashPassword("pw");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *h;
}

TEST(Password, RejectsBadNewPasswordsAndMalformedHashes) {
  EXPECT_FALSE(HashPassword("", kFast));
  EXPECT_FALSE(HashPassword(std::string(1025, 'x'), kFast));
  EXPECT_FALSE(HashPassword(std::string("a\0b", 3), kFast));
  EXPECT_TRUE(HashPassword(std::string(1024, 'x'), kFast));
  EXPECT_FALSE(VerifyPassword("", "x"));
  EXPECT_FALSE(VerifyPassword("$argon2i$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "x"));
  EXPECT_FALSE(VerifyPassword("$argon2id$garbage", "x"));
  EXPECT_FALSE(VerifyPassword("plaintext", "plaintext"));
}

TEST(Password, RandomPasswordsAreLongAndDistinct) {
  std::string a = RandomPassword(), b = RandomPassword();
  EXPECT_EQ(a.size(), 24u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(ValidateNewPassword(a));
}

}  // namespace
}  // namespace palaver::directory
