#include <gtest/gtest.h>

#include <map>

#include "config.hpp"

namespace palaver::directory {
namespace {

TEST(DirectoryConfig, DefaultsAndRejections) {
  sdk::ConfigSection empty{.name = "directory", .file = "p.cfg"};
  sdk::ConfigReader r(empty);
  auto c = ParseDirectoryConfig(r);
  EXPECT_TRUE(r.Finish());
  EXPECT_EQ(c.backend, "local");
  EXPECT_TRUE(c.initial_admin);

  sdk::ConfigSection bad{.name = "directory", .file = "p.cfg", .line = 1,
                         .entries = {{"backend", {"ad", 2}}, {"initial_admin", {"perhaps", 3}}}};
  sdk::ConfigReader rb(bad);
  (void)ParseDirectoryConfig(rb);
  auto problems = rb.Problems();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("p.cfg:2: [directory] backend: must be one of local, ldap"), std::string::npos);
}

sdk::ConfigSection Ldap(std::map<std::string, sdk::ConfigEntry> extra) {
  sdk::ConfigSection s{.name = "directory", .file = "p.cfg", .line = 1,
                       .entries = {{"backend", {"ldap", 2}}, {"ldap_uri", {"ldaps://ldap.example.org", 3}},
                                   {"ldap_base_dn", {"dc=example,dc=org", 4}}}};
  for (auto& [k, v] : extra) s.entries[k] = v;
  return s;
}

std::string Problems(const sdk::ConfigSection& s) {
  sdk::ConfigReader r(s);
  (void)ParseDirectoryConfig(r);
  std::string all;
  for (const auto& p : r.Problems()) all += p + "\n";
  return all;
}

TEST(DirectoryConfig, LdapDefaultsFromThePreset) {
  auto s = Ldap({});
  sdk::ConfigReader r(s);
  auto c = ParseDirectoryConfig(r);
  ASSERT_TRUE(r.Finish()) << r.Finish().error().message;
  EXPECT_EQ(c.ldap.user_filter, "(objectClass=inetOrgPerson)");
  EXPECT_EQ(c.ldap.attributes.uuid, "entryUUID");
  EXPECT_TRUE(c.ldap.starttls);
  EXPECT_EQ(c.ldap.page_size, 500);

  auto ad = Ldap({{"ldap_preset", {"ad", 5}}, {"ldap_attribute_mail", {"userPrincipalName", 6}}});
  sdk::ConfigReader ra(ad);
  c = ParseDirectoryConfig(ra);
  ASSERT_TRUE(ra.Finish());
  EXPECT_EQ(c.ldap.attributes.uuid, "objectGUID");
  EXPECT_EQ(c.ldap.attributes.uuid_type, UuidType::kGuid);
  EXPECT_EQ(c.ldap.attributes.mail, "userPrincipalName");  // an override wins over the preset
  EXPECT_EQ(c.ldap.group_mode, GroupMode::kAdInChain);
  EXPECT_EQ(c.ldap.account_policy, AccountPolicy::kActiveDirectory);

  auto ucs = Ldap({{"ldap_preset", {"univention", 5}}});
  sdk::ConfigReader ru(ucs);
  c = ParseDirectoryConfig(ru);
  ASSERT_TRUE(ru.Finish());
  EXPECT_EQ(c.ldap.attributes.mail, "mailPrimaryAddress");
  EXPECT_EQ(c.ldap.group_member_attribute, "uniqueMember");
  EXPECT_EQ(c.ldap.user_filter, "(univentionObjectType=users/user)");

  // Empty values keep the preset's; `none` switches an optional attribute off.
  auto empty = Ldap({{"ldap_preset", {"univention", 5}}, {"ldap_attribute_mail", {"", 6}},
                     {"ldap_attribute_photo", {"none", 7}}, {"ldap_uuid_type", {"", 8}}, {"ldap_user_filter", {"", 9}}});
  sdk::ConfigReader re(empty);
  c = ParseDirectoryConfig(re);
  ASSERT_TRUE(re.Finish());
  EXPECT_EQ(c.ldap.attributes.mail, "mailPrimaryAddress");
  EXPECT_EQ(c.ldap.attributes.photo, "");
  EXPECT_EQ(c.ldap.user_filter, "(univentionObjectType=users/user)");
}

TEST(DirectoryConfig, LdapRejections) {
  sdk::ConfigSection bare{.name = "directory", .file = "p.cfg", .line = 1, .entries = {{"backend", {"ldap", 2}}}};
  auto p = Problems(bare);
  EXPECT_NE(p.find("ldap_uri: is needed with backend = ldap"), std::string::npos) << p;
  EXPECT_NE(p.find("ldap_base_dn: is needed"), std::string::npos) << p;
  p = Problems(Ldap({{"ldap_uri", {"http://ldap.example.org", 3}}}));
  EXPECT_NE(p.find("is not an ldap:// or ldaps:// URI"), std::string::npos) << p;
  p = Problems(Ldap({{"ldap_uri", {"ldap://ldap.example.org", 3}}, {"ldap_starttls", {"no", 5}}}));
  EXPECT_NE(p.find("p.cfg:5: [directory] ldap_starttls: ldap:// without StartTLS"), std::string::npos) << p;
  EXPECT_EQ(Problems(Ldap({{"ldap_uri", {"ldap://ldap.example.org", 3}}, {"ldap_starttls", {"no", 5}},
                           {"ldap_allow_plain", {"yes", 6}}})),
            "");
  p = Problems(Ldap({{"ldap_bind_dn", {"cn=palaver,dc=example,dc=org", 5}}}));
  EXPECT_NE(p.find("ldap_bind_password_file: is needed with ldap_bind_dn"), std::string::npos) << p;
  p = Problems(Ldap({{"ldap_bind_dn", {"cn=p", 5}}, {"ldap_bind_password_file", {"/nonexistent/pw", 6}}}));
  EXPECT_NE(p.find("ldap_bind_password_file: cannot read /nonexistent/pw"), std::string::npos) << p;
  p = Problems(Ldap({{"ldap_user_filter", {"objectClass=person", 5}}}));
  EXPECT_NE(p.find("ldap_user_filter: must be one filter in parentheses"), std::string::npos) << p;
  p = Problems(Ldap({{"ldap_attribute_login", {"uid)(x", 5}}}));
  EXPECT_NE(p.find("ldap_attribute_login: 'uid)(x' is not an attribute name"), std::string::npos) << p;
  p = Problems(Ldap({{"ldap_preset", {"novell", 5}}}));
  EXPECT_NE(p.find("ldap_preset: must be one of openldap, univention, ad"), std::string::npos) << p;
  p = Problems(Ldap({{"ldap_preset", {"ad", 5}}, {"ldap_nested_groups", {"yes", 6}}}));
  EXPECT_NE(p.find("ldap_nested_groups: is for ldap_group_membership = member"), std::string::npos) << p;
  p = Problems(Ldap({{"ldap_ca_file", {"relative.pem", 5}}}));
  EXPECT_NE(p.find("ldap_ca_file: must be an absolute path"), std::string::npos) << p;
  // ldap_* keys are known keys with the local backend too (no "unknown key").
  sdk::ConfigSection local{.name = "directory", .file = "p.cfg", .line = 1,
                           .entries = {{"ldap_uri", {"ldaps://x", 2}}}};
  EXPECT_EQ(Problems(local), "");
}

}  // namespace
}  // namespace palaver::directory
