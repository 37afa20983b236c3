// The local user store (the embedded default backend): users in palaver.db.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "palaver/sdk/services/user_directory.hpp"
#include "palaver/sdk/store.hpp"
#include "password.hpp"

namespace palaver::directory {

/// A user to create.
struct NewUser {
  std::string username;
  std::string display_name;
  std::string given_name;
  std::string surname;
  std::string mail;
  bool is_admin = false;
};

/// Usernames: 1-64 characters of letters, digits and `._@-`, starting with a letter or digit.
/// Case-insensitively unique.
Status ValidateUsername(std::string_view username);

/// Users in the `directory_users` table. Thread-safe; blocking (workers or CLI only).
class LocalUserStore final : public sdk::UserDirectory {
 public:
  /// `store` must outlive this object. `cost` is used for new password hashes.
  explicit LocalUserStore(sdk::Store& store, HashCost cost = {});
  static std::vector<sdk::Migration> Migrations();
  /// The `directory_sessions` schema: per-user session epochs (see Standing).
  static std::vector<sdk::Migration> SessionMigrations();
  /// Both schemas, in order.
  static Status MigrateAll(sdk::Store& store);

  Result<sdk::DirectoryUser> Add(const NewUser& user, std::string_view password);
  /// Every user, disabled ones included, by username.
  Result<std::vector<sdk::DirectoryUser>> List();
  Status SetPassword(std::string_view username, std::string_view password);
  Status SetEnabled(std::string_view username, bool enabled);
  Status Remove(std::string_view username);
  /// Grants or revokes the admin flag.
  Status SetAdmin(std::string_view username, bool is_admin);
  /// Changes what is given (nullopt keeps it). Display names are at most 256 bytes, mail 254.
  Status SetProfile(std::string_view username, std::optional<std::string> display_name,
                    std::optional<std::string> mail);
  Result<int64_t> Count();
  /// Enabled users with the admin flag.
  Result<int64_t> CountAdmins();

  // sdk::UserDirectory
  Result<sdk::DirectoryUser> Authenticate(std::string_view username, std::string_view password) override;
  Result<sdk::DirectoryUser> GetById(std::string_view id) override;
  Result<sdk::DirectoryUser> GetByUsername(std::string_view username) override;
  Result<sdk::UserPage> Search(std::string_view text, size_t skip, size_t top) override;
  Result<std::string> Photo(std::string_view id) override;
  /// Session epochs live in `directory_session_epochs`; a user without a row is at epoch 0.
  /// SetPassword and SetEnabled(false) raise it, which ends every session and token of the user.
  Result<sdk::UserStanding> Standing(std::string_view id) override;

 private:
  Result<sdk::DirectoryUser> GetOne(const std::string& where, const std::string& value);
  const std::string& DummyHash();
  /// Raises the session epoch of `username` (in `db`'s transaction).
  static Status EndSessions(sdk::Db& db, std::string_view username);

  sdk::Store& store_;
  HashCost cost_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;
};

}  // namespace palaver::directory
