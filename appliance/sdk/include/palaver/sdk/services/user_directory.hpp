// UserDirectory: who the users are, and checking their passwords.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// A user as the directory knows it. Value type.
struct DirectoryUser {
  std::string id;            // stable and opaque (URL-safe); never reused
  std::string username;      // the login name (userPrincipalName)
  std::string display_name;
  std::string given_name;
  std::string surname;
  std::string mail;
  // Shown in the address book when the backend has them (LDAP: title, l, mobile, telephoneNumber).
  std::string job_title;
  std::string mobile_phone;
  std::string office_location;
  std::vector<std::string> business_phones;
  bool is_admin = false;
  bool enabled = true;
  bool has_photo = false;
};

/// Whether a user's sign-ins and tokens still count. Value type.
struct UserStanding {
  bool enabled = true;
  /// Raised whenever every session and token of the user must end at once (password changed,
  /// user disabled). Sessions and tokens record the epoch they were issued under.
  int64_t session_epoch = 0;
};

/// One page of a search.
struct UserPage {
  std::vector<DirectoryUser> users;
  bool more = false;  // further matches exist after this page
};

/// Published by the `directory` module. Thread-safe, but every call may block (SQLite, LDAP,
/// password hashing): call from workers only.
class UserDirectory {
 public:
  virtual ~UserDirectory() = default;
  /// The enabled user with this username and password. A wrong password, an unknown or a
  /// disabled user all give the same kUnauthenticated error (and take the same time).
  virtual Result<DirectoryUser> Authenticate(std::string_view username, std::string_view password) = 0;
  /// kNotFound when there is no such user.
  virtual Result<DirectoryUser> GetById(std::string_view id) = 0;
  virtual Result<DirectoryUser> GetByUsername(std::string_view username) = 0;
  /// Enabled users whose username, display name or mail contain `text` (case-insensitive; empty
  /// matches all), ordered by display name.
  virtual Result<UserPage> Search(std::string_view text, size_t skip, size_t top) = 0;
  /// The photo bytes (JPEG or PNG); kNotFound when the user has none.
  virtual Result<std::string> Photo(std::string_view id) = 0;
  /// Whether the user exists (kNotFound otherwise), is enabled, and their session epoch. Called
  /// for every API request with a user's token: keep it one indexed lookup. The default suits
  /// backends without epochs.
  virtual Result<UserStanding> Standing(std::string_view id) {
    auto user = GetById(id);
    if (!user) return tl::unexpected(user.error());
    return UserStanding{user->enabled, 0};
  }
};

}  // namespace palaver::sdk
