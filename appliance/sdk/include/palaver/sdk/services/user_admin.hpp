// UserAdmin: changing the users of a directory (the admin console's Users page).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "palaver/sdk/services/user_directory.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// A user to create. Value type.
struct NewDirectoryUser {
  std::string username;
  std::string display_name;
  std::string mail;
  bool is_admin = false;
};

/// Published by the `directory` module next to UserDirectory. Thread-safe; every call may block
/// (SQLite, LDAP, password hashing): workers or commands only. A read-only backend (LDAP) answers
/// every change with kFailedPrecondition. Errors carry a public message.
class UserAdmin {
 public:
  virtual ~UserAdmin() = default;
  /// Whether users are managed elsewhere (changes are refused).
  virtual bool ReadOnly() const = 0;
  /// Every user, disabled ones included, whose username, display name or mail contain `text`
  /// (case-insensitive; empty: all), by username.
  virtual Result<std::vector<DirectoryUser>> List(std::string_view text) = 0;
  /// Whether `password` is acceptable for `username` under the password policy.
  virtual Status CheckPassword(std::string_view username, std::string_view password) const = 0;
  virtual Result<DirectoryUser> Create(const NewDirectoryUser& user, std::string_view password) = 0;
  /// Ends every session of the user.
  virtual Status SetPassword(std::string_view username, std::string_view password) = 0;
  /// Disabling ends every session of the user.
  virtual Status SetEnabled(std::string_view username, bool enabled) = 0;
  virtual Status SetAdmin(std::string_view username, bool is_admin) = 0;
  /// Changes what is given; nullopt keeps the value.
  virtual Status SetProfile(std::string_view username, std::optional<std::string> display_name,
                            std::optional<std::string> mail) = 0;
  virtual Status Remove(std::string_view username) = 0;
};

}  // namespace palaver::sdk
