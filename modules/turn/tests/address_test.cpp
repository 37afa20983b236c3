// Address, parsing and printing, embedded IPv4 forms, 5-tuple hashing.
#include <gtest/gtest.h>

#include <unordered_set>

#include "address.hpp"

namespace palaver::turn {
namespace {

TEST(Address, ParsesIPv4AndIPv6WithAndWithoutPort) {
  auto a = Address::Parse("192.0.2.1:3478");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->port(), 3478);
  EXPECT_EQ(a->v4(), 0xC0000201u);
  EXPECT_EQ(a->ToString(), "192.0.2.1:3478");

  auto b = Address::Parse("[2001:db8::1]:443");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->is_v4());
  EXPECT_EQ(b->port(), 443);
  EXPECT_EQ(b->ToString(), "[2001:db8::1]:443");

  auto c = Address::Parse("2001:db8::2");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->port(), 0);
  EXPECT_EQ(c->IpString(), "2001:db8::2");

  auto d = Address::Parse("10.1.2.3");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port(), 0);
}

TEST(Address, RejectsMalformedText) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:8x", "[::1", "[::1]x",
                          "[1.2.3.4]:5", "::1:80:", "host:80", "[::1]:99999"}) {
    EXPECT_FALSE(Address::Parse(bad)) << bad;
  }
}

TEST(Address, EqualityIncludesPortAndFamily) {
  EXPECT_EQ(*Address::Parse("1.2.3.4:5"), Address::V4(0x01020304, 5));
  EXPECT_NE(*Address::Parse("1.2.3.4:5"), *Address::Parse("1.2.3.4:6"));
  EXPECT_TRUE(Address::Parse("1.2.3.4:5")->SameIp(*Address::Parse("1.2.3.4:6")));
  EXPECT_NE(*Address::Parse("::ffff:1.2.3.4"), *Address::Parse("1.2.3.4"));
  EXPECT_FALSE(Address::Parse("::ffff:1.2.3.4")->SameIp(*Address::Parse("1.2.3.4")));
}

TEST(Address, FindsEmbeddedIPv4) {
  EXPECT_EQ(Address::Parse("[::ffff:127.0.0.1]:9")->EmbeddedV4(), *Address::Parse("127.0.0.1:9"));
  EXPECT_EQ(Address::Parse("::127.0.0.1")->EmbeddedV4(), *Address::Parse("127.0.0.1"));
  EXPECT_EQ(Address::Parse("64:ff9b::a00:1")->EmbeddedV4(), *Address::Parse("10.0.0.1"));
  EXPECT_FALSE(Address::Parse("::")->EmbeddedV4());
  EXPECT_FALSE(Address::Parse("::1")->EmbeddedV4());
  EXPECT_FALSE(Address::Parse("2001:db8::1")->EmbeddedV4());
  EXPECT_FALSE(Address::Parse("1.2.3.4")->EmbeddedV4());
  EXPECT_EQ(Address::Parse("::ffff:8.8.8.8")->Canonical(), *Address::Parse("8.8.8.8"));
  EXPECT_EQ(Address::Parse("2001:db8::1")->Canonical(), *Address::Parse("2001:db8::1"));
}

TEST(Address, FromBytesNeeds4Or16) {
  uint8_t b[16] = {1, 2, 3, 4};
  EXPECT_EQ(Address::FromBytes({b, 4}, 7), Address::V4(0x01020304, 7));
  EXPECT_TRUE(Address::FromBytes({b, 16}, 7));
  EXPECT_FALSE(Address::FromBytes({b, 5}, 7));
}

TEST(FiveTuple, HashesAndComparesAllFields) {
  FiveTuple a{*Address::Parse("1.2.3.4:5"), *Address::Parse("5.6.7.8:3478"), Transport::kUdp};
  FiveTuple b = a;
  b.transport = Transport::kTcp;
  FiveTuple c = a;
  c.client = c.client.WithPort(6);
  std::unordered_set<FiveTuple, FiveTupleHash> set{a, b, c};
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.count(a));
  EXPECT_EQ(FiveTupleHash{}(a), FiveTupleHash{}(FiveTuple(a)));
  EXPECT_EQ(TransportName(Transport::kTls), "tls");
  EXPECT_TRUE(IsStream(Transport::kTcp));
  EXPECT_FALSE(IsStream(Transport::kUdp));
}

}  // namespace
}  // namespace palaver::turn
