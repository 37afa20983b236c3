#include "ldap_mapping.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace palaver::directory {
namespace {

constexpr int64_t kNow = 1780000000;  // 2026-05-28

LdapEntry Entry(std::string dn, std::map<std::string, std::vector<std::string>> attrs) {
  LdapEntry e{std::move(dn), {}};
  for (auto& [k, v] : attrs) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    e.attrs[lower] = v;
  }
  return e;
}

TEST(LdapMapping, OpenLdapPreset) {
  auto m = PresetAttributes("openldap");
  auto e = Entry("uid=alice,ou=people,dc=example,dc=org", {{"uid", {"alice"}},
                                                           {"entryUUID", {"6c1b2f3e-0a1b-103f-8f2e-2b5c1d8e9f00"}},
                                                           {"displayName", {"Alice Liddell"}},
                                                           {"givenName", {"Alice"}},
                                                           {"sn", {"Liddell"}},
                                                           {"mail", {"alice@example.org"}},
                                                           {"jpegPhoto", {"\xff\xd8..."}},
                                                           {"title", {"Explorer"}},
                                                           {"telephoneNumber", {"+49 30 1", "+49 30 2"}},
                                                           {"l", {"Wonderland"}},
                                                           {"mobile", {"+49 170 1"}}});
  auto u = MapEntry(e, m, AccountPolicy::kOpenLdap, kNow);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->user.id, "6c1b2f3e-0a1b-103f-8f2e-2b5c1d8e9f00");
  EXPECT_EQ(u->user.username, "alice");
  EXPECT_EQ(u->user.display_name, "Alice Liddell");
  EXPECT_EQ(u->user.mail, "alice@example.org");
  EXPECT_EQ(u->user.job_title, "Explorer");
  EXPECT_EQ(u->user.office_location, "Wonderland");
  EXPECT_EQ(u->user.mobile_phone, "+49 170 1");
  EXPECT_EQ(u->user.business_phones, (std::vector<std::string>{"+49 30 1", "+49 30 2"}));
  EXPECT_TRUE(u->user.has_photo);
  EXPECT_TRUE(u->user.enabled);
  EXPECT_EQ(u->dn, "uid=alice,ou=people,dc=example,dc=org");
}

TEST(LdapMapping, DisplayNameFallsBackToCnThenUsername) {
  auto m = PresetAttributes("openldap");
  auto u = MapEntry(Entry("uid=b", {{"uid", {"b"}}, {"entryUUID", {"id-1"}}, {"cn", {"Bee"}}}), m,
                    AccountPolicy::kOpenLdap, kNow);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->user.display_name, "Bee");
  u = MapEntry(Entry("uid=b", {{"uid", {"b"}}, {"entryUUID", {"id-1"}}}), m, AccountPolicy::kOpenLdap, kNow);
  EXPECT_EQ(u->user.display_name, "b");
}

TEST(LdapMapping, NeverFallsBackToTheDnAsId) {
  auto m = PresetAttributes("openldap");
  EXPECT_FALSE(MapEntry(Entry("uid=a,dc=x", {{"uid", {"a"}}}), m, AccountPolicy::kOpenLdap, kNow));
  EXPECT_FALSE(MapEntry(Entry("uid=a,dc=x", {{"entryUUID", {"x"}}}), m, AccountPolicy::kOpenLdap, kNow));
  EXPECT_FALSE(
      MapEntry(Entry("uid=a,dc=x", {{"uid", {"a"}}, {"entryUUID", {"a/b"}}}), m, AccountPolicy::kOpenLdap, kNow));
}

