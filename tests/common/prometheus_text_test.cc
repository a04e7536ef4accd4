#include "common/metrics/prometheus_text.h"

#include <limits>

#include "gtest/gtest.h"

namespace tessera::metrics {
namespace {

TEST(PrometheusTextTest, RendersCountersGaugesAndHistograms) {
  MetricsRegistry registry;
  (*registry.AddCounter("req_total", "Requests\nserved \\ all.", {"code", "endpoint"}))
      ->With({"200", "projects/p/endpoints/1"})
      ->Increment(3);
  (*registry.AddGauge("up", "Up.", {}))->With({})->Set(1);
  std::shared_ptr<Histogram> h =
      (*registry.AddHistogram("lat_seconds", "Latency.", {"ep"}, {0.5, 1}))->With({"a"});
  h->Observe(0.25);
  h->Observe(2);
  EXPECT_EQ(RenderPrometheusText(registry.Snapshot()),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{ep=\"a\",le=\"0.5\"} 1\n"
            "lat_seconds_bucket{ep=\"a\",le=\"1\"} 1\n"
            "lat_seconds_bucket{ep=\"a\",le=\"+Inf\"} 2\n"
            "lat_seconds_sum{ep=\"a\"} 2.25\n"
            "lat_seconds_count{ep=\"a\"} 2\n"
            "# HELP req_total Requests\\nserved \\\\ all.\n"
            "# TYPE req_total counter\n"
            "req_total{code=\"200\",endpoint=\"projects/p/endpoints/1\"} 3\n"
            "# HELP tessera_metrics_dropped_series_total Label sets a full metric family "
            "refused (their updates were lost).\n"
            "# TYPE tessera_metrics_dropped_series_total counter\n"
            "tessera_metrics_dropped_series_total 0\n"
            "# HELP up Up.\n"
            "# TYPE up gauge\n"
            "up 1\n");
}

TEST(PrometheusTextTest, EscapesLabelValuesAndRepairsUtf8) {
  MetricsRegistry registry;
  (*registry.AddGauge("g", "G.", {"name"}))->With({"a\"b\\c\nd\xff\xc3\xa9"})->Set(1);
  const std::string text = RenderPrometheusText(registry.Snapshot());
  EXPECT_EQ(text.substr(0, text.find("# HELP tessera_metrics")),
            "# HELP g G.\n# TYPE g gauge\n"
            "g{name=\"a\\\"b\\\\c\\nd\xEF\xBF\xBD\xc3\xa9\"} 1\n");
}

TEST(PrometheusTextTest, ValidUtf8KeepsGoodSequencesAndReplacesBadOnes) {
  EXPECT_EQ(ValidUtf8("plain"), "plain");
  EXPECT_EQ(ValidUtf8("\xe2\x82\xac \xf0\x9f\x98\x80"), "\xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(ValidUtf8("\xe2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // truncated
}

TEST(PrometheusTextTest, FormatsSpecialValues) {
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatSampleValue(0.005), "0.005");
  EXPECT_EQ(FormatSampleValue(1234567), "1234567");
}

}  // namespace
}  // namespace tessera::metrics
