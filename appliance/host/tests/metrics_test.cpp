#include <gtest/gtest.h>

#include <limits>

#include "metrics_registry.hpp"

namespace palaver::host {
namespace {

TEST(MetricsRegistry, RendersPrometheusText) {
  MetricsRegistry m;
  m.GetCounter("palaver_http_requests_total", "Requests.", {{"route", "web"}, {"code", "200"}}).Inc(3);
  m.GetCounter("palaver_http_requests_total", "Requests.", {{"route", "web"}, {"code", "200"}}).Inc();
  m.GetGauge("palaver_http_connections_open", "Open.").Set(7);
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE palaver_http_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("palaver_http_requests_total{route=\"web\",code=\"200\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("palaver_http_connections_open 7\n"), std::string::npos);
}

TEST(MetricsRegistry, TakesNamesAsGiven) {
  // No prefix is added: every registration writes its full name.
  MetricsRegistry m;
  m.GetGauge("palaver_x_open", "X.").Set(1);
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("\npalaver_x_open 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("palaver_palaver_"), std::string::npos) << text;
}

TEST(MetricsRegistry, EscapesLabelValues) {
  EXPECT_EQ(RenderLabels({{"a", "x\"y\\z\n"}}), "{a=\"x\\\"y\\\\z\\n\"}");
}

TEST(MetricsRegistry, RendersHistogramsWithCumulativeBucketsSumAndCount) {
  MetricsRegistry m;
  auto& h = m.GetHistogram("palaver_http_request_duration_seconds", "Latency.", {0.01, 0.1}, {{"route", "web"}});
  h.Observe(0.005);
  h.Observe(0.05);
  h.Observe(3);
  // The same name and labels: the same object.
  EXPECT_EQ(&h, &m.GetHistogram("palaver_http_request_duration_seconds", "Latency.", {0.01, 0.1}, {{"route", "web"}}));
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE palaver_http_request_duration_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("palaver_http_request_duration_seconds_bucket{route=\"web\",le=\"0.01\"} 1\n"
                      "palaver_http_request_duration_seconds_bucket{route=\"web\",le=\"0.1\"} 2\n"
                      "palaver_http_request_duration_seconds_bucket{route=\"web\",le=\"+Inf\"} 3\n"
                      "palaver_http_request_duration_seconds_sum{route=\"web\"} 3.055\n"
                      "palaver_http_request_duration_seconds_count{route=\"web\"} 3\n"),
            std::string::npos)
      << text;
}

TEST(MetricsRegistry, HistogramSeriesShareTheFirstBounds) {
  MetricsRegistry m;
  m.GetHistogram("palaver_t_seconds", "T.", {1}, {{"k", "a"}});
  auto& b = m.GetHistogram("palaver_t_seconds", "T.", {2, 3}, {{"k", "b"}});
  EXPECT_EQ(b.Bounds(), std::vector<double>{1});
}

TEST(MetricsRegistry, RendersValuesAsPrometheusNumbers) {
  EXPECT_EQ(RenderValue(0.25), "0.25");
  EXPECT_EQ(RenderValue(10), "10");
  EXPECT_EQ(RenderValue(1.7e9), "1.7e+09");  // shortest form; Prometheus parses it
  EXPECT_EQ(RenderValue(1765000123.5), "1765000123.5");
  EXPECT_EQ(RenderValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(RenderValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(RenderValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

}  // namespace
}  // namespace palaver::host
