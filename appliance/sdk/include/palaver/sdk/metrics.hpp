// The metrics registry (exported as Prometheus text by the host).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace palaver::sdk {

using Labels = std::vector<std::pair<std::string, std::string>>;

/// A monotonically increasing counter. Thread-safe, lock-free.
class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down. Thread-safe, lock-free.
class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

/// Upper bounds (seconds) for request and task latencies: 1 ms to 10 s.
inline const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

/// A distribution of observed values in fixed buckets (Prometheus histogram: cumulative
/// `_bucket{le=…}`, `_sum`, `_count`). Thread-safe, lock-free; no I/O.
class Histogram {
 public:
  /// One counter per upper bound in `bounds` plus one for +Inf.
  /// REQUIRES: `bounds` strictly ascending and finite.
  explicit Histogram(std::vector<double> bounds);

  /// Counts `v` in the first bucket whose bound is >= v (NaN is ignored).
  void Observe(double v);
  /// Observes a duration in seconds.
  template <class Rep, class Period>
  void ObserveDuration(std::chrono::duration<Rep, Period> d) {
    Observe(std::chrono::duration<double>(d).count());
  }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    uint64_t count = 0;
    double sum = 0;
  };
  /// A snapshot whose +Inf bucket always equals its count (counts are read once each).
  Snapshot Take() const;
  const std::vector<double>& Bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // not cumulative; bounds_.size() + 1
  std::atomic<double> sum_{0};
};

/// Times a scope (or until Stop) into a histogram: `ScopedTimer t(*latency_);`.
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram& h) : h_(&h), start_(std::chrono::steady_clock::now()) {}
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;
  ~ScopedTimer() { Stop(); }
  void Stop() {
    if (h_ != nullptr) h_->ObserveDuration(std::chrono::steady_clock::now() - start_);
    h_ = nullptr;
  }

 private:
  Histogram* h_;
  std::chrono::steady_clock::time_point start_;
};

/// Metric names are written out in full at each registration site:
/// `palaver_<module id>_<what>_<unit>` (no prefix is added for you). Returned references live as
/// long as the registry; asking twice for the same name and labels returns the same object.
/// Thread-safe.
class Metrics {
 public:
  virtual ~Metrics() = default;
  virtual Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {}) = 0;
  virtual Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {}) = 0;
  /// Every series of one histogram family shares the bounds of its first registration.
  virtual Histogram& GetHistogram(const std::string& name, const std::string& help,
                                  const std::vector<double>& bounds, const Labels& labels = {}) = 0;
};

}  // namespace palaver::sdk
