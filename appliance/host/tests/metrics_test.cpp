#include <gtest/gtest.h>

#include "metrics_registry.hpp"

namespace palaver::host {
namespace {

TEST(MetricsRegistry, RendersPrometheusText) {
  MetricsRegistry m;
  m.GetCounter("http_requests_total", "Requests.", {{"route", "web"}, {"code", "200"}}).Inc(3);
  m.GetCounter("http_requests_total", "Requests.", {{"route", "web"}, {"code", "200"}}).Inc();
  m.GetGauge("http_connections_open", "Open.").Set(7);
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE http_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"web\",code=\"200\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("http_connections_open 7\n"), std::string::npos);
}

TEST(MetricsRegistry, EscapesLabelValues) {
  EXPECT_EQ(RenderLabels({{"a", "x\"y\\z\n"}}), "{a=\"x\\\"y\\\\z\\n\"}");
}

}  // namespace
}  // namespace palaver::host
