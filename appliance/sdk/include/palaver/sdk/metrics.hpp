// The metrics registry (exported as Prometheus text by the host).
#pragma once

#include <atomic>
#include <cstdint>
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

/// Metric names follow `<module id>_<what>_<unit>`. Returned references live as long as the
/// registry; asking twice for the same name and labels returns the same object. Thread-safe.
class Metrics {
 public:
  virtual ~Metrics() = default;
  virtual Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {}) = 0;
  virtual Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {}) = 0;
};

}  // namespace palaver::sdk
