// The TURN secret on disk: generation, rotation, the previous secret's window, crash safety.
#include "secret_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "palaver/testing/temp_dir.hpp"

namespace palaver::turn {
namespace {

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

TEST(SecretStore, GeneratedOnceWithMode0600) {
  testing::TempDir dir;
  auto path = dir.path() / "turn_secret";
  bool generated = false;
  auto first = LoadSecrets(path, 86400, 1000, &generated);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(generated);
  EXPECT_GE(first->current.size(), 32u);
  EXPECT_FALSE(first->previous);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadSecrets(path, 86400, 1000, &generated);
  ASSERT_TRUE(again);
  EXPECT_FALSE(generated);
  EXPECT_EQ(again->current, first->current);
}

TEST(SecretStore, ShortSecretIsAnErrorNamingTheFile) {
  testing::TempDir dir;
  auto path = dir.path() / "turn_secret";
  Write(path, "short\n");
  auto r = LoadSecrets(path, 86400, 1000, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().public_message.find(path.string()), std::string::npos);
}

TEST(SecretStore, RotationKeepsThePreviousForOneCredentialLifetime) {
  testing::TempDir dir;
  auto path = dir.path() / "turn_secret";
  auto before = LoadSecrets(path, 3600, 1000, nullptr);
  ASSERT_TRUE(before);
  auto after = RotateSecret(path, *before, 3600, 5000);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_NE(after->current, before->current);
  ASSERT_TRUE(after->previous);
  EXPECT_EQ(after->previous->secret, before->current);
  EXPECT_EQ(after->previous->max_expiry, 5000 + 3600);
  EXPECT_EQ(Read(path), after->current + "\n");
  // A restart within the window accepts the previous secret for the same credentials ...
  auto restarted = LoadSecrets(path, 3600, 8000, nullptr);
  ASSERT_TRUE(restarted);
  EXPECT_EQ(restarted->current, after->current);
  ASSERT_TRUE(restarted->previous);
  EXPECT_EQ(restarted->previous->secret, before->current);
  EXPECT_EQ(restarted->previous->max_expiry, 8600);
  // ... and one after it forgets it, removing the file.
  auto later = LoadSecrets(path, 3600, 8601, nullptr);
  ASSERT_TRUE(later);
  EXPECT_FALSE(later->previous);
  EXPECT_FALSE(std::filesystem::exists(PreviousSecretPath(path)));
}

TEST(SecretStore, CrashBetweenTheTwoWritesLosesNothing) {
  testing::TempDir dir;
  auto path = dir.path() / "turn_secret";
  auto state = LoadSecrets(path, 3600, 1000, nullptr);
  ASSERT_TRUE(state);
  // The previous file was written, the new secret was not: the current one is unchanged and
  // the previous file (the same secret) is dropped.
  Write(PreviousSecretPath(path), "2000\n" + state->current + "\n");
  auto after = LoadSecrets(path, 3600, 2500, nullptr);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->current, state->current);
  EXPECT_FALSE(after->previous);
}

TEST(SecretStore, MalformedPreviousFileIsIgnoredAndRemoved) {
  testing::TempDir dir;
  auto path = dir.path() / "turn_secret";
  ASSERT_TRUE(LoadSecrets(path, 3600, 1000, nullptr));
  for (const char* junk : {"", "yesterday\nabcdefghijklmnopqrstuvwxyz\n", "2000\nshort\n", "-5\nabcdefghijklmnopqrstuvwxyz\n"}) {
    Write(PreviousSecretPath(path), junk);
    auto r = LoadSecrets(path, 3600, 2500, nullptr);
    ASSERT_TRUE(r) << junk;
    EXPECT_FALSE(r->previous) << junk;
    EXPECT_FALSE(std::filesystem::exists(PreviousSecretPath(path))) << junk;
  }
}

}  // namespace
}  // namespace palaver::turn
