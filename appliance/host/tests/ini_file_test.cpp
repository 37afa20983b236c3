#include <gtest/gtest.h>

#include "ini_file.hpp"

namespace palaver::host {
namespace {

TEST(ParseIni, SectionsKeysCommentsAndQuotes) {
  auto f = ParseIni("# comment\n[palaver]\nhostnames = a.example, b.example\n; other\n\n[web]\nhsts = \" x \"\n", "p.cfg");
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->sections.size(), 2u);
  EXPECT_EQ(f->sections["palaver"].entries["hostnames"].value, "a.example, b.example");
  EXPECT_EQ(f->sections["palaver"].entries["hostnames"].line, 3);
  EXPECT_EQ(f->sections["web"].entries["hsts"].value, " x ");
  EXPECT_EQ(f->sections["web"].line, 6);
}

TEST(ParseIni, ReportsEveryErrorWithLine) {
  auto f = ParseIni("key = outside\n[ok]\nnot a pair\n[ok]\n[Bad]\n[x]\na = 1\na = 2\n[y\n", "p.cfg");
  ASSERT_FALSE(f);
  const std::string& m = f.error().message;
  EXPECT_NE(m.find("p.cfg:1: key \"key\" outside of a [section]"), std::string::npos) << m;
  EXPECT_NE(m.find("p.cfg:3: expected 'key = value'"), std::string::npos) << m;
  EXPECT_NE(m.find("p.cfg:4: section [ok] appears twice"), std::string::npos) << m;
  EXPECT_NE(m.find("p.cfg:5: invalid section name"), std::string::npos) << m;
  EXPECT_NE(m.find("p.cfg:8: [x] a set twice (first at line 7)"), std::string::npos) << m;
  EXPECT_NE(m.find("p.cfg:9: section header must end with ']'"), std::string::npos) << m;
}

TEST(LoadIniFile, MissingAndBinaryFiles) {
  auto missing = LoadIniFile("/nonexistent/palaver.cfg");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot read config file"), std::string::npos);
  auto bin = ParseIni(std::string("[a]\nx = 1\0\n", 11), "b.cfg");
  ASSERT_TRUE(bin);  // ParseIni takes text; LoadIniFile refuses NULs before parsing
}

}  // namespace
}  // namespace palaver::host
