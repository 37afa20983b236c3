#include <gtest/gtest.h>

#include "palaver/sdk/config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace palaver::sdk {
namespace {

ConfigSection MakeSection(std::map<std::string, std::string> kv) {
  ConfigSection s;
  s.name = "demo";
  s.file = "/etc/palaver.cfg";
  s.line = 3;
  int line = 4;
  for (auto& [k, v] : kv) s.entries[k] = ConfigEntry{v, line++};
  return s;
}

TEST(ConfigReader, DefaultsWhenAbsent) {
  auto s = MakeSection({});
  ConfigReader r(s);
  EXPECT_EQ(r.String("name", "x"), "x");
  EXPECT_TRUE(r.Bool("flag", true));
  EXPECT_EQ(r.Int("n", 7, 0, 10), 7);
  EXPECT_EQ(r.Duration("t", std::chrono::seconds(5)), std::chrono::seconds(5));
  EXPECT_TRUE(r.Finish());
  EXPECT_EQ(r.KeysAsked().size(), 4u);
}

TEST(ConfigReader, ParsesTypedValues) {
  auto s = MakeSection({{"flag", "no"}, {"n", "9"}, {"t", "2m"}, {"ms", "250ms"}, {"size", "64k"},
                        {"list", "a, b  c,"}, {"mode", "files"}});
  ConfigReader r(s);
  EXPECT_FALSE(r.Bool("flag", true));
  EXPECT_EQ(r.Int("n", 0, 0, 10), 9);
  EXPECT_EQ(r.Duration("t", {}), std::chrono::minutes(2));
  EXPECT_EQ(r.Duration("ms", {}), std::chrono::milliseconds(250));
  EXPECT_EQ(r.Size("size", 0), 65536);
  EXPECT_EQ(r.List("list", {}), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(r.Enum("mode", "auto", {"auto", "files"}), "files");
  EXPECT_TRUE(r.Finish());
}

TEST(ConfigReader, RejectsUnknownKeyWithFileAndLine) {
  auto s = MakeSection({{"typo", "1"}});
  ConfigReader r(s);
  (void)r.String("name", "");
  auto st = r.Finish();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "/etc/palaver.cfg:4: [demo] typo: unknown key");
}

TEST(ConfigReader, ReportsEveryBadValueAtOnce) {
  auto s = MakeSection({{"a", "maybe"}, {"b", "99"}, {"c", "5 parsecs"}, {"d", "12q"}, {"e", "x"}});
  ConfigReader r(s);
  (void)r.Bool("a", false);
  (void)r.Int("b", 0, 0, 10);
  (void)r.Duration("c", {});
  (void)r.Size("d", 0);
  (void)r.Enum("e", "y", {"y", "z"});
  auto problems = r.Problems();
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_NE(problems[0].find(":4: [demo] a: expected yes/no"), std::string::npos);
  EXPECT_NE(problems[1].find("must be between 0 and 10"), std::string::npos);
  EXPECT_FALSE(r.Finish());
}

TEST(ConfigReader, RejectsIntegerJunkAndOverflow) {
  auto s = MakeSection({{"a", "12abc"}, {"b", ""}, {"c", "99999999999999999999"}, {"d", "-3"}});
  ConfigReader r(s);
  EXPECT_EQ(r.Int("a", 1, -10, 100), 1);
  EXPECT_EQ(r.Int("b", 2, -10, 100), 2);
  EXPECT_EQ(r.Int("c", 3, -10, 100), 3);
  EXPECT_EQ(r.Int("d", 4, -10, 100), -3);
  EXPECT_EQ(r.Problems().size(), 3u);
}

TEST(WarnIfReadableByOthers, OnlyWhenOthersMayReadTheSecret) {
  char dir_template[] = "/tmp/palaver-secret-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  std::filesystem::path dir(dir_template);
  auto path = dir / "secret";
  std::ofstream(path) << "a-secret-long-enough\n";
  auto warnings_at = [&](mode_t mode) {
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    auto s = MakeSection({{"secret_file", path.string()}});
    ConfigReader r(s);
    (void)r.String("secret_file", "");
    WarnIfReadableByOthers(r, "secret_file", path);
    EXPECT_TRUE(r.Finish());  // a warning never fails the file
    return r.Warnings();
  };
  EXPECT_TRUE(warnings_at(0600).empty());
  EXPECT_TRUE(warnings_at(0640).empty());  // the palaver group may read it
  auto w = warnings_at(0644);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "/etc/palaver.cfg:4: [demo] secret_file: warning: " + path.string() +
                      " is open to other users (mode 0644); run: chmod o-rwx " + path.string());
  EXPECT_EQ(warnings_at(0604).size(), 1u);
  EXPECT_EQ(warnings_at(0602).size(), 1u);  // others may replace the secret: as bad
  // A file that is not there is the caller's error to report, not a warning.
  auto s = MakeSection({});
  ConfigReader r(s);
  WarnIfReadableByOthers(r, "secret_file", dir / "absent");
  EXPECT_TRUE(r.Warnings().empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace palaver::sdk
