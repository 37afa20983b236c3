#include "ttl_cache.hpp"

#include <gtest/gtest.h>

namespace palaver::directory {
namespace {

size_t Len(const std::string& s) { return s.size(); }

TEST(TtlCache, FreshThenStaleThenGone) {
  TtlCache<std::string> c(10000, /*ttl_ms=*/100, /*max_stale_ms=*/1000, Len);
  c.Put("k", "v", 0);
  auto hit = c.Get("k", 99, false);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->fresh);
  EXPECT_FALSE(c.Get("k", 100, false));  // expired: only with allow_stale
  hit = c.Get("k", 500, true);
  ASSERT_TRUE(hit);
  EXPECT_FALSE(hit->fresh);
  EXPECT_EQ(hit->value, "v");
  EXPECT_FALSE(c.Get("k", 1100, true));  // past ttl + max stale: dropped
  EXPECT_EQ(c.Size(), 0u);
}

TEST(TtlCache, BoundedByBytesLeastRecentlyUsedFirst) {
  TtlCache<std::string> c(3 * (100 + 1 + 64), 1000, 0, Len);
  c.Put("a", std::string(100, 'a'), 0);
  c.Put("b", std::string(100, 'b'), 0);
  c.Put("c", std::string(100, 'c'), 0);
  ASSERT_TRUE(c.Get("a", 1, false));  // a is now the most recently used
  c.Put("d", std::string(100, 'd'), 1);
  EXPECT_TRUE(c.Get("a", 2, false));
  EXPECT_FALSE(c.Get("b", 2, false));
  EXPECT_TRUE(c.Get("d", 2, false));
  EXPECT_LE(c.Bytes(), 3u * (100 + 1 + 64));
  c.Put("huge", std::string(10000, 'x'), 3);  // larger than the whole cache: not kept
  EXPECT_FALSE(c.Get("huge", 3, false));
  EXPECT_TRUE(c.Get("a", 3, false));
}

TEST(TtlCache, PutReplacesAndErase) {
  TtlCache<std::string> c(10000, 100, 0, Len);
  c.Put("k", "one", 0);
  c.Put("k", "two", 50);
  EXPECT_EQ(c.Get("k", 120, false)->value, "two");  // the TTL counts from the last put
  c.Erase("k");
  EXPECT_FALSE(c.Get("k", 120, true));
  EXPECT_EQ(c.Bytes(), 0u);
}

}  // namespace
}  // namespace palaver::directory
