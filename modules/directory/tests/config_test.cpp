#include <gtest/gtest.h>

#include "config.hpp"

namespace palaver::directory {
namespace {

TEST(DirectoryConfig, DefaultsAndRejections) {
  sdk::ConfigSection empty{.name = "directory", .file = "p.cfg"};
  sdk::ConfigReader r(empty);
  auto c = ParseDirectoryConfig(r);
  EXPECT_TRUE(r.Finish());
  EXPECT_EQ(c.backend, "local");
  EXPECT_TRUE(c.initial_admin);

  sdk::ConfigSection bad{.name = "directory", .file = "p.cfg", .line = 1,
                         .entries = {{"backend", {"ad", 2}}, {"initial_admin", {"perhaps", 3}}}};
  sdk::ConfigReader rb(bad);
  (void)ParseDirectoryConfig(rb);
  auto problems = rb.Problems();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("p.cfg:2: [directory] backend: must be one of local"), std::string::npos);
}

}  // namespace
}  // namespace palaver::directory
