#include "serving/observability/time_series.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera::serving {
namespace {

using Key = std::pair<std::string, std::string>;

std::string LabelValue(const metrics::Sample& sample, const std::string& name) {
  for (const auto& [label, value] : sample.labels) {
    if (label == name) return value;
  }
  return "";
}

Key KeyOf(const metrics::Sample& sample) {
  return {LabelValue(sample, "endpoint"), LabelValue(sample, "deployed_model")};
}

// What one snapshot says about each deployed model.
struct Reading {
  double requests = 0;
  double errors = 0;
  std::vector<uint64_t> latency;
  double replicas_ready = 0;
  double replicas_desired = 0;
  double cpu_sum = 0;
  int cpu_replicas = 0;
};

}  // namespace

double HistogramQuantile(double q, const std::vector<double>& bounds,
                         const std::vector<uint64_t>& cumulative) {
  if (cumulative.empty() || cumulative.back() == 0) return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * static_cast<double>(cumulative.back());
  for (size_t i = 0; i < cumulative.size(); ++i) {
    if (static_cast<double>(cumulative[i]) < rank) continue;
    if (i >= bounds.size()) return bounds.empty() ? 0 : bounds.back();
    const double lower = i == 0 ? 0 : bounds[i - 1];
    const double below = i == 0 ? 0 : static_cast<double>(cumulative[i - 1]);
    const double in_bucket = static_cast<double>(cumulative[i]) - below;
    if (in_bucket <= 0) return bounds[i];
    return lower + (bounds[i] - lower) * (rank - below) / in_bucket;
  }
  return bounds.empty() ? 0 : bounds.back();
}

absl::StatusOr<std::unique_ptr<TimeSeriesRecorder>> TimeSeriesRecorder::Create(
    const Options& options) {
  if (options.registry == nullptr) {
    return absl::InvalidArgumentError("TimeSeriesRecorder: registry is required");
  }
  if (options.resolution <= absl::ZeroDuration() || options.window < options.resolution) {
    return absl::InvalidArgumentError(
        "TimeSeriesRecorder: resolution must be positive and no longer than the window");
  }
  return std::unique_ptr<TimeSeriesRecorder>(new TimeSeriesRecorder(options));
}

TimeSeriesRecorder::~TimeSeriesRecorder() { Stop(); }

void TimeSeriesRecorder::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    if (last_record_ == absl::InfinitePast()) last_record_ = absl::Now();
  }
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.resolution)) {
      if (options_.before_record) options_.before_record();
      Record(absl::Now());
    }
  });
}

void TimeSeriesRecorder::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void TimeSeriesRecorder::Record(absl::Time now) {
  std::map<Key, Reading> readings;
  std::vector<double> latency_bounds;
  const std::vector<metrics::FamilySnapshot> snapshot = options_.registry->Snapshot();
  for (const metrics::FamilySnapshot& family : snapshot) {
    const std::string& name = family.name;
    for (const metrics::Sample& sample : family.samples) {
      if (name == "tessera_replicas_desired") {
        readings[KeyOf(sample)].replicas_desired = sample.value;
      }
    }
  }
  // Only deployed models the supervisor runs now get points (the bound on memory).
  for (const metrics::FamilySnapshot& family : snapshot) {
    const std::string& name = family.name;
    for (const metrics::Sample& sample : family.samples) {
      auto it = readings.find(KeyOf(sample));
      if (it == readings.end()) continue;
      Reading& r = it->second;
      if (name == "tessera_predict_requests_total") {
        r.requests += sample.value;
        if (LabelValue(sample, "code") != "200") r.errors += sample.value;
      } else if (name == "tessera_predict_latency_seconds") {
        latency_bounds = family.bounds;
        if (r.latency.size() < sample.buckets.size()) r.latency.resize(sample.buckets.size());
        for (size_t i = 0; i < sample.buckets.size(); ++i) r.latency[i] += sample.buckets[i];
      } else if (name == "tessera_replicas_ready") {
        r.replicas_ready = sample.value;
      } else if (name == "tessera_replica_cpu_utilization") {
        r.cpu_sum += sample.value;
        ++r.cpu_replicas;
      }
    }
  }

  const size_t max_points = static_cast<size_t>(options_.window / options_.resolution);
  absl::MutexLock lock(&mu_);
  if (!latency_bounds.empty()) latency_bounds_ = latency_bounds;
  std::erase_if(tracks_, [&](const auto& track) { return readings.count(track.first) == 0; });
  for (auto& [key, r] : readings) {
    auto [it, made] = tracks_.try_emplace(key);
    Track& track = it->second;
    if (made) {
      // New since the last point (or the recorder's start): every count it has came since then.
      track.endpoint = key.first;
      track.deployed_model_id = key.second;
      track.time = last_record_;
      track.has_totals = last_record_ != absl::InfinitePast();
    }
    const Totals totals{.requests = r.requests, .errors = r.errors, .latency = r.latency};
    if (track.has_totals && now > track.time) {
      const double seconds = absl::ToDoubleSeconds(now - track.time);
      // Differences, never negative: a series removed and made again starts from zero.
      std::vector<uint64_t> latency(totals.latency.size());
      for (size_t i = 0; i < latency.size(); ++i) {
        const uint64_t before = i < track.totals.latency.size() ? track.totals.latency[i] : 0;
        latency[i] = totals.latency[i] >= before ? totals.latency[i] - before : 0;
      }
      TimeSeriesPoint point{
          .time = now,
          .requests_per_second = std::max(0.0, totals.requests - track.totals.requests) / seconds,
          .errors_per_second = std::max(0.0, totals.errors - track.totals.errors) / seconds,
          .latency_p50_seconds = HistogramQuantile(0.5, latency_bounds_, latency),
          .latency_p99_seconds = HistogramQuantile(0.99, latency_bounds_, latency),
          .replicas_ready = r.replicas_ready,
          .replicas_desired = r.replicas_desired,
          .cpu_utilization = r.cpu_replicas > 0 ? r.cpu_sum / r.cpu_replicas : 0};
      track.points.push_back(point);
      while (track.points.size() > max_points) track.points.pop_front();
    }
    track.totals = totals;
    track.has_totals = true;
    track.time = now;
  }
  last_record_ = now;
}

std::vector<DeployedModelSeries> TimeSeriesRecorder::Series(const std::string& endpoint) const {
  std::vector<DeployedModelSeries> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, track] : tracks_) {
    if (key.first != endpoint) continue;
    out.push_back(DeployedModelSeries{.endpoint = track.endpoint,
                                      .deployed_model_id = track.deployed_model_id,
                                      .points = {track.points.begin(), track.points.end()}});
  }
  return out;
}

}  // namespace tessera::serving
