// From LDAP entries to directory users: the attribute map of each preset, the account-state
// rules (disabled, locked, expired) and the user id from the UUID attribute. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.hpp"
#include "ldap_client.hpp"
#include "palaver/sdk/services/user_directory.hpp"

namespace palaver::directory {

/// A user read from an entry, with its DN (for the password bind and group checks; never sent to
/// clients) and whether the entry's own attributes say the account may not sign in.
struct MappedUser {
  sdk::DirectoryUser user;
  std::string dn;
  bool account_disabled = false;
};

/// The attributes to request for users (`with_photo`: the photo attribute too).
std::vector<std::string> UserAttributes(const AttributeMap& map, AccountPolicy policy, bool with_photo);
/// The attributes substring searches look in: login attributes, display name, given name,
/// surname, mail (each once).
std::vector<std::string> SearchAttributes(const AttributeMap& map);

/// Whether the entry's attributes say disabled, locked or expired, by the preset's rules:
/// - OpenLDAP: `pwdAccountLockedTime` present (ppolicy lock).
/// - Univention: `shadowExpire` reached (UCS sets 1 to disable), `sambaAcctFlags` with D or L,
///   `krb5KDCFlags` with bit 7 (254 = disabled).
/// - Active Directory: `userAccountControl` with ACCOUNTDISABLE (2) or LOCKOUT (16),
///   `accountExpires` reached (neither 0 nor 2^63-1).
/// `now_seconds` is Unix time.
bool AccountDisabled(const LdapEntry& entry, AccountPolicy policy, int64_t now_seconds);

/// The user in `entry`. kNotFound-worthy problems (no login attribute, no or an unusable UUID)
/// give kInvalidArgument: such entries are skipped, never guessed (the DN is never an id).
Result<MappedUser> MapEntry(const LdapEntry& entry, const AttributeMap& map, AccountPolicy policy, int64_t now_seconds);

/// The id as an LDAP assertion value for the UUID attribute (escaped; GUIDs as bytes), or
/// kNotFound when `id` cannot be one.
Result<std::string> IdAssertion(std::string_view id, const AttributeMap& map);

}  // namespace palaver::directory
