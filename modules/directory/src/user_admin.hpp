// sdk::UserAdmin for the local store: what the admin console changes about users.
#pragma once

#include <memory>

#include "local_store.hpp"
#include "palaver/sdk/services/user_admin.hpp"
#include "password_policy.hpp"

namespace palaver::directory {

/// Thread-safe; blocking (workers or commands). Never read-only.
class LocalUserAdmin final : public sdk::UserAdmin {
 public:
  LocalUserAdmin(std::shared_ptr<LocalUserStore> users, PasswordPolicy policy)
      : users_(std::move(users)), policy_(policy) {}
  bool ReadOnly() const override { return false; }
  Result<std::vector<sdk::DirectoryUser>> List(std::string_view text) override;
  Status CheckPassword(std::string_view username, std::string_view password) const override;
  Result<sdk::DirectoryUser> Create(const sdk::NewDirectoryUser& user, std::string_view password) override;
  Status SetPassword(std::string_view username, std::string_view password) override;
  Status SetEnabled(std::string_view username, bool enabled) override { return users_->SetEnabled(username, enabled); }
  Status SetAdmin(std::string_view username, bool is_admin) override { return users_->SetAdmin(username, is_admin); }
  Status SetProfile(std::string_view username, std::optional<std::string> display_name,
                    std::optional<std::string> mail) override {
    return users_->SetProfile(username, std::move(display_name), std::move(mail));
  }
  Status Remove(std::string_view username) override { return users_->Remove(username); }

 private:
  std::shared_ptr<LocalUserStore> users_;
  PasswordPolicy policy_;
};

/// sdk::UserAdmin for a directory managed elsewhere (LDAP): lists its users for the console's
/// read-only Users page and refuses every change with kFailedPrecondition. Blocking (workers).
class ReadOnlyUserAdmin final : public sdk::UserAdmin {
 public:
  /// At most this many users are listed (the console's page is no address book export).
  static constexpr size_t kMaxListed = 1000;

  explicit ReadOnlyUserAdmin(std::shared_ptr<sdk::UserDirectory> users) : users_(std::move(users)) {}
  bool ReadOnly() const override { return true; }
  /// Matching users by username, from the directory's search (enabled users only: the directory
  /// shows no others), at most kMaxListed.
  Result<std::vector<sdk::DirectoryUser>> List(std::string_view text) override;
  Status CheckPassword(std::string_view, std::string_view) const override { return Refuse(); }
  Result<sdk::DirectoryUser> Create(const sdk::NewDirectoryUser&, std::string_view) override {
    return tl::unexpected(Refuse().error());
  }
  Status SetPassword(std::string_view, std::string_view) override { return Refuse(); }
  Status SetEnabled(std::string_view, bool) override { return Refuse(); }
  Status SetAdmin(std::string_view, bool) override { return Refuse(); }
  Status SetProfile(std::string_view, std::optional<std::string>, std::optional<std::string>) override {
    return Refuse();
  }
  Status Remove(std::string_view) override { return Refuse(); }

 private:
  static Status Refuse();
  std::shared_ptr<sdk::UserDirectory> users_;
};

}  // namespace palaver::directory
