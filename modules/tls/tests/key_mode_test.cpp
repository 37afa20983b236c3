#include "key_mode.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "palaver/testing/temp_dir.hpp"

namespace palaver::tls {
namespace {

std::filesystem::path KeyWithMode(const palaver::testing::TempDir& dir, mode_t mode) {
  auto path = dir.path() / "server.key";
  std::ofstream(path) << "-----BEGIN PRIVATE KEY-----\n";
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(KeyFileTooOpen, OwnerOnlyIsFine) {
  palaver::testing::TempDir dir;
  EXPECT_FALSE(KeyFileTooOpen(KeyWithMode(dir, 0600)));
  EXPECT_FALSE(KeyFileTooOpen(KeyWithMode(dir, 0400)));
}

TEST(KeyFileTooOpen, WorldReadableNamesTheFileAndTheFix) {
  palaver::testing::TempDir dir;
  auto path = KeyWithMode(dir, 0644);
  auto warning = KeyFileTooOpen(path);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find(path.string()), std::string::npos);
  EXPECT_NE(warning->find("0644"), std::string::npos);
  EXPECT_NE(warning->find("its group and others"), std::string::npos);
  EXPECT_NE(warning->find("chmod 600 " + path.string()), std::string::npos);
}

TEST(KeyFileTooOpen, GroupOnlyIsAlsoTooOpen) {
  palaver::testing::TempDir dir;
  auto warning = KeyFileTooOpen(KeyWithMode(dir, 0640));
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("open to its group ("), std::string::npos);
}

TEST(KeyFileTooOpen, MissingFileIsLeftToTheLoader) {
  palaver::testing::TempDir dir;
  EXPECT_FALSE(KeyFileTooOpen(dir.path() / "nope.key"));
  EXPECT_FALSE(KeyFileTooOpen({}));
}

}  // namespace
}  // namespace palaver::tls
