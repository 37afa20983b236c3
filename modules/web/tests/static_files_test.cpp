#include <gtest/gtest.h>

#include "static_files.hpp"

namespace palaver::web {
namespace {

TEST(SafeRelativePath, FoldsHarmlessSegments) {
  EXPECT_EQ(SafeRelativePath(""), "");
  EXPECT_EQ(SafeRelativePath("assets//app.js"), "assets/app.js");
  EXPECT_EQ(SafeRelativePath("./index.html"), "index.html");
}

TEST(SafeRelativePath, RefusesTraversalAndHiddenFiles) {
  EXPECT_FALSE(SafeRelativePath("../etc/passwd"));
  EXPECT_FALSE(SafeRelativePath("a/../../etc/passwd"));
  EXPECT_FALSE(SafeRelativePath(".git/config"));
  EXPECT_FALSE(SafeRelativePath("a/.env"));
  EXPECT_FALSE(SafeRelativePath("a\\..\\b"));
  EXPECT_FALSE(SafeRelativePath(std::string_view("a\0b", 3)));
}

TEST(ParseRange, SingleRanges) {
  ByteRange r;
  ASSERT_EQ(ParseRange("bytes=0-99", 1000, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 99u);
  ASSERT_EQ(ParseRange("bytes=900-", 1000, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.Length(), 100u);
  ASSERT_EQ(ParseRange("bytes=-10", 1000, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.first, 990u);
  ASSERT_EQ(ParseRange("bytes=-5000", 1000, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.first, 0u);
  ASSERT_EQ(ParseRange("bytes=500-5000", 1000, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.last, 999u);
}

TEST(ParseRange, UnsatisfiableAndIgnored) {
  ByteRange r;
  EXPECT_EQ(ParseRange("bytes=1000-", 1000, r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 1000, r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-1,5-6", 1000, r), RangeResult::kNone);
  EXPECT_EQ(ParseRange("bytes=9-3", 1000, r), RangeResult::kNone);
  EXPECT_EQ(ParseRange("items=0-1", 1000, r), RangeResult::kNone);
  EXPECT_EQ(ParseRange("bytes=x-1", 1000, r), RangeResult::kNone);
  EXPECT_EQ(ParseRange("bytes=99999999999999999999-", 1000, r), RangeResult::kNone);
}

TEST(CacheControlFor, ImmutableOnlyForFingerprintedAssets) {
  EXPECT_EQ(CacheControlFor("index.html"), "no-cache");
  EXPECT_EQ(CacheControlFor("service-worker.js"), "no-cache");
  EXPECT_EQ(CacheControlFor("manifest.json"), "no-cache");
  EXPECT_EQ(CacheControlFor("assets/index-B6xk9aQ2.js"), "public, max-age=31536000, immutable");
  EXPECT_EQ(CacheControlFor("main.3f2a9c1e.css"), "public, max-age=31536000, immutable");
  EXPECT_EQ(CacheControlFor("app-settings.js"), "no-cache");
}

TEST(ContentTypeFor, KnownAndUnknown) {
  EXPECT_EQ(ContentTypeFor("a.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("x.woff2"), "font/woff2");
  EXPECT_EQ(ContentTypeFor("README"), "application/octet-stream");
  EXPECT_TRUE(IsCompressible("text/css; charset=utf-8"));
  EXPECT_FALSE(IsCompressible("image/png"));
}

TEST(EtagMatches, WeakComparisonAndLists) {
  EXPECT_TRUE(EtagMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches("\"x\", \"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches("*", "\"abc\""));
  EXPECT_FALSE(EtagMatches("\"abd\"", "\"abc\""));
  EXPECT_FALSE(EtagMatches("", "\"abc\""));
}

TEST(AcceptsEncoding, QualityZeroExcludes) {
  EXPECT_TRUE(AcceptsEncoding("gzip, deflate, br", "br"));
  EXPECT_TRUE(AcceptsEncoding("gzip;q=0.5", "gzip"));
  EXPECT_FALSE(AcceptsEncoding("gzip;q=0", "gzip"));
  EXPECT_FALSE(AcceptsEncoding("identity", "gzip"));
  EXPECT_TRUE(AcceptsEncoding("*", "br"));
  EXPECT_FALSE(AcceptsEncoding("*, br;q=0", "br"));
}

}  // namespace
}  // namespace palaver::web
