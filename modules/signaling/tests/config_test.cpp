// [signaling] config: defaults and every rejection of the hub limits.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "config.hpp"

namespace palaver::signaling {
namespace {

sdk::ConfigSection Section(std::map<std::string, std::string> kv) {
  sdk::ConfigSection s;
  s.name = "signaling";
  s.file = "t.cfg";
  int line = 2;
  for (auto& [k, v] : kv) s.entries[k] = sdk::ConfigEntry{v, line++};
  return s;
}

TEST(SignalingConfig, LimitDefaults) {
  auto s = Section({});
  sdk::ConfigReader r(s);
  SignalingConfig c = ParseSignalingConfig(r);
  EXPECT_TRUE(r.Finish());
  EXPECT_EQ(c.max_name_bytes, 512);
  EXPECT_EQ(c.max_groups_per_connection, 4);
  EXPECT_EQ(c.max_groups_per_user, 16);
  EXPECT_EQ(c.max_calls_per_connection, 4);
  EXPECT_EQ(c.max_calls_per_user, 16);
}

TEST(SignalingConfig, LimitsAreRead) {
  auto s = Section({{"max_name_bytes", "100"}, {"max_groups_per_connection", "2"}, {"max_groups_per_user", "3"},
                    {"max_calls_per_connection", "1"}, {"max_calls_per_user", "1"}});
  sdk::ConfigReader r(s);
  SignalingConfig c = ParseSignalingConfig(r);
  EXPECT_TRUE(r.Finish());
  EXPECT_EQ((std::vector<int64_t>{c.max_name_bytes, c.max_groups_per_connection, c.max_groups_per_user,
                                  c.max_calls_per_connection, c.max_calls_per_user}),
            (std::vector<int64_t>{100, 2, 3, 1, 1}));
}

TEST(SignalingConfig, RejectsLimitsOutOfRange) {
  auto s = Section({{"max_name_bytes", "10"}, {"max_groups_per_connection", "0"}, {"max_calls_per_connection", "0"}});
  sdk::ConfigReader r(s);
  (void)ParseSignalingConfig(r);
  auto problems = r.Problems();
  ASSERT_GE(problems.size(), 3u);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_NE(all.find("max_name_bytes"), std::string::npos) << all;
  EXPECT_NE(all.find("max_groups_per_connection"), std::string::npos) << all;
  EXPECT_NE(all.find("max_calls_per_connection"), std::string::npos) << all;
}

TEST(SignalingConfig, SessionCheckInterval) {
  auto d = Section({});
  sdk::ConfigReader rd(d);
  EXPECT_EQ(ParseSignalingConfig(rd).session_check_interval, std::chrono::seconds(10));
  auto ok = Section({{"session_check_interval", "2s"}});
  sdk::ConfigReader r(ok);
  EXPECT_EQ(ParseSignalingConfig(r).session_check_interval, std::chrono::seconds(2));
  EXPECT_TRUE(r.Finish());
  for (const char* bad : {"0s", "2h"}) {
    auto s = Section({{"session_check_interval", bad}});
    sdk::ConfigReader rb(s);
    (void)ParseSignalingConfig(rb);
    ASSERT_EQ(rb.Problems().size(), 1u) << bad;
    EXPECT_NE(rb.Problems()[0].find("session_check_interval"), std::string::npos) << bad;
  }
}

TEST(SignalingConfig, RejectsAUserLimitBelowTheConnectionLimit) {
  auto s = Section({{"max_groups_per_connection", "8"}, {"max_groups_per_user", "4"},
                    {"max_calls_per_connection", "8"}, {"max_calls_per_user", "4"}});
  sdk::ConfigReader r(s);
  (void)ParseSignalingConfig(r);
  auto problems = r.Problems();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("max_groups_per_user: must be at least max_groups_per_connection"), std::string::npos)
      << problems[0];
  EXPECT_NE(problems[1].find("max_calls_per_user: must be at least max_calls_per_connection"), std::string::npos)
      << problems[1];
}

}  // namespace
}  // namespace palaver::signaling
