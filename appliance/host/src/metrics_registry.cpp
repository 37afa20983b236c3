#include "metrics_registry.hpp"

#include <charconv>
#include <cmath>

namespace palaver::host {

std::string RenderValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string RenderLabels(const sdk::Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += "\"";
  }
  return out + "}";
}

MetricsRegistry::Family& MetricsRegistry::FamilyFor(const std::string& name, const std::string& help,
                                                    const char* type) {
  auto& f = families_[name];
  if (f.type.empty()) {
    f.type = type;
    f.help = help;
  }
  PALAVER_CHECK(f.type == type);  // one name, one type: a programming error otherwise
  return f;
}

sdk::Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                          const sdk::Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, help, "counter").counters[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<sdk::Counter>();
  return *slot;
}

sdk::Gauge& MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                      const sdk::Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, help, "gauge").gauges[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<sdk::Gauge>();
  return *slot;
}

sdk::Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                              const std::vector<double>& bounds, const sdk::Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = FamilyFor(name, help, "histogram");
  if (f.histograms.empty()) f.bounds = bounds;
  auto& slot = f.histograms[RenderLabels(labels)];
  if (!slot.second) {
    slot.first = labels;
    slot.second = std::make_unique<sdk::Histogram>(f.bounds);
  }
  return *slot.second;
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, c] : f.counters) out += name + labels + " " + std::to_string(c->Value()) + "\n";
    for (const auto& [labels, g] : f.gauges) out += name + labels + " " + std::to_string(g->Value()) + "\n";
    for (const auto& [rendered, entry] : f.histograms) {
      const auto& [labels, h] = entry;
      sdk::Histogram::Snapshot snap = h->Take();
      for (size_t i = 0; i <= f.bounds.size(); ++i) {
        sdk::Labels with_le = labels;
        with_le.emplace_back("le", i < f.bounds.size() ? RenderValue(f.bounds[i]) : "+Inf");
        out += name + "_bucket" + RenderLabels(with_le) + " " + std::to_string(snap.cumulative[i]) + "\n";
      }
      out += name + "_sum" + rendered + " " + RenderValue(snap.sum) + "\n";
      out += name + "_count" + rendered + " " + std::to_string(snap.count) + "\n";
    }
  }
  return out;
}

}  // namespace palaver::host
