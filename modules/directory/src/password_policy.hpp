// The password policy for new passwords (CLI, admin console): a minimum length, not the user
// name, not one of a small list of the most common passwords. Pure.
#pragma once

#include <cstddef>
#include <string_view>

#include "palaver/sdk/status.hpp"

namespace palaver::directory {

struct PasswordPolicy {
  size_t min_length = 10;  // in characters (UTF-8 code points); [directory] password_min_length
};

/// kInvalidArgument with a public message saying what is wrong, or OK. Also applies
/// ValidateNewPassword (not empty, not too long, no NUL).
Status CheckPasswordPolicy(const PasswordPolicy& policy, std::string_view username, std::string_view password);

}  // namespace palaver::directory
