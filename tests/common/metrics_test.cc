#include "common/metrics/metrics.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tessera::metrics {
namespace {

const FamilySnapshot* Find(const std::vector<FamilySnapshot>& families, const std::string& name) {
  for (const FamilySnapshot& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(MetricsTest, CountersOnlyGoUp) {
  MetricsRegistry registry;
  CounterFamily* requests = *registry.AddCounter("requests_total", "Requests.", {"code"});
  std::shared_ptr<Counter> ok = requests->With({"200"});
  ok->Increment();
  ok->Increment(2);
  ok->Increment(-5);  // ignored
  ok->Increment(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(ok->value(), 3);
  EXPECT_EQ(requests->With({"200"}), ok);  // the same child
  const std::vector<FamilySnapshot> snapshot = registry.Snapshot();
  const FamilySnapshot* f = Find(snapshot, "requests_total");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, MetricType::kCounter);
  ASSERT_EQ(f->samples.size(), 1u);
  EXPECT_EQ(f->samples[0].labels[0], std::make_pair(std::string("code"), std::string("200")));
  EXPECT_EQ(f->samples[0].value, 3);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithLeBounds) {
  MetricsRegistry registry;
  HistogramFamily* latency = *registry.AddHistogram("latency_seconds", "L.", {}, {0.1, 1, 10});
  std::shared_ptr<Histogram> h = latency->With({});
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0}) h->Observe(v);
  h->Observe(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(h->CumulativeCounts(), (std::vector<uint64_t>{2, 3, 4, 5}));  // 0.1 is in le=0.1
  EXPECT_DOUBLE_EQ(h->sum(), 22.65);
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry registry;
  CounterFamily* family = *registry.AddCounter("c_total", "C.", {"t"});
  HistogramFamily* hist = *registry.AddHistogram("h", "H.", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        family->With({"x"})->Increment();
        hist->With({})->Observe(0.5);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(family->With({"x"})->value(), 40000);
  EXPECT_EQ(hist->With({})->CumulativeCounts().back(), 40000u);
}

TEST(MetricsTest, SeriesAreCappedAndRemovable) {
  MetricsRegistry registry;
  CounterFamily* family = *registry.AddCounter("c_total", "C.", {"endpoint"}, /*max_series=*/2);
  family->With({"a"})->Increment();
  family->With({"b"})->Increment();
  std::shared_ptr<Counter> overflow = family->With({"c"});
  overflow->Increment();
  EXPECT_EQ(family->series(), 2u);
  EXPECT_EQ(registry.dropped_series(), 1);
  const std::vector<FamilySnapshot> full = registry.Snapshot();
  EXPECT_EQ(Find(full, kDroppedSeriesMetric)->samples[0].value, 1);
  EXPECT_EQ(family->With({"wrong", "count"}), overflow);  // never null, never exported
  family->RemoveIf([](const LabelValues& v) { return v[0] == "a"; });
  EXPECT_EQ(family->series(), 1u);
  EXPECT_NE(family->With({"c"}), overflow);  // room again
  const std::vector<FamilySnapshot> snapshot = registry.Snapshot();
  const FamilySnapshot* f = Find(snapshot, "c_total");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->samples.size(), 2u);
}

TEST(MetricsTest, UpdatesRaceRemovalSafely) {
  MetricsRegistry registry;
  CounterFamily* family = *registry.AddCounter("c_total", "C.", {"endpoint"});
  std::atomic<bool> stop = false;
  std::thread remover([&] {
    while (!stop) family->RemoveIf([](const LabelValues&) { return true; });
  });
  for (int i = 0; i < 200000; ++i) family->With({"gone"})->Increment();
  stop = true;
  remover.join();
  EXPECT_LE(family->series(), 1u);  // under ASan: no use after free
}

TEST(MetricsTest, RefusesBadNamesAndDuplicates) {
  MetricsRegistry registry;
  EXPECT_FALSE(registry.AddCounter("9bad", "", {}).ok());
  EXPECT_FALSE(registry.AddCounter("has space", "", {}).ok());
  EXPECT_FALSE(registry.AddCounter("ok_total", "", {"__reserved"}).ok());
  EXPECT_FALSE(registry.AddHistogram("h", "", {"le"}, {1}).ok());
  EXPECT_FALSE(registry.AddHistogram("h", "", {}, {}).ok());
  EXPECT_FALSE(registry.AddHistogram("h", "", {}, {2, 1}).ok());
  EXPECT_FALSE(
      registry.AddHistogram("h", "", {}, {1, std::numeric_limits<double>::infinity()}).ok());
  EXPECT_TRUE(registry.AddCounter("ok_total", "", {"a"}).ok());
  EXPECT_EQ(registry.AddGauge("ok_total", "", {}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(IsValidMetricName("tessera:rule_total"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(MetricsTest, CollectorsMergeIntoFamiliesByName) {
  MetricsRegistry registry;
  GaugeFamily* g = *registry.AddGauge("replicas", "R.", {"state"});
  g->With({"READY"})->Set(2);
  int calls = 0;
  registry.AddCollector([&calls](std::vector<FamilySnapshot>& out) {
    ++calls;
    FamilySnapshot extra{.name = "replicas", .help = "ignored", .type = MetricType::kGauge};
    extra.samples.push_back(Sample{.labels = {{"state", "FAILED"}}, .value = 1});
    out.push_back(extra);
    out.push_back(FamilySnapshot{.name = "memory_bytes",
                                 .help = "M.",
                                 .type = MetricType::kGauge,
                                 .samples = {Sample{.value = 42}}});
  });
  const std::vector<FamilySnapshot> families = registry.Snapshot();
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(families.size(), 3u);  // sorted by name, with the registry's own counter
  EXPECT_EQ(families[0].name, "memory_bytes");
  EXPECT_EQ(families[1].name, "replicas");
  EXPECT_EQ(families[1].help, "R.");
  EXPECT_EQ(families[1].samples.size(), 2u);
  EXPECT_EQ(families[2].name, kDroppedSeriesMetric);
}

}  // namespace
}  // namespace tessera::metrics
