#include <gtest/gtest.h>

#include "config.hpp"

namespace palaver::turn {
namespace {

sdk::ConfigSection Section(std::map<std::string, sdk::ConfigEntry> entries) {
  return sdk::ConfigSection{.name = "turn", .file = "p.cfg", .line = 1, .entries = std::move(entries)};
}

TEST(TurnConfig, Defaults) {
  auto s = Section({});
  sdk::ConfigReader r(s);
  TurnConfig c = ParseTurnConfig(r);
  EXPECT_TRUE(r.Finish());
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].ToString(), "0.0.0.0:3478");
  EXPECT_EQ(c.listen[1].ToString(), "[::]:3478");
  EXPECT_TRUE(c.listen_is_default);
  ASSERT_EQ(c.tls_listen.size(), 2u);
  EXPECT_EQ(c.tls_listen[0].port(), 5349);
  EXPECT_TRUE(c.https_fallback);
  EXPECT_TRUE(c.udp);
  EXPECT_TRUE(c.tcp);
  EXPECT_FALSE(c.allow_loopback_peers);
  EXPECT_TRUE(c.allow_private_peers);
  EXPECT_EQ(c.min_port, 49152);
  EXPECT_EQ(c.max_port, 65535);
  EXPECT_EQ(c.max_allocations_per_user, 200);
  EXPECT_EQ(c.unauthenticated_per_second, 50);
}

TEST(TurnConfig, ParsesAddressesAndRanges) {
  auto s = Section({{"listen", {"127.0.0.1:0", 2}},
                    {"tls_listen", {"", 3}},
                    {"external_ip", {"203.0.113.7, 2001:db8::7", 4}},
                    {"relay_ip", {"10.0.0.2", 5}},
                    {"denied_peers", {"10.1.0.0/16", 6}},
                    {"allow_loopback_peers", {"true", 7}},
                    {"min_port", {"50000", 8}},
                    {"max_port", {"50100", 9}},
                    {"bandwidth", {"1M", 10}}});
  sdk::ConfigReader r(s);
  TurnConfig c = ParseTurnConfig(r);
  ASSERT_TRUE(r.Finish()) << r.Problems().front();
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].port(), 0);
  EXPECT_FALSE(c.listen_is_default);
  EXPECT_TRUE(c.tls_listen.empty());
  ASSERT_TRUE(c.external_v4 && c.external_v6);
  EXPECT_EQ(c.external_v4->IpString(), "203.0.113.7");
  ASSERT_TRUE(c.relay_v4);
  EXPECT_FALSE(c.relay_v6);
  ASSERT_EQ(c.denied_peers.size(), 1u);
  EXPECT_TRUE(c.allow_loopback_peers);
  EXPECT_EQ(c.min_port, 50000);
  EXPECT_EQ(c.bandwidth, 1024 * 1024);
}

TEST(TurnConfig, RejectsBadValuesWithTheirLine) {
  auto s = Section({{"listen", {"127.0.0.1", 2}},           // no port
                    {"external_ip", {"1.2.3.4, 5.6.7.8", 3}},  // two IPv4
                    {"denied_peers", {"10.0.0.0/33", 4}},
                    {"min_port", {"60000", 5}},
                    {"max_port", {"50000", 6}},
                    {"uris", {"http://x", 7}},
                    {"bandwidth", {"100", 8}}});
  sdk::ConfigReader r(s);
  (void)ParseTurnConfig(r);
  auto problems = r.Problems();
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_NE(all.find("p.cfg:2: [turn] listen"), std::string::npos) << all;
  EXPECT_NE(all.find("p.cfg:3: [turn] external_ip"), std::string::npos) << all;
  EXPECT_NE(all.find("p.cfg:4: [turn] denied_peers"), std::string::npos) << all;
  EXPECT_NE(all.find("p.cfg:6: [turn] max_port"), std::string::npos) << all;
  EXPECT_NE(all.find("p.cfg:7: [turn] uris"), std::string::npos) << all;
  EXPECT_NE(all.find("p.cfg:8: [turn] bandwidth"), std::string::npos) << all;
}

TEST(TurnConfig, EveryTransportOffIsRefused) {
  auto s = Section({{"udp", {"false", 2}}, {"tcp", {"false", 3}}, {"tls_listen", {"", 4}}, {"https_fallback", {"false", 5}}});
  sdk::ConfigReader r(s);
  (void)ParseTurnConfig(r);
  EXPECT_FALSE(r.Finish());
}

TEST(TurnConfig, StaticUsers) {
  std::string error;
  auto users = ParseStaticUsers("# comment\n\nalice:secret:with:colons\r\nbob:pw\n", &error);
  ASSERT_TRUE(users) << error;
  EXPECT_EQ(users->size(), 2u);
  EXPECT_EQ(users->at("alice"), "secret:with:colons");
  EXPECT_FALSE(ParseStaticUsers("alice\n", &error));
  EXPECT_EQ(error, "line 1: expected name:password");
  EXPECT_FALSE(ParseStaticUsers("a:1\na:2\n", &error));
  EXPECT_EQ(error, "line 2: user \"a\" appears twice");
  EXPECT_FALSE(ParseStaticUsers(":pw\n", &error));
}

}  // namespace
}  // namespace palaver::turn
