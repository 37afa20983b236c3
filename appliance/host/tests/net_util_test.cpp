#include "net/util.hpp"

#include <gtest/gtest.h>

namespace palaver::host::net {
namespace {

TEST(DecodePath, DecodesAndRemovesDotSegments) {
  EXPECT_EQ(*DecodePath("/"), "/");
  EXPECT_EQ(*DecodePath("/meet/"), "/meet/");
  EXPECT_EQ(*DecodePath("/a%20b"), "/a b");
  EXPECT_EQ(*DecodePath("/a/./b"), "/a/b");
  EXPECT_EQ(*DecodePath("/a/b/../c"), "/a/c");
  EXPECT_EQ(*DecodePath("/a/.."), "/");
  EXPECT_EQ(*DecodePath("/a/b/."), "/a/b/");
  EXPECT_EQ(*DecodePath("/../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(*DecodePath("/%2e%2e/secret"), "/secret");
}

TEST(DecodePath, RefusesNulBadEscapesAndRelativePaths) {
  EXPECT_FALSE(DecodePath("/meet/%00"));
  EXPECT_FALSE(DecodePath("/x%0"));
  EXPECT_FALSE(DecodePath("/x%zz"));
  EXPECT_FALSE(DecodePath("meet/"));
  EXPECT_FALSE(DecodePath(""));
}

TEST(HasToken, CaseInsensitiveListMembers) {
  EXPECT_TRUE(HasToken("Upgrade", "upgrade"));
  EXPECT_TRUE(HasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(HasToken(" close ", "close"));
  EXPECT_FALSE(HasToken("upgrade-insecure", "upgrade"));
  EXPECT_FALSE(HasToken("", "close"));
}

TEST(StripPort, HostAndBracketedV6) {
  EXPECT_EQ(StripPort("example.org:8443"), "example.org");
  EXPECT_EQ(StripPort("example.org"), "example.org");
  EXPECT_EQ(StripPort("[::1]:443"), "[::1]");
}

}  // namespace
}  // namespace palaver::host::net
