#include "user_admin.hpp"

#include <algorithm>
#include <cctype>

namespace palaver::directory {
namespace {

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<std::vector<sdk::DirectoryUser>> LocalUserAdmin::List(std::string_view text) {
  PALAVER_ASSIGN_OR_RETURN(auto all, users_->List());
  if (text.empty()) return all;
  std::string needle = Lower(text);
  std::vector<sdk::DirectoryUser> out;
  for (auto& u : all) {
    if (Lower(u.username).find(needle) != std::string::npos || Lower(u.display_name).find(needle) != std::string::npos ||
        Lower(u.mail).find(needle) != std::string::npos) {
      out.push_back(std::move(u));
    }
  }
  return out;
}

Status LocalUserAdmin::CheckPassword(std::string_view username, std::string_view password) const {
  return CheckPasswordPolicy(policy_, username, password);
}

Result<sdk::DirectoryUser> LocalUserAdmin::Create(const sdk::NewDirectoryUser& user, std::string_view password) {
  PALAVER_RETURN_IF_ERROR(ValidateUsername(user.username));
  PALAVER_RETURN_IF_ERROR(CheckPassword(user.username, password));
  NewUser n;
  n.username = user.username;
  n.display_name = user.display_name;
  n.mail = user.mail;
  n.is_admin = user.is_admin;
  return users_->Add(n, password);
}

Status LocalUserAdmin::SetPassword(std::string_view username, std::string_view password) {
  PALAVER_RETURN_IF_ERROR(CheckPassword(username, password));
  return users_->SetPassword(username, password);
}

Result<std::vector<sdk::DirectoryUser>> ReadOnlyUserAdmin::List(std::string_view text) {
  std::vector<sdk::DirectoryUser> out;
  constexpr size_t kPage = 200;
  while (out.size() < kMaxListed) {
    PALAVER_ASSIGN_OR_RETURN(auto page, users_->Search(text, out.size(), std::min(kPage, kMaxListed - out.size())));
    for (auto& u : page.users) out.push_back(std::move(u));
    if (!page.more || page.users.empty()) break;
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.username < b.username; });
  return out;
}

Status ReadOnlyUserAdmin::Refuse() {
  return Fail(ErrorCode::kFailedPrecondition, "users are managed in the LDAP directory",
              "users are managed in the LDAP directory, not here");
}

}  // namespace palaver::directory
