#include <gtest/gtest.h>

#include "cidr.hpp"

namespace palaver::host {
namespace {

TEST(Cidr, V4AndV6Ranges) {
  auto lo = Cidr::Parse("127.0.0.0/8");
  ASSERT_TRUE(lo);
  EXPECT_TRUE(lo->Contains("127.0.0.1"));
  EXPECT_TRUE(lo->Contains("127.255.1.2"));
  EXPECT_FALSE(lo->Contains("128.0.0.1"));
  EXPECT_FALSE(lo->Contains("::1"));
  auto v6 = Cidr::Parse("::1");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->Contains("::1"));
  EXPECT_FALSE(v6->Contains("::2"));
  auto net = Cidr::Parse("fd00::/8");
  EXPECT_TRUE(net->Contains("fd12::5"));
  EXPECT_TRUE(Cidr::Parse("10.1.2.3")->Contains("10.1.2.3"));
  EXPECT_FALSE(Cidr::Parse("10.1.2.3")->Contains("10.1.2.4"));
}

TEST(Cidr, RejectsMalformed) {
  EXPECT_FALSE(Cidr::Parse("127.0.0.0/33"));
  EXPECT_FALSE(Cidr::Parse("::/129"));
  EXPECT_FALSE(Cidr::Parse("localhost"));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/"));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/x"));
  EXPECT_FALSE(Cidr::Parse("")); 
  EXPECT_FALSE(Cidr::Parse("1.2.3.4")->Contains("garbage"));
}

}  // namespace
}  // namespace palaver::host
