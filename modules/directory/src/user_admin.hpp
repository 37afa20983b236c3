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

}  // namespace palaver::directory
