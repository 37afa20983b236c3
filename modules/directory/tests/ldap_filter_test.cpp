#include "ldap_filter.hpp"

#include <gtest/gtest.h>

namespace palaver::directory {
namespace {

TEST(LdapFilter, EscapesEverySpecialByte) {
  EXPECT_EQ(EscapeFilterValue("alice"), "alice");
  EXPECT_EQ(EscapeFilterValue("*"), "\\2a");
  EXPECT_EQ(EscapeFilterValue("a)(uid=*"), "a\\29\\28uid=\\2a");
  EXPECT_EQ(EscapeFilterValue("back\\slash"), "back\\5cslash");
  EXPECT_EQ(EscapeFilterValue(std::string("nul\0x", 5)), "nul\\00x");
  EXPECT_EQ(EscapeFilterValue("J\xc3\xbcrgen"), "J\\c3\\bcrgen");  // UTF-8 as escaped octets
  EXPECT_EQ(EscapeFilterValue("tab\there\x7f"), "tab\\09here\\7f");
  EXPECT_EQ(EscapeFilterBytes(std::string("\x01\xff", 2)), "\\01\\ff");
}

TEST(LdapFilter, EscapedValuesNeverOpenOrCloseAFilter) {
  for (const std::string& evil :
       std::vector<std::string>{"*)(objectClass=*", "\\2a", "admin)(|(uid=*", std::string("x\0)(", 4)}) {
    std::string e = EscapeFilterValue(evil);
    EXPECT_EQ(e.find_first_of("()*"), std::string::npos) << e;
    EXPECT_EQ(e.find('\0'), std::string::npos);
    EXPECT_TRUE(ValidateFilter("(uid=" + e + ")")) << e;
  }
}

TEST(LdapFilter, BuildsFilters) {
  EXPECT_EQ(AnyEquals({"uid"}, "a*"), "(uid=a\\2a)");
  EXPECT_EQ(AnyEquals({"sAMAccountName", "userPrincipalName"}, "bob"),
            "(|(sAMAccountName=bob)(userPrincipalName=bob))");
  EXPECT_EQ(AnyContains({"uid", "mail"}, "x)"), "(|(uid=*x\\29*)(mail=*x\\29*))");
  EXPECT_EQ(AnyContains({"uid"}, ""), "");
  EXPECT_EQ(AndFilter({"(objectClass=person)", "", "(uid=a)"}), "(&(objectClass=person)(uid=a))");
  EXPECT_EQ(AndFilter({"(objectClass=person)", ""}), "(objectClass=person)");
  EXPECT_EQ(AndFilter({}), "(objectClass=*)");
}

TEST(LdapFilter, ValidatesConfiguredFilters) {
  EXPECT_TRUE(ValidateFilter("(objectClass=inetOrgPerson)"));
  EXPECT_TRUE(ValidateFilter("(&(objectCategory=person)(objectClass=user)(!(cn=a\\29b)))"));
  EXPECT_FALSE(ValidateFilter(""));
  EXPECT_FALSE(ValidateFilter("objectClass=person"));
  EXPECT_FALSE(ValidateFilter("(a=b))"));
  EXPECT_FALSE(ValidateFilter("((a=b)"));
  EXPECT_FALSE(ValidateFilter("(a=b)(c=d)"));
  EXPECT_FALSE(ValidateFilter("(a=\\zz)"));
  EXPECT_FALSE(ValidateFilter("(a=b\n)"));
}

TEST(LdapFilter, AttributeNames) {
  EXPECT_TRUE(IsAttributeName("uid"));
  EXPECT_TRUE(IsAttributeName("sAMAccountName"));
  EXPECT_TRUE(IsAttributeName("x-custom-1"));
  EXPECT_TRUE(IsAttributeName("2.5.4.3"));
  EXPECT_FALSE(IsAttributeName(""));
  EXPECT_FALSE(IsAttributeName("uid)(x"));
  EXPECT_FALSE(IsAttributeName("cn;lang-de"));
  EXPECT_FALSE(IsAttributeName("2..5"));
  EXPECT_FALSE(IsAttributeName("-a"));
}

TEST(LdapFilter, GuidRoundTripInAdByteOrder) {
  // objectGUID bytes as AD stores them, and the string AD's tools show for them.
  std::string bytes("\x33\x22\x11\x00\x55\x44\x77\x66\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16);
  EXPECT_EQ(GuidToString(bytes), "00112233-4455-6677-8899-aabbccddeeff");
  auto back = GuidFromString("00112233-4455-6677-8899-AABBCCDDEEFF");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bytes);
  EXPECT_EQ(GuidToString("short"), "");
  EXPECT_FALSE(GuidFromString("00112233-4455-6677-8899-aabbccddeefg"));
  EXPECT_FALSE(GuidFromString("001122334455-6677-8899-aabbccddeeff0"));
}

// Found by directory_fuzz: 36 characters with the four dashes in place plus more dashes elsewhere
// left fewer than 32 hex digits, and the decoder read past their end (an id from a request path:
// GET /api/gc/v1/users/<id> on an AD directory).
TEST(LdapFilter, GuidWithExtraDashesIsRefused) {
  EXPECT_FALSE(GuidFromString("f81d4fae-7dec-11d0-4fae-7dec-11d0-a6"));
  EXPECT_FALSE(GuidFromString("00112233-4455-6677-8899-aabbccddee--"));
  EXPECT_FALSE(GuidFromString("------------------------------------"));
}

TEST(LdapFilter, PlausibleIdsAndDns) {
  EXPECT_TRUE(IsPlausibleId("6c1b2f3e-0a1b-103f-8f2e-2b5c1d8e9f00"));
  EXPECT_FALSE(IsPlausibleId(""));
  EXPECT_FALSE(IsPlausibleId("a*"));
  EXPECT_FALSE(IsPlausibleId("a/b"));
  EXPECT_FALSE(IsPlausibleId(std::string(65, 'a')));
  EXPECT_EQ(NormalizeDn("uid=Alice, ou=People,DC=example , dc=org"), "uid=alice,ou=people,dc=example,dc=org");
}

}  // namespace
}  // namespace palaver::directory
