// The console's charts: per endpoint and deployed model, the last hour at 10 s resolution of
// requests/s, errors/s, p50 and p99 latency, replicas ready and desired, and CPU utilization.
// Points are derived from the same metrics /metrics exposes (a registry snapshot per tick), so
// the charts and Prometheus agree; they are kept in memory, bounded: `window / resolution`
// points per deployed model, and only for deployed models the supervisor runs now.
//
// Thread-safety: Record() runs on the recorder's thread (or a test's); Series() from any thread.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"

namespace tessera::serving {

struct TimeSeriesPoint {
  absl::Time time;  // the end of the interval the point covers
  double requests_per_second = 0;
  double errors_per_second = 0;  // answers other than 200
  // Of the requests answered in the interval; NaN when there were none.
  double latency_p50_seconds = 0;
  double latency_p99_seconds = 0;
  double replicas_ready = 0;
  double replicas_desired = 0;
  double cpu_utilization = 0;  // mean over its replicas with a process, 0..1
};

struct DeployedModelSeries {
  std::string endpoint;
  std::string deployed_model_id;
  std::vector<TimeSeriesPoint> points;  // oldest first
};

// The q-quantile (0..1) of the observations a histogram's cumulative bucket counts describe
// (`bounds` are the finite upper bounds, `cumulative` has one more entry, +Inf), interpolated
// linearly inside the bucket as Prometheus' histogram_quantile does; NaN without observations;
// the largest finite bound when the quantile falls in +Inf.
double HistogramQuantile(double q, const std::vector<double>& bounds,
                         const std::vector<uint64_t>& cumulative);

class TimeSeriesRecorder {
 public:
  struct Options {
    const metrics::MetricsRegistry* registry = nullptr;  // required, not owned
    absl::Duration resolution = absl::Seconds(10);
    absl::Duration window = absl::Hours(1);
    // Optional housekeeping run on the recorder's thread before each point (serve: drops the
    // metric series of deleted endpoints).
    std::function<void()> before_record;
  };

  static absl::StatusOr<std::unique_ptr<TimeSeriesRecorder>> Create(const Options& options);
  ~TimeSeriesRecorder();

  void Start();  // a thread that calls Record every resolution
  void Stop();   // idempotent

  // Takes one point for every deployed model from a registry snapshot taken `now`. A deployed
  // model seen for the first time counts from zero since the previous call (or Start).
  void Record(absl::Time now);

  // The series of `endpoint` (a resource name), by deployed model id.
  std::vector<DeployedModelSeries> Series(const std::string& endpoint) const;
  absl::Duration resolution() const { return options_.resolution; }

 private:
  // What the last snapshot held for one deployed model, to take differences from.
  struct Totals {
    double requests = 0;
    double errors = 0;
    std::vector<uint64_t> latency;  // cumulative bucket counts
  };
  struct Track {
    std::string endpoint;
    std::string deployed_model_id;
    bool has_totals = false;
    Totals totals;
    absl::Time time;
    std::deque<TimeSeriesPoint> points;
  };

  explicit TimeSeriesRecorder(const Options& options) : options_(options) {}

  const Options options_;
  mutable absl::Mutex mu_;
  // Keyed by (endpoint, deployed model id).
  std::map<std::pair<std::string, std::string>, Track> tracks_ ABSL_GUARDED_BY(mu_);
  std::vector<double> latency_bounds_ ABSL_GUARDED_BY(mu_);
  // When the last point was taken (or Start ran): a deployed model first seen in a snapshot
  // has had all its requests since then. InfinitePast: never (its first snapshot is a baseline).
  absl::Time last_record_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace tessera::serving
