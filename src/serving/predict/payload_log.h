// Request/response logging, as Vertex's Endpoint.predictRequestResponseLoggingConfig: for an
// endpoint that enables it, a sample of its Vertex :predict requests is written, with each
// response, as one JSON line to
//   DATA_DIR/payload-logs/<endpoint>/requests.jsonl   (then requests.jsonl.1, .2, ... older)
// The sample is deterministic: a request is logged when a hash of its request id falls below the
// sampling rate, so a rerun with the same ids logs the same requests. An image (every "b64"
// value) is replaced by {"sha256", "bytes"} of its decoded bytes unless the endpoint stores
// images. Files rotate at max_file_bytes and an endpoint keeps at most max_files of them (the
// disk cap; common/rotating_file.h, a line that cannot rotate is dropped); writing runs on a thread
// of its own from a bounded queue -- when it is full the pair is dropped and counted, so a slow
// disk never slows a predict.
//
// Line: {"endpoint", "deployedModelId", "requestId", "loggingTime", "status",
//        "request": <the body, images replaced>, "response": <the answer>}
// (a body that is not JSON within the predict limits is logged as {"sha256", "bytes"}).
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/rotating_file.h"

namespace tessera::serving {

// Whether the request with this id is in a sample of `rate` (0..1): FNV-1a of the id, mixed by
// MurmurHash3's finalizer, its top 53 bits as a fraction below `rate`.
bool SampledByRequestId(std::string_view request_id, double rate);

struct PayloadRecord {
  std::string endpoint;  // resource name
  std::string deployed_model_id;
  std::string request_id;
  absl::Time time;
  int status = 0;
  std::string request_body;
  std::string response_body;
  bool store_images = false;
};

class PayloadLogger {
 public:
  struct Options {
    std::filesystem::path dir;  // DATA_DIR/payload-logs
    int64_t max_file_bytes = int64_t{64} << 20;
    int max_files = 8;  // per endpoint, the one being written included
    int64_t max_queued_bytes = int64_t{64} << 20;
    // Optional: counts pairs written and dropped ({"result": "written" | "dropped"}).
    metrics::CounterFamily* counter = nullptr;
  };
  // Creates `dir` (0700). INVALID_ARGUMENT for bad limits.
  static absl::StatusOr<std::unique_ptr<PayloadLogger>> Create(const Options& options);
  ~PayloadLogger();  // writes what is queued, then stops

  void Log(PayloadRecord record) ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until everything logged so far is written (tests).
  void Flush() ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes the folders of endpoints not in `live` (resource names): a deleted endpoint's
  // requests, images included, do not outlive it (serve runs it every 10 s).
  void RetainEndpoints(const std::set<std::string>& live) ABSL_LOCKS_EXCLUDED(files_mu_);

  // The folder of an endpoint's files: its name made safe for a path, with the start of the
  // full name's sha256 so two names that read alike never share one.
  std::filesystem::path EndpointDir(const std::string& endpoint) const;

 private:
  explicit PayloadLogger(const Options& options);
  void Run();
  void Write(const PayloadRecord& record) ABSL_LOCKS_EXCLUDED(files_mu_);
  void Count(const char* result);
  void Failed(const std::string& why);  // counts a dropped pair; warns at most once a minute

  const Options options_;
  absl::Mutex mu_;
  std::deque<PayloadRecord> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t writing_ ABSL_GUARDED_BY(mu_) = 0;  // records taken but not yet written
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_failure_log_ = absl::InfinitePast();  // the writer thread's
  // Each endpoint's open file; the writer thread and RetainEndpoints share them.
  absl::Mutex files_mu_;
  std::map<std::string, std::unique_ptr<RotatingFile>> files_ ABSL_GUARDED_BY(files_mu_);
  std::thread thread_;
};

}  // namespace tessera::serving
