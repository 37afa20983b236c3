#include "password_policy.hpp"

#include <cctype>
#include <string>

#include "password.hpp"

namespace palaver::directory {
namespace {

// The most common passwords of public breach corpora (lowercase). Short on purpose: the length
// rule already refuses the shorter ones; this catches the long classics.
constexpr std::string_view kCommon[] = {
    "1234567890", "12345678910", "123456789a", "1234567890a", "0123456789", "1q2w3e4r5t", "1qaz2wsx3edc",
    "qwertyuiop", "qwerty1234", "qwerty12345", "qwertzuiop", "1234qwer", "password1", "password12",
    "password123", "password1234", "passwort1", "passwort123", "iloveyou12", "iloveyou123", "football123",
    "baseball123", "superman123", "letmein123", "welcome123", "welcome1234", "willkommen", "willkommen1",
    "willkommen123", "administrator", "admin12345", "admin123456", "changeme123", "trustno1234", "abcdefghij",
    "abcd123456", "aaaaaaaaaa", "1111111111", "0000000000", "9876543210", "michael123", "princess123",
    "sunshine123", "starwars123", "dragon1234", "monkey1234", "master1234", "shadow1234", "hallo12345",
    "hallo123456", "geheim1234", "geheim12345", "schalke04", "palaver123", "palaver1234", "kopano123",
    "kopanomeet", "meet123456", "zaq12wsxcde", "asdfghjkl1", "asdfghjkl123", "yxcvbnm123", "q1w2e3r4t5",
    "computer123", "internet123", "jessica123", "passw0rd123", "p@ssw0rd123", "p@ssword123", "secret1234",
};

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

Status CheckPasswordPolicy(const PasswordPolicy& policy, std::string_view username, std::string_view password) {
  PALAVER_RETURN_IF_ERROR(ValidateNewPassword(password));
  auto bad = [](const std::string& why) { return Fail(ErrorCode::kInvalidArgument, why, why); };
  if (CodePoints(password) < policy.min_length) {
    return bad("the password must have at least " + std::to_string(policy.min_length) + " characters");
  }
  std::string lower = Lower(password);
  std::string name = Lower(username);
  if (!name.empty() && lower == name) return bad("the password must not be the user name");
  for (auto common : kCommon) {
    if (lower == common) return bad("the password is one of the most common passwords");
  }
  return OkStatus();
}

}  // namespace palaver::directory
