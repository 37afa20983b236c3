#include "password_policy.hpp"

#include <gtest/gtest.h>

namespace palaver::directory {
namespace {

TEST(PasswordPolicy, RefusesShortPasswords) {
  auto st = CheckPasswordPolicy({.min_length = 10}, "anna", "short-pw1");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().public_message.find("at least 10 characters"), std::string::npos);
  EXPECT_TRUE(CheckPasswordPolicy({.min_length = 10}, "anna", "long-enough-pw"));
}

TEST(PasswordPolicy, CountsCharactersNotBytes) {
  // Ten characters, twenty bytes.
  EXPECT_TRUE(CheckPasswordPolicy({.min_length = 10}, "anna", "ääääääääää"));
  EXPECT_FALSE(CheckPasswordPolicy({.min_length = 10}, "anna", "äääääääää"));
}

TEST(PasswordPolicy, RefusesTheUserName) {
  auto st = CheckPasswordPolicy({.min_length = 4}, "Administrator2", "administrator2");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().public_message.find("user name"), std::string::npos);
}

TEST(PasswordPolicy, RefusesCommonPasswords) {
  for (const char* pw : {"password123", "Password123", "1234567890", "qwertzuiop", "willkommen1"}) {
    auto st = CheckPasswordPolicy({.min_length = 8}, "anna", pw);
    ASSERT_FALSE(st) << pw;
    EXPECT_NE(st.error().public_message.find("common"), std::string::npos) << pw;
  }
}

TEST(PasswordPolicy, KeepsTheBasicChecks) {
  EXPECT_FALSE(CheckPasswordPolicy({.min_length = 1}, "anna", ""));
  EXPECT_FALSE(CheckPasswordPolicy({.min_length = 1}, "anna", std::string("a\0b", 3)));
  EXPECT_FALSE(CheckPasswordPolicy({.min_length = 1}, "anna", std::string(2000, 'x')));
}

}  // namespace
}  // namespace palaver::directory
