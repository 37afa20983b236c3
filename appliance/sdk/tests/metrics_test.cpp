#include "palaver/sdk/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

namespace palaver::sdk {
namespace {

TEST(Histogram, CountsEachValueInTheFirstBucketWhoseBoundHoldsIt) {
  Histogram h({0.1, 1, 10});
  h.Observe(0.05);
  h.Observe(0.1);  // a bound is inclusive (le = "less or equal")
  h.Observe(0.5);
  h.Observe(10);
  h.Observe(11);
  Histogram::Snapshot s = h.Take();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);
  EXPECT_EQ(s.cumulative[1], 3u);
  EXPECT_EQ(s.cumulative[2], 4u);
  EXPECT_EQ(s.cumulative[3], 5u);  // +Inf
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 0.05 + 0.1 + 0.5 + 10 + 11);
}

TEST(Histogram, IgnoresNaNAndStartsEmpty) {
  Histogram h({1});
  EXPECT_EQ(h.Take().count, 0u);
  h.Observe(std::nan(""));
  EXPECT_EQ(h.Take().count, 0u);
  EXPECT_EQ(h.Take().sum, 0);
}

TEST(Histogram, ObservesDurationsInSeconds) {
  Histogram h(LatencyBuckets());
  h.ObserveDuration(std::chrono::milliseconds(30));
  Histogram::Snapshot s = h.Take();
  EXPECT_DOUBLE_EQ(s.sum, 0.03);
  // 0.03 s lies in (0.025, 0.05]: the 0.05 bucket is the first to count it.
  const auto& b = h.Bounds();
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(s.cumulative[i], b[i] >= 0.03 ? 1u : 0u) << b[i];
}

TEST(Histogram, ScopedTimerObservesOnceAtStop) {
  Histogram h({1000});
  {
    ScopedTimer t(h);
    t.Stop();
  }  // the destructor after Stop does not count again
  EXPECT_EQ(h.Take().count, 1u);
  EXPECT_EQ(h.Take().cumulative[0], 1u);
}

TEST(Histogram, ConcurrentObservationsAreAllCounted) {
  Histogram h({0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.Observe(t % 2 == 0 ? 0.25 : 1.0);
    });
  }
  for (auto& t : threads) t.join();
  Histogram::Snapshot s = h.Take();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulative[0], 20000u);
  EXPECT_DOUBLE_EQ(s.sum, 20000 * 0.25 + 20000 * 1.0);
}

TEST(Histogram, LatencyBucketsAscend) {
  const auto& b = LatencyBuckets();
  ASSERT_FALSE(b.empty());
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

}  // namespace
}  // namespace palaver::sdk
