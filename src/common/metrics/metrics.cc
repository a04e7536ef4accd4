#include "common/metrics/metrics.h"

#include <algorithm>
#include <cmath>

#include "fmt/format.h"

namespace tessera::metrics {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

void Fill(const Counter& counter, Sample& sample) { sample.value = counter.value(); }
void Fill(const Gauge& gauge, Sample& sample) { sample.value = gauge.value(); }
void Fill(const Histogram& histogram, Sample& sample) {
  sample.buckets = histogram.CumulativeCounts();
  sample.sum = histogram.sum();
}

template <typename T>
MetricType TypeOf();
template <>
MetricType TypeOf<Counter>() {
  return MetricType::kCounter;
}
template <>
MetricType TypeOf<Gauge>() {
  return MetricType::kGauge;
}
template <>
MetricType TypeOf<Histogram>() {
  return MetricType::kHistogram;
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsNameChar(c) || c == ':'; });
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0]) || name.substr(0, 2) == "__") return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

void Counter::Increment(double by) {
  if (!(by > 0)) return;  // also NaN
  value_.fetch_add(by, std::memory_order_relaxed);
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // The first bucket whose bound is >= value (Prometheus' "le"); past the last: +Inf.
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> cumulative(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    cumulative[i] = total;
  }
  return cumulative;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       size_t max_series, std::atomic<int64_t>* dropped_series)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      max_series_(max_series),
      dropped_series_(dropped_series) {}

template <typename T>
std::shared_ptr<T> Family<T>::With(const LabelValues& values) {
  if (values.size() != label_names_.size()) return overflow_;
  absl::MutexLock lock(&mu_);
  auto it = children_.find(values);
  if (it != children_.end()) return it->second;
  if (children_.size() >= max_series_) {
    dropped_series_->fetch_add(1, std::memory_order_relaxed);
    return overflow_;
  }
  return children_.emplace(values, factory_()).first->second;
}

template <typename T>
void Family<T>::RemoveIf(const std::function<bool(const LabelValues&)>& match) {
  absl::MutexLock lock(&mu_);
  std::erase_if(children_, [&](const auto& child) { return match(child.first); });
}

template <typename T>
size_t Family<T>::series() const {
  absl::MutexLock lock(&mu_);
  return children_.size();
}

template <typename T>
FamilySnapshot Family<T>::Snapshot() const {
  FamilySnapshot snapshot{.name = name_, .help = help_, .type = TypeOf<T>(), .bounds = bounds_};
  absl::MutexLock lock(&mu_);
  snapshot.samples.reserve(children_.size());
  for (const auto& [values, child] : children_) {
    Sample sample;
    for (size_t i = 0; i < values.size(); ++i)
      sample.labels.emplace_back(label_names_[i], values[i]);
    Fill(*child, sample);
    snapshot.samples.push_back(std::move(sample));
  }
  return snapshot;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

absl::Status MetricsRegistry::CheckNew(const std::string& name,
                                       const std::vector<std::string>& label_names) {
  if (!IsValidMetricName(name)) {
    return absl::InvalidArgumentError(fmt::format("invalid metric name \"{}\"", name));
  }
  for (const std::string& label : label_names) {
    if (!IsValidLabelName(label) || label == "le") {
      return absl::InvalidArgumentError(
          fmt::format("metric {}: invalid label name \"{}\"", name, label));
    }
  }
  if (families_.count(name) > 0) {
    return absl::AlreadyExistsError(fmt::format("metric {} is already registered", name));
  }
  return absl::OkStatus();
}

template <typename F>
absl::StatusOr<F*> MetricsRegistry::Add(std::unique_ptr<F> family) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = CheckNew(family->name(), family->label_names()); !status.ok()) {
    return status;
  }
  F* raw = family.get();
  families_.emplace(family->name(), std::move(family));
  return raw;
}

absl::StatusOr<CounterFamily*> MetricsRegistry::AddCounter(std::string name, std::string help,
                                                           std::vector<std::string> label_names,
                                                           size_t max_series) {
  return Add(std::make_unique<CounterFamily>(std::move(name), std::move(help),
                                             std::move(label_names), max_series, &dropped_series_,
                                             [] { return std::make_shared<Counter>(); }));
}

absl::StatusOr<GaugeFamily*> MetricsRegistry::AddGauge(std::string name, std::string help,
                                                       std::vector<std::string> label_names,
                                                       size_t max_series) {
  return Add(std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names),
                                           max_series, &dropped_series_,
                                           [] { return std::make_shared<Gauge>(); }));
}

absl::StatusOr<HistogramFamily*> MetricsRegistry::AddHistogram(std::string name, std::string help,
                                                               std::vector<std::string> label_names,
                                                               std::vector<double> bounds,
                                                               size_t max_series) {
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end() ||
      !std::all_of(bounds.begin(), bounds.end(), [](double b) { return std::isfinite(b); })) {
    return absl::InvalidArgumentError(fmt::format(
        "histogram {}: bucket bounds must be finite, strictly increasing and not empty", name));
  }
  auto factory = [bounds] { return std::make_shared<Histogram>(bounds); };
  return Add(std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                               std::move(label_names), max_series, &dropped_series_,
                                               std::move(factory), std::move(bounds)));
}

void MetricsRegistry::AddCollector(Collector collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<FamilySnapshot> MetricsRegistry::Snapshot() const {
  std::vector<FamilySnapshot> collected;
  std::map<std::string, FamilySnapshot> by_name;
  std::vector<Collector> collectors;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, family] : families_) by_name.emplace(name, family->Snapshot());
    collectors = collectors_;
  }
  // Outside the lock: a collector reads other components (the supervisor's status), which may
  // themselves update metrics of this registry.
  for (const Collector& collector : collectors) collector(collected);
  for (FamilySnapshot& family : collected) {
    auto [it, inserted] = by_name.try_emplace(family.name, family);
    if (inserted) continue;
    for (Sample& sample : family.samples) it->second.samples.push_back(std::move(sample));
  }
  by_name.emplace(
      kDroppedSeriesMetric,
      FamilySnapshot{.name = kDroppedSeriesMetric,
                     .help = "Label sets a full metric family refused (their updates were lost).",
                     .type = MetricType::kCounter,
                     .samples = {Sample{.value = static_cast<double>(dropped_series())}}});
  std::vector<FamilySnapshot> out;
  out.reserve(by_name.size());
  for (auto& [name, family] : by_name) out.push_back(std::move(family));
  return out;
}

}  // namespace tessera::metrics
