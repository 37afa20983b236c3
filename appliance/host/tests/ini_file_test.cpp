#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ini_file.hpp"
#include "palaver/testing/temp_dir.hpp"
#include "palaver/testing/unprivileged.hpp"

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

TEST(ParseIni, InlineCommentsAfterWhitespace) {
  auto f = ParseIni(
      "[turn]\nexternal_ip = 203.0.113.10          ; public address\n"
      "realm = example # note\nuris = turn:a#b;c\nempty = # nothing\n"
      "quoted = \"a # b ; c\"   # the comment\nregexp = ^group/(a|b)#x\n",
      "p.cfg");
  ASSERT_TRUE(f) << f.error().message;
  auto& e = f->sections["turn"].entries;
  EXPECT_EQ(e["external_ip"].value, "203.0.113.10");
  EXPECT_EQ(e["realm"].value, "example");
  EXPECT_EQ(e["uris"].value, "turn:a#b;c");  // inside a word: part of the value
  EXPECT_EQ(e["empty"].value, "");
  EXPECT_EQ(e["quoted"].value, "a # b ; c");
  EXPECT_EQ(e["regexp"].value, "^group/(a|b)#x");
}

TEST(ParseIni, BrokenQuotesAreErrors) {
  auto f = ParseIni("[a]\nx = \"open\ny = \"one\" two\n", "q.cfg");
  ASSERT_FALSE(f);
  const std::string& m = f.error().message;
  EXPECT_NE(m.find("q.cfg:2: x: value has an opening"), std::string::npos) << m;
  EXPECT_NE(m.find("q.cfg:3: y: unexpected text after the quoted value: \"two\""), std::string::npos) << m;
}

TEST(LoadIniFile, SaysWhyAFileCannotBeRead) {
  auto missing = LoadIniFile("/nonexistent/palaver.cfg");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "cannot read config file /nonexistent/palaver.cfg: no such file");
  auto dir = std::filesystem::temp_directory_path() / ("palaver-ini-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto is_dir = LoadIniFile(dir);
  ASSERT_FALSE(is_dir);
  EXPECT_NE(is_dir.error().message.find(": it is a directory"), std::string::npos) << is_dir.error().message;
  auto locked = dir / "locked.cfg";
  std::ofstream(locked) << "[a]\n";
  std::filesystem::permissions(locked, std::filesystem::perms::none);
  // Root reads it anyway: the check runs in a child that drops to nobody when the tests run as root.
  std::string verdict = palaver::testing::RunUnprivileged([&]() -> std::string {
    auto denied = LoadIniFile(locked);
    if (denied) return "a file with mode 0 was read";
    if (denied.error().message.find(": permission denied") == std::string::npos) return denied.error().message;
    return "";
  });
  EXPECT_EQ(verdict, "");
  std::filesystem::remove_all(dir);
}

TEST(LoadIniFile, MissingAndBinaryFiles) {
  auto missing = LoadIniFile("/nonexistent/palaver.cfg");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot read config file"), std::string::npos);
  auto bin = ParseIni(std::string("[a]\nx = 1\0\n", 11), "b.cfg");
  ASSERT_TRUE(bin);  // ParseIni takes text; LoadIniFile refuses NULs before parsing
}

TEST(LoadConfigFiles, DropInsOverrideKeysInNameOrderAndAreNamedInErrors) {
  palaver::testing::TempDir tmp;
  auto main = tmp.path() / "palaver.cfg";
  std::ofstream(main) << "[palaver]\nhostnames = localhost\nhttps_port = 443\n";
  std::filesystem::create_directories(tmp.path() / "palaver.cfg.d");
  std::ofstream(tmp.path() / "palaver.cfg.d" / "50-site.cfg") << "[palaver]\nhttps_port = 8443\n";
  std::ofstream(tmp.path() / "palaver.cfg.d" / "00-hostname.cfg") << "[palaver]\nhostnames = a.example\n"
                                                                     "\n[web]\nroot = /srv/web\n";
  std::ofstream(tmp.path() / "palaver.cfg.d" / "README") << "not a config file";
  std::ofstream(tmp.path() / "palaver.cfg.d" / "60-site.cfg.dpkg-old") << "junk";
  auto file = LoadConfigFiles(main);
  ASSERT_TRUE(file) << file.error().message;
  const auto& p = file->sections.at("palaver");
  EXPECT_EQ(p.entries.at("hostnames").value, "a.example");
  EXPECT_EQ(p.entries.at("https_port").value, "8443");
  EXPECT_EQ(p.file, main.string());
  EXPECT_EQ(p.entries.at("hostnames").file, (tmp.path() / "palaver.cfg.d" / "00-hostname.cfg").string());
  EXPECT_EQ(file->sections.at("web").entries.at("root").value, "/srv/web");
  // Said where a drop-in hides a value of an earlier file (not for keys only a drop-in sets).
  ASSERT_EQ(file->overrides.size(), 2u);
  EXPECT_EQ(file->overrides[0], (tmp.path() / "palaver.cfg.d" / "00-hostname.cfg").string() +
                                    ":2: [palaver] hostnames overrides " + main.string() + ":2");
  EXPECT_EQ(file->overrides[1], (tmp.path() / "palaver.cfg.d" / "50-site.cfg").string() +
                                    ":2: [palaver] https_port overrides " + main.string() + ":3");
  // A bad value is reported at the drop-in that set it.
  sdk::ConfigSection section = p;
  sdk::ConfigReader reader(section);
  reader.Reject("https_port", "bad");
  EXPECT_EQ(reader.Problems().at(0),
            (tmp.path() / "palaver.cfg.d" / "50-site.cfg").string() + ":2: [palaver] https_port: bad");
  // A syntax error in a drop-in fails the whole load, naming the file.
  std::ofstream(tmp.path() / "palaver.cfg.d" / "70-bad.cfg") << "[palaver\n";
  auto bad = LoadConfigFiles(main);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("70-bad.cfg:1:"), std::string::npos) << bad.error().message;
  // Without the directory only the main file counts.
  std::filesystem::remove_all(tmp.path() / "palaver.cfg.d");
  auto plain = LoadConfigFiles(main);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->sections.at("palaver").entries.at("hostnames").value, "localhost");
}

}  // namespace
}  // namespace palaver::host
