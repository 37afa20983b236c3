#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "file_cache.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::web {
namespace {

class FileCacheTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    return p;
  }
  FileCache Make(FileCache::Limits limits) {
    return FileCache(limits, [this] { return now_; });
  }
  palaver::testing::TempDir tmp_;
  const std::filesystem::path& dir_ = tmp_.path();
  std::chrono::steady_clock::time_point now_{};
};

TEST_F(FileCacheTest, CachesSmallFilesAndRevalidatesAfterInterval) {
  auto p = Write("a.js", "one");
  auto cache = Make({});
  const auto& e = cache.Lookup(p);
  ASSERT_TRUE(e.is_file);
  ASSERT_TRUE(e.data);
  EXPECT_EQ(*e.data, "one");
  Write("a.js", "two!");
  EXPECT_EQ(*cache.Lookup(p).data, "one");  // within the revalidation window
  now_ += std::chrono::milliseconds(1500);
  EXPECT_EQ(*cache.Lookup(p).data, "two!");
  EXPECT_EQ(cache.Lookup(p).size, 4u);
}

TEST_F(FileCacheTest, MissingFilesAndDirectoriesAreNotFiles) {
  auto cache = Make({});
  EXPECT_FALSE(cache.Lookup((dir_ / "nope").string()).is_file);
  EXPECT_FALSE(cache.Lookup(dir_.string()).is_file);
  auto p = Write("late.css", "x");
  now_ += std::chrono::seconds(2);
  EXPECT_TRUE(cache.Lookup(p).is_file);
  std::filesystem::remove(p);
  now_ += std::chrono::seconds(2);
  EXPECT_FALSE(cache.Lookup(p).is_file);
}

TEST_F(FileCacheTest, LargeFilesAreNotHeldInMemory) {
  auto p = Write("big.bin", std::string(2000, 'b'));
  auto cache = Make({.max_file_bytes = 1000});
  const auto& e = cache.Lookup(p);
  EXPECT_TRUE(e.is_file);
  EXPECT_EQ(e.size, 2000u);
  EXPECT_FALSE(e.data);
}

TEST_F(FileCacheTest, BoundsEntriesAndBytes) {
  auto cache = Make({.max_file_bytes = 100, .max_total_bytes = 250, .max_entries = 3});
  for (int i = 0; i < 5; ++i) {
    (void)cache.Lookup(Write("f" + std::to_string(i), std::string(100, 'x')));
    EXPECT_LE(cache.Entries(), 3u);
    EXPECT_LE(cache.Bytes(), 250u);
  }
  // Served data stays valid for a response holding it even after eviction.
  auto held = cache.Lookup(Write("keep", "kept")).data;
  for (int i = 0; i < 5; ++i) (void)cache.Lookup(Write("g" + std::to_string(i), std::string(100, 'y')));
  EXPECT_EQ(*held, "kept");
}

}  // namespace
}  // namespace palaver::web
