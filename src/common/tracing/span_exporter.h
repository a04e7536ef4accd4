// Spans, and where they go: an OTLP/HTTP JSON exporter (OpenTelemetry's protocol, the JSON
// encoding, POST <collector>/v1/traces) that batches on a thread of its own. Exporting never
// blocks a request: spans wait in a bounded queue (full: dropped and counted), a batch goes
// every second or at 512 spans, a collector that fails is logged (once a minute) and its batch
// dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tessera::http {
class HttpClient;
}  // namespace tessera::http

namespace tessera::tracing {

enum class SpanKind { kServer = 2, kClient = 3, kInternal = 1 };  // OTLP's numbers

struct Span {
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;  // "" for a root
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  absl::Time start;
  absl::Time end;
  std::vector<std::pair<std::string, std::string>> attributes;
  bool error = false;
  std::string error_message;
};

class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  virtual void Export(Span span) = 0;  // never blocks for long; thread-safe
};

// The OTLP/JSON body of `spans` (one resource, service.name `service`).
std::string OtlpJson(const std::vector<Span>& spans, const std::string& service);

class OtlpHttpExporter final : public SpanExporter {
 public:
  struct Options {
    std::string endpoint;  // "http://host:4318": spans go to http://host:4318/v1/traces
    std::string service = "tessera";
    size_t max_queued = 8192;
    size_t max_batch = 512;
    absl::Duration interval = absl::Seconds(1);
    absl::Duration timeout = absl::Seconds(5);
  };
  // INVALID_ARGUMENT for an endpoint that is not an http(s) URL without a path.
  static absl::StatusOr<std::unique_ptr<OtlpHttpExporter>> Create(const Options& options);
  // Sends what is queued, all of it within one `timeout` (the rest is dropped), then stops.
  ~OtlpHttpExporter() override;

  void Export(Span span) override ABSL_LOCKS_EXCLUDED(mu_);
  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  int64_t exported() const { return exported_.load(std::memory_order_relaxed); }

 private:
  OtlpHttpExporter(const Options& options, std::unique_ptr<http::HttpClient> client);
  void Run();
  void Send(const std::vector<Span>& batch, absl::Duration timeout);

  const Options options_;
  const std::unique_ptr<http::HttpClient> client_;
  absl::Mutex mu_;
  std::deque<Span> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_failure_log_ = absl::InfinitePast();  // the exporter thread's
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> exported_{0};
  std::thread thread_;
};

}  // namespace tessera::tracing
