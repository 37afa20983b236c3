// The LDAP backend of the directory: users, sign-in and the address book from an LDAP server
// (OpenLDAP, Univention, Active Directory), with a bounded TTL cache that also carries the
// address book through an outage.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "ldap_client.hpp"
#include "ldap_mapping.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/services/user_directory.hpp"
#include "ttl_cache.hpp"

namespace palaver::directory {

/// Time as the LDAP backend sees it: a monotonic clock for the cache, Unix time for account
/// expiry. Injected so tests need no wall clock.
struct LdapClock {
  std::function<int64_t()> monotonic_ms;
  std::function<int64_t()> unix_seconds;
  static LdapClock System();
};

/// Thread-safe; every call may block on LDAP: call from workers only.
///
/// - Authenticate: search the user with an escaped filter (service account), bind as the entry's
///   DN with the password, then check the account state and the access group. Empty passwords are
///   refused before any LDAP call. No server: kUnavailable ("the user directory is unavailable").
/// - Lookups and searches are cached for `cache_ttl`; when LDAP is unavailable, cached answers
///   up to `cache_max_stale` past their TTL are served instead of an error.
/// - Ids are the UUID attribute's value (never the DN), so a rename or move keeps the id.
class LdapDirectory final : public sdk::UserDirectory {
 public:
  /// `on_state` is called (from a worker) whenever the server goes from reachable to
  /// unreachable or back, with a reason for logs.
  LdapDirectory(LdapConfig config, std::shared_ptr<LdapClient> client, LdapClock clock,
                std::function<void(bool up, const std::string& why)> on_state = nullptr);

  Result<sdk::DirectoryUser> Authenticate(std::string_view username, std::string_view password) override;
  Result<sdk::DirectoryUser> GetById(std::string_view id) override;
  Result<sdk::DirectoryUser> GetByUsername(std::string_view username) override;
  Result<sdk::UserPage> Search(std::string_view text, size_t skip, size_t top) override;
  Result<std::string> Photo(std::string_view id) override;
  /// Enabled = the account state and the access group allow it; epoch 0 (LDAP has none: a
  /// disabled account or a removed group membership ends sessions through `enabled`).
  Result<sdk::UserStanding> Standing(std::string_view id) override;

  /// A cheap query (base object of the base DN): whether the server answers. Updates Up().
  Status Probe();
  /// Whether the last LDAP call reached the server.
  bool Up() const { return up_.load(); }

  /// Longest photo served (larger ones are treated as absent).
  static constexpr size_t kMaxPhotoBytes = 1024 * 1024;

 private:
  struct GroupSets {
    std::set<std::string> access;  // normalised DNs
    std::set<std::string> admin;
  };

  Result<std::vector<LdapEntry>> Query(const LdapSearch& search);
  void Note(const Error* error);
  // `fresh`: ask the server even when the cached sets are within their TTL (sign-in).
  Result<GroupSets> Groups(bool fresh = false);
  Result<std::set<std::string>> GroupMembers(const std::string& group_dn);
  // Whether `user_dn` is in `group_dn`, asked of the server (one base-object search).
  Result<bool> IsMember(const std::string& group_dn, const std::string& user_dn);
  // The group sets as far as `user_dn` is concerned, fresh from the server (sign-in).
  Result<GroupSets> GroupsOf(const std::string& user_dn);
  // Maps an entry and applies the groups; kInvalidArgument for unusable entries.
  Result<MappedUser> Resolve(const LdapEntry& entry, const GroupSets& groups);
  // One user by an equality filter; kNotFound when not exactly one entry.
  Result<MappedUser> FetchOne(const std::string& filter);
  Result<MappedUser> LookupCached(const std::string& key, const std::string& filter);
  void Remember(const MappedUser& user);
  std::string UserFilter(const std::string& condition) const;

  const LdapConfig config_;
  const std::shared_ptr<LdapClient> client_;
  const LdapClock clock_;
  const std::function<void(bool, const std::string&)> on_state_;
  const std::vector<std::string> user_attrs_;
  const std::vector<std::string> search_attrs_;
  std::atomic<bool> up_{true};

  std::mutex mu_;
  TtlCache<MappedUser> users_ PALAVER_GUARDED_BY(mu_);                  // "i:<id>", "n:<login lowercased>"
  TtlCache<std::vector<MappedUser>> searches_ PALAVER_GUARDED_BY(mu_);  // search text lowercased
  TtlCache<std::string> photos_ PALAVER_GUARDED_BY(mu_);                // id; "" = none
  TtlCache<GroupSets> groups_ PALAVER_GUARDED_BY(mu_);                  // one entry
};

}  // namespace palaver::directory
