// Metrics: counters, gauges and histograms with labels, kept in a MetricsRegistry and rendered in
// the Prometheus text exposition format (metrics/prometheus_text.h). No HTTP here: the serving
// layer exposes the text on /metrics.
//
// A family (one metric name, one help text, fixed label names) holds one child per label-value
// tuple. Children are made on first use; RemoveIf drops the series of resources that are gone (a
// deleted endpoint), so a long-running server's memory does not grow with churn. With() hands out
// shared ownership: a child removed while another thread updates it lives until that update is
// done (the update is then lost with the series). Every family holds at most `max_series`
// children: beyond that, With() returns an unexported overflow child and counts the refusal
// (MetricsRegistry::dropped_series(), exported as tessera_metrics_dropped_series_total), so no
// label value from outside can grow memory without bound.
//
// Values a registry cannot own (the replicas' memory, read from /proc at scrape time) come from
// collectors: functions that append samples to a snapshot when one is taken.
//
// Thread-safety: everything may be called from any thread. Increment / Set / Observe are lock-free
// (atomics); With() takes the family's lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tessera::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };
std::string_view MetricTypeName(MetricType type);  // "counter", "gauge", "histogram"

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// One sample of a snapshot: labels as (name, value) pairs in the family's order.
struct Sample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;               // counters and gauges
  std::vector<uint64_t> buckets;  // histograms: cumulative counts, one per bound, then +Inf
  double sum = 0;                 // histograms
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<double> bounds;  // histograms: the buckets' upper bounds (le), ascending
  std::vector<Sample> samples;
};

// A monotonically increasing value (requests, seconds of CPU).
class Counter {
 public:
  void Increment(double by = 1);  // negative or NaN `by` is ignored: a counter never goes down
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (requests in flight, replicas ready).
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (latencies in seconds, batch sizes).
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void Observe(double value);  // NaN is ignored
  // Cumulative counts per bound and +Inf, and the sum of observations.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (the last is +Inf)
  std::atomic<double> sum_{0};
};

// Bucket bounds: `count` bounds from `start`, each `factor` times the previous.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             size_t max_series, std::atomic<int64_t>* dropped_series);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual FamilySnapshot Snapshot() const = 0;

 protected:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const size_t max_series_;
  std::atomic<int64_t>* const dropped_series_;  // the registry's
};

template <typename T>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::shared_ptr<T>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         size_t max_series, std::atomic<int64_t>* dropped_series, Factory factory,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), max_series,
                   dropped_series),
        factory_(std::move(factory)),
        bounds_(std::move(bounds)),
        overflow_(factory_()) {}

  // The child for `values` (one per label name; a wrong count is a programming error and gets
  // the overflow child). Never null.
  std::shared_ptr<T> With(const LabelValues& values) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the children whose label values match from the family (and from what it exports).
  void RemoveIf(const std::function<bool(const LabelValues&)>& match) ABSL_LOCKS_EXCLUDED(mu_);
  size_t series() const ABSL_LOCKS_EXCLUDED(mu_);
  FamilySnapshot Snapshot() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Factory factory_;
  const std::vector<double> bounds_;
  const std::shared_ptr<T> overflow_;
  mutable absl::Mutex mu_;
  std::map<LabelValues, std::shared_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Appends samples of values computed at scrape time.
using Collector = std::function<void(std::vector<FamilySnapshot>& out)>;

// Every snapshot has this counter: MetricsRegistry::dropped_series().
inline constexpr char kDroppedSeriesMetric[] = "tessera_metrics_dropped_series_total";

class MetricsRegistry {
 public:
  // Series per family unless a family says otherwise.
  static constexpr size_t kDefaultMaxSeries = 10000;

  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not start
  // with "__"; a name may be registered once. Errors are INVALID_ARGUMENT / ALREADY_EXISTS
  // (programming errors: callers register at startup and fail there).
  absl::StatusOr<CounterFamily*> AddCounter(std::string name, std::string help,
                                            std::vector<std::string> label_names,
                                            size_t max_series = kDefaultMaxSeries);
  absl::StatusOr<GaugeFamily*> AddGauge(std::string name, std::string help,
                                        std::vector<std::string> label_names,
                                        size_t max_series = kDefaultMaxSeries);
  absl::StatusOr<HistogramFamily*> AddHistogram(std::string name, std::string help,
                                                std::vector<std::string> label_names,
                                                std::vector<double> bounds,
                                                size_t max_series = kDefaultMaxSeries);
  void AddCollector(Collector collector) ABSL_LOCKS_EXCLUDED(mu_);

  // Every family and every collector's samples, by name (a collector's family with the name of
  // another is merged into it).
  std::vector<FamilySnapshot> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // Label sets refused because a family was full.
  int64_t dropped_series() const { return dropped_series_.load(std::memory_order_relaxed); }

 private:
  absl::Status CheckNew(const std::string& name, const std::vector<std::string>& label_names)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  template <typename F>
  absl::StatusOr<F*> Add(std::unique_ptr<F> family) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> dropped_series_{0};
};

// Valid metric and label names (the exposition format's rules).
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace tessera::metrics
