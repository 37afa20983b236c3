#include <gtest/gtest.h>

#include "host_config.hpp"
#include "palaver/sdk/install_paths.hpp"

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
  EXPECT_EQ(c.state_dir, sdk::kDefaultStateDir);
  EXPECT_TRUE(c.state_dir.string().ends_with("/lib/palaver"));
  EXPECT_EQ(c.metrics_allow.size(), 2u);
}

TEST(HostConfig, RejectsBadValues) {
  auto s = Section({{"hostnames", "bad_host!"}, {"state_dir", "relative"}, {"https_port", "70000"},
                    {"log_levels", "tls=loud"}, {"metrics_allow", "10.0.0.0/99"}, {"max_header_size", "100"}});
  sdk::ConfigReader r(s);
  (void)ParseHostConfig(r);
  EXPECT_EQ(r.Problems().size(), 6u);
}

TEST(HostConfig, TrustedProxies) {
  auto none = Section({});
  sdk::ConfigReader r0(none);
  HostConfig c0 = ParseHostConfig(r0);
  EXPECT_TRUE(r0.Finish());
  EXPECT_TRUE(c0.trusted_proxies.empty());  // no proxy is trusted unless configured
  EXPECT_EQ(c0.proxy_header, net::ProxyHeader::kXForwardedFor);

  auto s = Section({{"trusted_proxies", "127.0.0.1, ::1 10.0.0.0/8"}, {"proxy_header", "forwarded"}});
  sdk::ConfigReader r(s);
  HostConfig c = ParseHostConfig(r);
  EXPECT_TRUE(r.Finish());
  ASSERT_EQ(c.trusted_proxies.size(), 3u);
  EXPECT_TRUE(AnyContains(c.trusted_proxies, "10.9.8.7"));
  EXPECT_FALSE(AnyContains(c.trusted_proxies, "11.0.0.1"));
  EXPECT_EQ(c.proxy_header, net::ProxyHeader::kForwarded);

  auto bad = Section({{"trusted_proxies", "127.0.0.1, apache.example"}, {"proxy_header", "x-real-ip"}});
  sdk::ConfigReader rb(bad);
  (void)ParseHostConfig(rb);
  EXPECT_EQ(rb.Problems().size(), 2u);
}

TEST(HostConfig, PlainAndTlsPortsMustDiffer) {
  auto same = Section({{"https_port", "8443"}, {"http_port", "8443"}});
  sdk::ConfigReader r(same);
  (void)ParseHostConfig(r);
  ASSERT_EQ(r.Problems().size(), 1u);
  EXPECT_NE(r.Problems()[0].find("http_port: is the same as https_port (8443)"), std::string::npos) << r.Problems()[0];
  auto off = Section({{"https_port", "8443"}, {"http_port", "8443"}, {"http_redirect", "no"}});
  sdk::ConfigReader r2(off);
  (void)ParseHostConfig(r2);
  EXPECT_TRUE(r2.Problems().empty());
  auto ephemeral = Section({{"https_port", "0"}, {"http_port", "0"}});
  sdk::ConfigReader r3(ephemeral);
  (void)ParseHostConfig(r3);
  EXPECT_TRUE(r3.Problems().empty());
}

TEST(HostConfig, NetLimits) {
  auto d = Section({});
  sdk::ConfigReader rd(d);
  HostConfig c = ParseHostConfig(rd);
  EXPECT_EQ(c.limits.max_buffered_body_bytes, 32 * 1024 * 1024);
  EXPECT_EQ(c.limits.body_min_rate, 16 * 1024);
  EXPECT_EQ(c.limits.max_concurrent_streams, 100);
  auto s = Section({{"max_buffered_body_bytes", "8m"}, {"body_min_rate", "1k"}, {"max_concurrent_streams", "20"}});
  sdk::ConfigReader r(s);
  c = ParseHostConfig(r);
  EXPECT_TRUE(r.Finish());
  EXPECT_EQ(c.limits.max_buffered_body_bytes, 8 * 1024 * 1024);
  EXPECT_EQ(c.limits.body_min_rate, 1024);
  EXPECT_EQ(c.limits.max_concurrent_streams, 20);
  auto bad = Section({{"max_buffered_body_bytes", "1k"}, {"body_min_rate", "0"}, {"max_concurrent_streams", "0"}});
  sdk::ConfigReader rb(bad);
  (void)ParseHostConfig(rb);
  EXPECT_EQ(rb.Problems().size(), 3u);
}

}  // namespace
}  // namespace palaver::host
