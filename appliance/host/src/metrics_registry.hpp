// The one metrics registry; renders Prometheus text exposition format 0.0.4.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/metrics.hpp"

namespace palaver::host {

/// Thread-safe. Counters, gauges and histograms are never removed, so references stay valid.
/// Names are taken as given (each registration writes its `palaver_` name out in full).
class MetricsRegistry final : public sdk::Metrics {
 public:
  sdk::Counter& GetCounter(const std::string& name, const std::string& help,
                           const sdk::Labels& labels = {}) override;
  sdk::Gauge& GetGauge(const std::string& name, const std::string& help,
                       const sdk::Labels& labels = {}) override;
  sdk::Histogram& GetHistogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                               const sdk::Labels& labels = {}) override;
  /// Every family, sorted by name.
  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // "counter", "gauge" or "histogram"
    std::map<std::string, std::unique_ptr<sdk::Counter>> counters;  // by rendered labels
    std::map<std::string, std::unique_ptr<sdk::Gauge>> gauges;
    std::vector<double> bounds;  // histograms: of the first registration
    std::map<std::string, std::pair<sdk::Labels, std::unique_ptr<sdk::Histogram>>> histograms;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_ PALAVER_GUARDED_BY(mu_);
};

/// `{a="x",b="y"}` with values escaped; empty for no labels.
std::string RenderLabels(const sdk::Labels& labels);

/// A sample value as Prometheus text: shortest round-trip decimal, `+Inf`, `-Inf`, `NaN`.
std::string RenderValue(double v);

}  // namespace palaver::host
