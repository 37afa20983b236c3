#include "config.hpp"

#include <fstream>

#include "ldap_filter.hpp"

namespace palaver::directory {
namespace {

bool HasControl(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

// A file that must exist and be readable by palaverd; warns when others may read a secret.
void CheckReadable(sdk::ConfigReader& r, const std::string& key, const std::string& path, bool secret) {
  if (path.empty()) return;
  if (path.front() != '/') return r.Reject(key, "must be an absolute path");
  std::ifstream in(path, std::ios::binary);
  if (!in) return r.Reject(key, "cannot read " + path);
  if (secret) {
    std::string line;
    std::getline(in, line);
    if (line.empty()) r.Reject(key, path + " is empty (the password is its first line)");
    sdk::WarnIfReadableByOthers(r, key, path);
  }
}

}  // namespace

AttributeMap PresetAttributes(const std::string& preset) {
  AttributeMap m;
  m.given_name = "givenName";
  m.surname = "sn";
  m.display_name = "displayName";
  m.job_title = "title";
  m.mobile_phone = "mobile";
  m.office_location = "l";
  m.business_phone = "telephoneNumber";
  if (preset == "ad") {
    m.login = {"sAMAccountName", "userPrincipalName"};
    m.uuid = "objectGUID";
    m.uuid_type = UuidType::kGuid;
    m.mail = "mail";
    m.photo = "thumbnailPhoto";
    m.office_location = "physicalDeliveryOfficeName";
  } else if (preset == "univention") {
    m.login = {"uid"};
    m.uuid = "entryUUID";
    m.mail = "mailPrimaryAddress";
    m.photo = "jpegPhoto";
  } else {
    m.login = {"uid"};
    m.uuid = "entryUUID";
    m.mail = "mail";
    m.photo = "jpegPhoto";
  }
  return m;
}

DirectoryConfig ParseDirectoryConfig(sdk::ConfigReader& r) {
  DirectoryConfig c;
  c.backend = r.Enum("backend", "local", {"local", "ldap"});
  c.initial_admin = r.Bool("initial_admin", true);
  c.api_required_scopes = r.List("api_required_scopes", c.api_required_scopes);
  c.password_min_length = r.Int("password_min_length", c.password_min_length, 1, 128);

  // Every ldap_* key is asked for whatever the backend, so that the set of known keys is fixed.
  LdapConfig& l = c.ldap;
  l.preset = r.Enum("ldap_preset", "openldap", {"openldap", "univention", "ad"});
  AttributeMap preset = PresetAttributes(l.preset);
  l.uris = r.List("ldap_uri", {});
  l.starttls = r.Bool("ldap_starttls", true);
  l.allow_plain = r.Bool("ldap_allow_plain", false);
  l.ca_file = r.String("ldap_ca_file", "");
  l.bind_dn = r.String("ldap_bind_dn", "");
  l.bind_password_file = r.String("ldap_bind_password_file", "");
  l.base_dn = r.String("ldap_base_dn", "");
  std::string default_filter = l.preset == "ad"           ? "(&(objectCategory=person)(objectClass=user))"
                               : l.preset == "univention" ? "(univentionObjectType=users/user)"
                                                          : "(objectClass=inetOrgPerson)";
  // Empty values mean "the preset's": the example config can list every key without pinning
  // one preset's choices.
  auto or_preset = [](const std::string& v, const std::string& fallback) { return v.empty() ? fallback : v; };
  l.user_filter = or_preset(r.String("ldap_user_filter", ""), default_filter);
  l.scope = r.Enum("ldap_scope", "sub", {"sub", "one"});
  l.page_size = static_cast<int>(r.Int("ldap_page_size", 500, 1, 10000));
  l.max_entries = static_cast<int>(r.Int("ldap_max_entries", 10000, 1, 1000000));
  l.timeout = r.Duration("ldap_timeout", l.timeout);
  l.connect_timeout = r.Duration("ldap_connect_timeout", l.connect_timeout);
  l.pool_size = static_cast<int>(r.Int("ldap_pool_size", 4, 1, 64));
  AttributeMap& a = l.attributes;
  a = preset;
  a.login = r.List("ldap_attribute_login", {});
  if (a.login.empty()) a.login = preset.login;
  a.uuid = or_preset(r.String("ldap_attribute_uuid", ""), preset.uuid);
  std::string uuid_type = r.Enum("ldap_uuid_type", "", {"", "text", "guid"});
  if (!uuid_type.empty()) a.uuid_type = uuid_type == "guid" ? UuidType::kGuid : UuidType::kText;
  // `none` switches an optional attribute off (e.g. photos).
  auto optional_attr = [&](const char* key, const std::string& fallback) {
    std::string v = r.String(key, "");
    if (v == "none") return std::string();
    return v.empty() ? fallback : v;
  };
  a.display_name = optional_attr("ldap_attribute_display_name", preset.display_name);
  a.given_name = optional_attr("ldap_attribute_given_name", preset.given_name);
  a.surname = optional_attr("ldap_attribute_surname", preset.surname);
  a.mail = optional_attr("ldap_attribute_mail", preset.mail);
  a.photo = optional_attr("ldap_attribute_photo", preset.photo);
  a.job_title = optional_attr("ldap_attribute_job_title", preset.job_title);
  a.mobile_phone = optional_attr("ldap_attribute_mobile_phone", preset.mobile_phone);
  a.office_location = optional_attr("ldap_attribute_office_location", preset.office_location);
  a.business_phone = optional_attr("ldap_attribute_business_phone", preset.business_phone);
  l.account_policy = l.preset == "ad"           ? AccountPolicy::kActiveDirectory
                     : l.preset == "univention" ? AccountPolicy::kUnivention
                                                : AccountPolicy::kOpenLdap;
  l.access_group = r.String("ldap_access_group", "");
  l.admin_group = r.String("ldap_admin_group", "");
  std::string mode = r.Enum("ldap_group_membership", "", {"", "member", "ad_in_chain"});
  if (mode.empty()) mode = l.preset == "ad" ? "ad_in_chain" : "member";
  l.group_mode = mode == "ad_in_chain" ? GroupMode::kAdInChain : GroupMode::kMemberAttribute;
  l.group_member_attribute =
      or_preset(r.String("ldap_group_member_attribute", ""), l.preset == "univention" ? "uniqueMember" : "member");
  l.nested_groups = r.Bool("ldap_nested_groups", false);
  l.group_base_dn = r.String("ldap_group_base_dn", "");
  l.cache_ttl = r.Duration("ldap_cache_ttl", l.cache_ttl);
  l.cache_max_stale = r.Duration("ldap_cache_max_stale", l.cache_max_stale);
  l.cache_size = r.Size("ldap_cache_size", l.cache_size);
  l.health_interval = r.Duration("ldap_health_interval", l.health_interval);

  if (c.backend != "ldap") return c;

  if (l.uris.empty()) r.Reject("ldap_uri", "is needed with backend = ldap (e.g. ldaps://ldap.example.org)");
  bool any_plain = false;
  for (const auto& uri : l.uris) {
    bool ldaps = uri.rfind("ldaps://", 0) == 0;
    bool ldap = uri.rfind("ldap://", 0) == 0;
    if (!ldaps && !ldap) {
      r.Reject("ldap_uri", uri + " is not an ldap:// or ldaps:// URI");
    } else if (uri.find_first_of(" \t,") != std::string::npos || HasControl(uri) ||
               uri.size() <= (ldaps ? 8u : 7u)) {
      r.Reject("ldap_uri", uri + " has no host");
    }
    if (ldap && !l.starttls) any_plain = true;
  }
  if (any_plain && !l.allow_plain) {
    r.Reject("ldap_starttls",
             "ldap:// without StartTLS sends passwords in clear text; set ldap_allow_plain = yes to allow it");
  }
  if (l.base_dn.empty()) r.Reject("ldap_base_dn", "is needed with backend = ldap (e.g. dc=example,dc=org)");
  if (HasControl(l.base_dn)) r.Reject("ldap_base_dn", "contains a control character");
  if (!l.bind_dn.empty() && l.bind_password_file.empty()) {
    r.Reject("ldap_bind_password_file", "is needed with ldap_bind_dn (a file whose first line is the password)");
  }
  if (l.bind_dn.empty() && !l.bind_password_file.empty()) {
    r.Reject("ldap_bind_dn", "is needed with ldap_bind_password_file");
  }
  if (HasControl(l.bind_dn)) r.Reject("ldap_bind_dn", "contains a control character");
  CheckReadable(r, "ldap_bind_password_file", l.bind_password_file, true);
  CheckReadable(r, "ldap_ca_file", l.ca_file, false);
  if (auto st = ValidateFilter(l.user_filter); !st) r.Reject("ldap_user_filter", st.error().message);
  auto check_attr = [&](const char* key, const std::string& name, bool required) {
    if (name.empty() && !required) return;
    if (!IsAttributeName(name)) r.Reject(key, "'" + name + "' is not an attribute name");
  };
  if (a.login.empty()) r.Reject("ldap_attribute_login", "needs at least one attribute");
  for (const auto& name : a.login) check_attr("ldap_attribute_login", name, true);
  check_attr("ldap_attribute_uuid", a.uuid, true);
  check_attr("ldap_attribute_display_name", a.display_name, false);
  check_attr("ldap_attribute_given_name", a.given_name, false);
  check_attr("ldap_attribute_surname", a.surname, false);
  check_attr("ldap_attribute_mail", a.mail, false);
  check_attr("ldap_attribute_photo", a.photo, false);
  check_attr("ldap_attribute_job_title", a.job_title, false);
  check_attr("ldap_attribute_mobile_phone", a.mobile_phone, false);
  check_attr("ldap_attribute_office_location", a.office_location, false);
  check_attr("ldap_attribute_business_phone", a.business_phone, false);
  check_attr("ldap_group_member_attribute", l.group_member_attribute, true);
  if (HasControl(l.access_group)) r.Reject("ldap_access_group", "contains a control character");
  if (HasControl(l.admin_group)) r.Reject("ldap_admin_group", "contains a control character");
  if (HasControl(l.group_base_dn)) r.Reject("ldap_group_base_dn", "contains a control character");
  if (l.nested_groups && l.group_mode == GroupMode::kAdInChain) {
    r.Reject("ldap_nested_groups", "is for ldap_group_membership = member (ad_in_chain is nested already)");
  }
  if (l.timeout.count() <= 0) r.Reject("ldap_timeout", "must be more than 0");
  if (l.connect_timeout.count() <= 0) r.Reject("ldap_connect_timeout", "must be more than 0");
  if (l.cache_ttl.count() <= 0) r.Reject("ldap_cache_ttl", "must be more than 0");
  if (l.health_interval.count() < 100) r.Reject("ldap_health_interval", "must be at least 100ms");
  if (l.cache_size < int64_t{64} * 1024) r.Reject("ldap_cache_size", "must be at least 64k");
  return c;
}

}  // namespace palaver::directory
