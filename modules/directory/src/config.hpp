// [directory] config.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "palaver/sdk/config.hpp"

namespace palaver::directory {

/// How a user's id is read from the UUID attribute.
enum class UuidType { kText, kGuid };  // kGuid: AD's 16-byte objectGUID → RFC 4122 text
/// How "disabled or locked" is read from an entry (per preset; see ldap_mapping.hpp).
enum class AccountPolicy { kOpenLdap, kUnivention, kActiveDirectory };
/// How group membership is found: the group's member attribute (direct members), or AD's
/// LDAP_MATCHING_RULE_IN_CHAIN on the users' memberOf (nested groups).
enum class GroupMode { kMemberAttribute, kAdInChain };

/// Which attribute holds what. Resolved from the preset plus `ldap_attribute_*` overrides.
struct AttributeMap {
  std::vector<std::string> login;  // the first is the username shown; all are accepted at sign-in
  std::string uuid;
  UuidType uuid_type = UuidType::kText;
  std::string display_name;  // falls back to `cn`, then the username
  std::string given_name;
  std::string surname;
  std::string mail;
  std::string photo;
  std::string job_title;
  std::string mobile_phone;
  std::string office_location;
  std::string business_phone;
};

/// `backend = ldap` settings. Only validated when the backend is ldap.
struct LdapConfig {
  std::string preset = "openldap";  // openldap | univention | ad
  std::vector<std::string> uris;    // tried in order; the last good one first
  bool starttls = true;             // for ldap:// URIs
  bool allow_plain = false;         // ldap:// without StartTLS
  std::string ca_file;              // empty: the system's CAs
  std::string bind_dn;              // empty: anonymous service access
  std::string bind_password_file;
  std::string base_dn;
  std::string user_filter;
  std::string scope = "sub";  // sub | one
  int page_size = 500;
  int max_entries = 10000;  // bounds one address-book search (all pages)
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds connect_timeout{3000};
  int pool_size = 4;
  AttributeMap attributes;
  AccountPolicy account_policy = AccountPolicy::kOpenLdap;
  std::string access_group;  // DN; empty: everyone the user filter finds
  std::string admin_group;   // DN; empty: nobody is an administrator through LDAP
  GroupMode group_mode = GroupMode::kMemberAttribute;
  std::string group_member_attribute = "member";
  bool nested_groups = false;  // kMemberAttribute: members of member groups count too
  std::string group_base_dn;   // where nested groups are looked up; empty: base_dn
  std::chrono::milliseconds cache_ttl{std::chrono::minutes(5)};
  std::chrono::milliseconds cache_max_stale{std::chrono::hours(24)};
  int64_t cache_size = 32 * 1024 * 1024;  // bytes over users, searches and photos
  std::chrono::milliseconds health_interval{std::chrono::seconds(30)};
};

struct DirectoryConfig {
  std::string backend = "local";
  bool initial_admin = true;
  /// Scopes an access token needs for /api/gc/v1 (kapi's default for grapi).
  std::vector<std::string> api_required_scopes = {"profile", "email", "kopano/gc"};
  LdapConfig ldap;
};

/// Parses [directory]; problems are recorded on `reader`. Pure, except that with backend = ldap
/// it checks that `ldap_bind_password_file` and `ldap_ca_file` can be read.
DirectoryConfig ParseDirectoryConfig(sdk::ConfigReader& reader);

/// The attribute map and defaults of a preset (openldap, univention, ad).
AttributeMap PresetAttributes(const std::string& preset);

}  // namespace palaver::directory
