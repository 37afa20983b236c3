#include <gtest/gtest.h>

#include "config.hpp"

namespace palaver::web {
namespace {

sdk::ConfigSection Section(std::map<std::string, std::string> kv) {
  sdk::ConfigSection s;
  s.name = "web";
  s.file = "t.cfg";
  int line = 2;
  for (auto& [k, v] : kv) s.entries[k] = sdk::ConfigEntry{v, line++};
  return s;
}

TEST(WebConfig, Defaults) {
  auto s = Section({});
  sdk::ConfigReader r(s);
  WebConfig c = ParseWebConfig(r);
  EXPECT_TRUE(r.Finish());
  EXPECT_EQ(c.root, std::string(sdk::kDefaultWebRoot));
  EXPECT_TRUE(c.root.ends_with("/share/palaver/webui"));
  EXPECT_EQ(c.hsts, "max-age=31536000");
  EXPECT_EQ(c.frame_ancestors, "'self'");
  EXPECT_TRUE(c.redirect_root);
}

TEST(WebConfig, RejectsRelativeRootAndHeaderInjection) {
  auto s = Section({{"root", "webui"}, {"frame_ancestors", "'self'; script-src *"}, {"meet_config_file", "meet.json"}});
  sdk::ConfigReader r(s);
  (void)ParseWebConfig(r);
  auto problems = r.Problems();
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("root: must be an absolute path"), std::string::npos);
}

}  // namespace
}  // namespace palaver::web
