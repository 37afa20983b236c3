#include <gtest/gtest.h>

#include "host_config.hpp"

namespace palaver::host {
namespace {

sdk::ConfigSection Section(std::map<std::string, std::string> kv) {
  sdk::ConfigSection s;
  s.name = "palaver";
  s.file = "p.cfg";
  int line = 2;
  for (auto& [k, v] : kv) s.entries[k] = sdk::ConfigEntry{v, line++};
  return s;
}

TEST(HostConfig, Defaults) {
  auto s = Section({});
  sdk::ConfigReader r(s);
  HostConfig c = ParseHostConfig(r);
  EXPECT_TRUE(r.Finish());
  EXPECT_EQ(c.hostnames, std::vector<std::string>{"localhost"});
  EXPECT_EQ(c.https_port, 443);
  EXPECT_EQ(c.http_port, 80);
  EXPECT_EQ(c.state_dir, "/var/lib/palaver");
  EXPECT_EQ(c.metrics_allow.size(), 2u);
}

TEST(HostConfig, RejectsBadValues) {
  auto s = Section({{"hostnames", "bad_host!"}, {"state_dir", "relative"}, {"https_port", "70000"},
                    {"log_levels", "tls=loud"}, {"metrics_allow", "10.0.0.0/99"}, {"max_header_size", "100"}});
  sdk::ConfigReader r(s);
  (void)ParseHostConfig(r);
  EXPECT_EQ(r.Problems().size(), 6u);
}

}  // namespace
}  // namespace palaver::host
