// The one metrics registry; renders Prometheus text exposition format 0.0.4.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/metrics.hpp"

namespace palaver::host {

/// Thread-safe. Counters and gauges are never removed, so references stay valid.
class MetricsRegistry final : public sdk::Metrics {
 public:
  sdk::Counter& GetCounter(const std::string& name, const std::string& help,
                           const sdk::Labels& labels = {}) override;
  sdk::Gauge& GetGauge(const std::string& name, const std::string& help,
                       const sdk::Labels& labels = {}) override;
  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // "counter" or "gauge"
    std::map<std::string, std::unique_ptr<sdk::Counter>> counters;  // by rendered labels
    std::map<std::string, std::unique_ptr<sdk::Gauge>> gauges;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_ PALAVER_GUARDED_BY(mu_);
};

/// `{a="x",b="y"}` with values escaped; empty for no labels.
std::string RenderLabels(const sdk::Labels& labels);

}  // namespace palaver::host