TEST(LdapMapping, ActiveDirectoryPreset) {
  auto m = PresetAttributes("ad");
  EXPECT_EQ(m.login, (std::vector<std::string>{"sAMAccountName", "userPrincipalName"}));
  EXPECT_EQ(m.photo, "thumbnailPhoto");
  std::string guid("\x33\x22\x11\x00\x55\x44\x77\x66\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16);
  auto e = Entry("CN=Bob,OU=Staff,DC=corp,DC=example", {{"sAMAccountName", {"bob"}},
                                                        {"userPrincipalName", {"bob@corp.example"}},
                                                        {"objectGUID", {guid}},
                                                        {"userAccountControl", {"512"}},
                                                        {"accountExpires", {"9223372036854775807"}}});
  auto u = MapEntry(e, m, AccountPolicy::kActiveDirectory, kNow);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->user.id, "00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_EQ(u->user.username, "bob");
  EXPECT_TRUE(u->user.enabled);
  auto id = IdAssertion("00112233-4455-6677-8899-aabbccddeeff", m);
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "\\33\\22\\11\\00\\55\\44\\77\\66\\88\\99\\aa\\bb\\cc\\dd\\ee\\ff");
  EXPECT_FALSE(IdAssertion("not-a-guid", m));
}

TEST(LdapMapping, AccountStateRules) {
  auto ad = [](std::string uac, std::string expires = "0") {
    return AccountDisabled(Entry("cn=x", {{"userAccountControl", {uac}}, {"accountExpires", {expires}}}),
                           AccountPolicy::kActiveDirectory, kNow);
  };
  EXPECT_FALSE(ad("512"));
  EXPECT_TRUE(ad("514"));                          // ACCOUNTDISABLE
  EXPECT_TRUE(ad("528"));                          // LOCKOUT
  EXPECT_TRUE(ad("512", "116444736000000000"));    // expired on 1970-01-01
  EXPECT_FALSE(ad("512", "9223372036854775807"));  // never
  EXPECT_FALSE(ad("512", "999999999999999999"));   // 4769
  auto ucs = [](std::map<std::string, std::vector<std::string>> a) {
    return AccountDisabled(Entry("uid=x", std::move(a)), AccountPolicy::kUnivention, kNow);
  };
  EXPECT_FALSE(ucs({{"sambaAcctFlags", {"[U          ]"}}, {"krb5KDCFlags", {"126"}}}));
  EXPECT_TRUE(ucs({{"sambaAcctFlags", {"[UD         ]"}}}));
  EXPECT_TRUE(ucs({{"sambaAcctFlags", {"[UL         ]"}}}));
  EXPECT_TRUE(ucs({{"krb5KDCFlags", {"254"}}}));
  EXPECT_TRUE(ucs({{"shadowExpire", {"1"}}}));
  EXPECT_FALSE(ucs({{"shadowExpire", {"99999"}}}));
  EXPECT_TRUE(
      AccountDisabled(Entry("uid=x", {{"pwdAccountLockedTime", {"000001010000Z"}}}), AccountPolicy::kOpenLdap, kNow));
  EXPECT_FALSE(AccountDisabled(Entry("uid=x", {}), AccountPolicy::kOpenLdap, kNow));
}

TEST(LdapMapping, RequestedAttributesFollowThePreset) {
  auto ucs = PresetAttributes("univention");
  EXPECT_EQ(ucs.mail, "mailPrimaryAddress");
  auto attrs = UserAttributes(ucs, AccountPolicy::kUnivention, false);
  for (const char* a : {"uid", "entryUUID", "mailPrimaryAddress", "sambaAcctFlags", "krb5KDCFlags", "shadowExpire"}) {
    EXPECT_NE(std::find(attrs.begin(), attrs.end(), a), attrs.end()) << a;
  }
  EXPECT_EQ(std::find(attrs.begin(), attrs.end(), "jpegPhoto"), attrs.end());  // photos only on demand
  attrs = UserAttributes(ucs, AccountPolicy::kUnivention, true);
  EXPECT_NE(std::find(attrs.begin(), attrs.end(), "jpegPhoto"), attrs.end());
  EXPECT_EQ(
      SearchAttributes(PresetAttributes("ad")),
      (std::vector<std::string>{"sAMAccountName", "userPrincipalName", "displayName", "givenName", "sn", "mail"}));
}

}  // namespace
}  // namespace palaver::directory
