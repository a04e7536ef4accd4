#include "runtime/replica_server.h"

#include <malloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/current_exception.h"
#include "common/http/exception_response.h"
#include "common/http/google_error.h"
#include "common/http/request_deadline.h"
#include "common/http/router.h"
#include "common/http/server_timing.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace tessera::runtime {
namespace {

using nlohmann::json;

template <typename JsonType = json>
http::HttpResponse Json(int status, const JsonType& body) {
  http::HttpResponse response;
  response.status = status;
  response.content_type = std::string(http::kJsonContentType);
  // Labels come from config.json and are valid UTF-8, but never let a dump throw on an io thread.
  response.body = body.dump(-1, ' ', false, JsonType::error_handler_t::replace);
  return response;
}

// What the batch a batch thread ran last cost. ProcessBatch writes it; the DoneFns of the requests
// that batch completed read it, on the same thread right after (runtime/batcher.h).
struct BatchTiming {
  std::chrono::steady_clock::time_point started;  // monotonic, as every duration here
  absl::Duration preprocess;
  absl::Duration inference;
};
thread_local BatchTiming last_batch;

// The same status with "instance <i>: " in front of its message.
absl::Status ForInstance(size_t index, const absl::Status& status) {
  return absl::Status(status.code(),
                      fmt::format("instance {}: {}", index, std::string(status.message())));
}

}  // namespace

std::string_view ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kLoading:
      return "LOADING";
    case ReplicaState::kReady:
      return "READY";
    case ReplicaState::kDraining:
      return "DRAINING";
    case ReplicaState::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

int64_t CurrentRssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long long size_pages = 0, resident_pages = 0;
  const int n = std::fscanf(f, "%lld %lld", &size_pages, &resident_pages);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<int64_t>(resident_pages) * ::sysconf(_SC_PAGESIZE);
}

ReplicaSpec SpecOf(const ReplicaServerOptions& o) {
  ReplicaSpec spec;
  spec.threads = o.num_threads;
  spec.max_batch_size = o.max_batch_size;
  spec.max_queue_delay_us = o.max_queue_delay_us;
  spec.max_queue_size = o.max_queue_size;
  spec.max_instances = o.codec.max_instances;
  spec.input_key = o.codec.input_key;
  spec.precision = o.precision;
  spec.min_precision_agreement = o.min_precision_agreement;
  return spec;
}

absl::Status ValidateReplicaServerOptions(const ReplicaServerOptions& o) {
  if (o.model_dir.empty()) return absl::InvalidArgumentError("no model directory given");
  if (o.unix_socket_path.empty() && o.tcp_address.empty()) {
    return absl::InvalidArgumentError("give a unix socket path or a TCP address to listen on");
  }
  if (o.io_threads < 1) {
    return absl::InvalidArgumentError(
        fmt::format("io threads must be at least 1, got {}", o.io_threads));
  }
  if (o.max_queued_bytes < 0) {
    return absl::InvalidArgumentError(
        fmt::format("max queued bytes must not be negative, got {}", o.max_queued_bytes));
  }
  if (o.max_image_pixels < 1) {
    return absl::InvalidArgumentError(
        fmt::format("max image pixels must be at least 1, got {}", o.max_image_pixels));
  }
  // The deploy-time validator (control/deployment_rules.h uses the same one).
  return ValidateReplicaSpec(SpecOf(o), kReplicaFlagNames);
}

namespace {

// The CPUs this process may run on (its affinity mask, as a container or taskset limits it).
int AvailableCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

}  // namespace

ReplicaServer::ReplicaServer(const ReplicaServerOptions& options)
    : options_(options), queued_bytes_(options.max_queued_bytes) {
  switch (options.preprocess) {
    case PreprocessPlace::kIoThreads:
      preprocess_in_batch_ = false;
      break;
    case PreprocessPlace::kBatchThread:
      preprocess_in_batch_ = true;
      break;
    case PreprocessPlace::kAuto:
      preprocess_in_batch_ = options.num_threads == 0 || options.num_threads >= AvailableCpus();
      break;
  }
}

ReplicaServer::~ReplicaServer() { Drain(absl::Seconds(30)); }

absl::StatusOr<std::unique_ptr<ReplicaServer>> ReplicaServer::Create(
    const ReplicaServerOptions& options) {
  RETURN_IF_ERROR(ValidateReplicaServerOptions(options));
  std::unique_ptr<ReplicaServer> server(new ReplicaServer(options));
  ReplicaServer* self = server.get();

  auto router = std::make_shared<http::Router>();
  RETURN_IF_ERROR(router->Add("GET", "/health", [self](http::HttpRequest&&, http::Responder r) {
    const ReplicaState state = self->state();
    r(Json(state == ReplicaState::kReady ? 200 : 503,
           {{"state", std::string(ReplicaStateName(state))}}));
  }));
  RETURN_IF_ERROR(router->Add("GET", "/status", [self](http::HttpRequest&&, http::Responder r) {
    r(Json(200, self->StatusJson()));
  }));
  RETURN_IF_ERROR(router->Add(
      "POST", "/predict",
      [self](http::HttpRequest&& req, http::Responder r) { self->HandlePredict(req, r); }));
  RETURN_IF_ERROR(router->Add(
      "POST", "/predict_bytes",
      [self](http::HttpRequest&& req, http::Responder r) { self->HandlePredictBytes(req, r); }));

  http::HttpServer::Options http_options;
  http_options.unix_socket_path = options.unix_socket_path;
  http_options.tcp_address = options.tcp_address;
  http_options.tcp_port = options.tcp_port;
  http_options.io_threads = options.io_threads;
  http_options.max_body_bytes = options.max_body_bytes;
  // Every client of a replica is its one `tessera serve` (one peer address when on TCP): only
  // the total connection cap applies.
  http_options.max_connections_per_peer = http_options.max_connections;
  http_options.handler = http::Router::AsHandler(std::move(router));
  ASSIGN_OR_RETURN(server->http_, http::HttpServer::Create(http_options));

  absl::Status loaded = server->Load();
  if (!loaded.ok()) {
    server->Drain(absl::ZeroDuration());
    return absl::Status(loaded.code(),
                        fmt::format("cannot load the model: {}", std::string(loaded.message())));
  }
  {
    absl::MutexLock lock(&server->mu_);
    if (server->state_ == ReplicaState::kLoading) server->state_ = ReplicaState::kReady;
  }
  const engine::ModelInfo& info = server->classifier_->info();
  spdlog::info(
      "replica ready: {} ({} labels, {}x{}), max batch {}, {} engine threads, weights {} MiB "
      "({} MiB shared), rss {} MiB; {} on {}, GEMM kernel {}, attention {}",
      info.architecture, info.num_labels, info.image_height, info.image_width, info.max_batch_size,
      info.num_threads, info.weight_bytes >> 20, info.shared_weight_bytes >> 20,
      CurrentRssBytes() >> 20, info.precision, info.isa, server->gemm_kernel_,
      server->attention_kernel_);
  return server;
}

absl::Status ReplicaServer::Load() {
  const absl::Time start = absl::Now();
  // The model is loaded and warmed up on the batch thread, the thread that runs every forward
  // pass afterwards (BatcherOptions::thread_init says why). Load waits for it.
  struct Loading {
    absl::Notification done;
    absl::Status status;
  };
  auto loading = std::make_shared<Loading>();
  BatcherOptions options{.max_batch_size = options_.max_batch_size,
                         .max_queue_delay_us = options_.max_queue_delay_us,
                         .max_queue_size = options_.max_queue_size};
  options.thread_init = [this, loading] {
    try {
      loading->status = LoadEngine();
    } catch (...) {
      loading->status = absl::InternalError(
          fmt::format("loading the model failed: {}", CurrentExceptionMessage()));
    }
    loading->done.Notify();
  };
  ASSIGN_OR_RETURN(batcher_, Batcher::Create(options, [this](std::span<const Tensor* const> batch) {
                     return ProcessBatch(batch);
                   }));
  loading->done.WaitForNotification();
  if (!loading->status.ok()) {
    batcher_->Stop();
    batcher_.reset();
    return loading->status;
  }
  // Loading allocated and freed hundreds of MiB (unpacked weight copies, private packings that a
  // shared file replaced); glibc keeps such memory in its heap. Give it back, so a replica's RSS
  // is what it uses (measured: 716 -> 440 MiB for ViT-B/16 with shared weights).
  ::malloc_trim(0);
  spdlog::info("model {} loaded and warmed up in {} ms", options_.model_dir.string(),
               absl::ToInt64Milliseconds(absl::Now() - start));
  return absl::OkStatus();
}

absl::Status ReplicaServer::LoadEngine() {
  engine::EngineOptions engine_options;
  engine_options.num_threads = options_.num_threads;
  engine_options.max_batch_size = options_.max_batch_size;
  engine_options.decode_limits.max_pixels = options_.max_image_pixels;
  engine_options.packed_weights_path = options_.packed_weights_path;
  engine_options.precision = options_.precision;
  ASSIGN_OR_RETURN(classifier_, engine::ImageClassifier::Load(options_.model_dir, engine_options));
  const size_t ppi = classifier_->pixels_per_image();
  const int labels = classifier_->info().num_labels;
  batch_pixels_.assign(size_t(options_.max_batch_size) * ppi, 0.f);
  batch_logits_.assign(size_t(options_.max_batch_size) * labels, 0.f);
  // Warm-up: one real Forward at batch 1 and at max_batch_size, so the first requests do not pay
  // for kernel creation (and a model that cannot run fails here, not on a request).
  for (int batch : {1, options_.max_batch_size}) {
    RETURN_IF_ERROR(classifier_->WarmUp(batch));
    RETURN_IF_ERROR(classifier_->Forward(std::span<const float>(batch_pixels_.data(), batch * ppi),
                                         batch,
                                         std::span<float>(batch_logits_.data(), batch * labels)));
  }
  // Read now, once: the kernels' plans grow while batches of new sizes run, so the status
  // threads must not ask the engine later.
  gemm_kernel_ = classifier_->GemmKernel(options_.max_batch_size);
  attention_kernel_ = classifier_->AttentionImplementation();
  if (options_.precision != "fp32") RETURN_IF_ERROR(CheckPrecisionAgreement(engine_options));
  return absl::OkStatus();
}

absl::Status ReplicaServer::CheckPrecisionAgreement(const engine::EngineOptions& engine_options) {
  ASSIGN_OR_RETURN(engine::CalibrationSet set, engine::LoadCalibrationSet(options_.model_dir));
  ASSIGN_OR_RETURN(engine::PrecisionAgreement agreement,
                   engine::MeasureAgreement(*classifier_, options_.model_dir, engine_options, set));
  // The deploy field's name: a refusal reaches the user as the deploy operation's error.
  RETURN_IF_ERROR(engine::CheckAgreementFloor(agreement, options_.min_precision_agreement,
                                              "deployedModel.tessera.minPrecisionAgreement"));
  spdlog::info("precision check: {}", engine::DescribeAgreement(agreement));
  precision_agreement_ = std::move(agreement);
  return absl::OkStatus();
}

std::vector<absl::StatusOr<ReplicaServer::Logits>> ReplicaServer::ProcessBatch(
    std::span<const Tensor* const> batch) {
  const size_t ppi = classifier_->pixels_per_image();
  const size_t labels = classifier_->info().num_labels;
  const int n = static_cast<int>(batch.size());
  // Encoded images are preprocessed here, straight into the batch, on the engine's threads; one
  // that fails gets its own error (its slot is zeros, computed and discarded).
  std::vector<absl::Status> preprocessed(n);
  last_batch.started = std::chrono::steady_clock::now();
#pragma omp parallel for num_threads(classifier_->info().num_threads) schedule(dynamic, 1)
  for (int i = 0; i < n; ++i) {
    std::span<float> slot(batch_pixels_.data() + i * ppi, ppi);
    if (batch[i]->encoded.empty()) {
      std::copy(batch[i]->pixels.begin(), batch[i]->pixels.end(), slot.begin());
      continue;
    }
    const auto* data = reinterpret_cast<const uint8_t*>(batch[i]->encoded.data());
    // An exception must not leave an OpenMP region (that terminates the process): it fails
    // this image only.
    try {
      preprocessed[i] = classifier_->Preprocess({data, batch[i]->encoded.size()}, slot);
    } catch (...) {
      preprocessed[i] = absl::InternalError(
          fmt::format("preprocessing the image failed: {}", CurrentExceptionMessage()));
    }
    if (!preprocessed[i].ok()) std::fill(slot.begin(), slot.end(), 0.f);
  }
  if (options_.fault_for_test) options_.fault_for_test("batch");
  std::vector<absl::StatusOr<Logits>> results;
  results.reserve(n);
  const auto forward_start = std::chrono::steady_clock::now();
  last_batch.preprocess = absl::FromChrono(forward_start - last_batch.started);
  absl::Status status = classifier_->Forward(std::span<const float>(batch_pixels_.data(), n * ppi),
                                             n, std::span<float>(batch_logits_.data(), n * labels));
  last_batch.inference = absl::FromChrono(std::chrono::steady_clock::now() - forward_start);
  for (int i = 0; i < n; ++i) {
    if (!preprocessed[i].ok()) {
      results.emplace_back(preprocessed[i]);
    } else if (status.ok()) {
      results.emplace_back(
          Logits(batch_logits_.begin() + i * labels, batch_logits_.begin() + (i + 1) * labels));
    } else {
      results.emplace_back(status);
    }
  }
  return results;
}

bool ReplicaServer::Admit() {
  absl::MutexLock lock(&mu_);
  ++requests_;
  if (state_ != ReplicaState::kReady) {
    ++failed_requests_;
    return false;
  }
  ++in_flight_;
  ++preprocessing_;
  return true;
}

void ReplicaServer::Finish(const http::Responder& responder, http::HttpResponse&& response) {
  {
    absl::MutexLock lock(&mu_);
    --in_flight_;
    if (response.status >= 400) ++failed_requests_;
  }
  responder(std::move(response));
}

void ReplicaServer::RunAdmitted(const http::HttpRequest& request,
                                const http::Responder& responder,
                                const std::function<void(bool& submitted)>& predict) {
  bool submitted = false;
  try {
    predict(submitted);
  } catch (...) {
    http::HttpResponse error = http::ExceptionResponse("replica predict", request);
    if (!submitted && !responder.responded()) Finish(responder, std::move(error));
  }
  absl::MutexLock lock(&mu_);
  --preprocessing_;
}

void ReplicaServer::HandlePredict(const http::HttpRequest& request,
                                  const http::Responder& responder) {
  if (!Admit()) {
    responder(http::GoogleErrorResponse(absl::UnavailableError(fmt::format(
        "the replica is {}: it accepts no predict requests", ReplicaStateName(state())))));
    return;
  }
  RunAdmitted(request, responder, [&](bool& submitted) {
    if (options_.fault_for_test) options_.fault_for_test("request");
    absl::StatusOr<SubmitOptions> submit = SubmitOptionsFor(request, responder);
    auto parsed = submit.ok() ? ParsePredictRequest(request.body, options_.codec)
                              : absl::StatusOr<ParsedPredictRequest>(submit.status());
    if (!parsed.ok()) {
      Finish(responder, http::GoogleErrorResponse(parsed.status()));
      return;
    }
    PreprocessAndSubmit(std::move(parsed->images), parsed->parameters, *submit, request.request_id,
                        responder, submitted);
  });
}

void ReplicaServer::HandlePredictBytes(http::HttpRequest& request,
                                       const http::Responder& responder) {
  if (!Admit()) {
    responder(http::GoogleErrorResponse(absl::UnavailableError(fmt::format(
        "the replica is {}: it accepts no predict requests", ReplicaStateName(state())))));
    return;
  }
  RunAdmitted(request, responder, [&](bool& submitted) {
    if (options_.fault_for_test) options_.fault_for_test("request");
    auto parameters = ParsePredictQuery(request.QueryParam("top_k"), request.QueryParam("topK"),
                                        request.QueryParam("confidence_threshold"),
                                        request.QueryParam("confidenceThreshold"));
    absl::Status error = parameters.status();
    absl::StatusOr<SubmitOptions> submit = SubmitOptionsFor(request, responder);
    if (error.ok()) error = submit.status();
    if (error.ok() && request.body.empty()) {
      error = absl::InvalidArgumentError("the request body is empty: send the encoded image bytes");
    }
    if (!error.ok()) {
      Finish(responder, http::GoogleErrorResponse(error));
      return;
    }
    std::vector<std::string> images;  // the body moves in: a braced list would copy the image
    images.push_back(std::move(request.body));
    PreprocessAndSubmit(std::move(images), *parameters, *submit, request.request_id, responder,
                        submitted);
  });
}

absl::StatusOr<SubmitOptions> ReplicaServer::SubmitOptionsFor(const http::HttpRequest& request,
                                                              const http::Responder& responder) {
  SubmitOptions submit;
  ASSIGN_OR_RETURN(submit.deadline, http::RequestDeadline(request, absl::Now()));
  submit.cancellation = responder.cancellation();
  return submit;
}

absl::Status ReplicaServer::DeadOnArrival(const SubmitOptions& submit) {
  if (submit.cancellation != nullptr && submit.cancellation->cancelled()) {
    absl::MutexLock lock(&mu_);
    ++cancelled_early_;
    return absl::CancelledError("the request was cancelled before it was processed");
  }
  if (submit.deadline <= absl::Now()) {
    absl::MutexLock lock(&mu_);
    ++expired_early_;
    return absl::DeadlineExceededError(
        fmt::format("the request's deadline ({}) passed before it reached the batch queue",
                    http::kServerTimeoutHeader));
  }
  return absl::OkStatus();
}

absl::Status ReplicaServer::QueueFull(absl::Status status) const {
  http::SetRetryAfterSeconds(status, queued_bytes_.RetryAfterSeconds());
  return status;
}

void ReplicaServer::PreprocessAndSubmit(std::vector<std::string> images,
                                        const PredictParameters& parameters,
                                        const SubmitOptions& submit,
                                        const std::string& request_id,
                                        const http::Responder& responder, bool& submitted) {
  // Runs on an io thread while this request holds a `preprocessing_` slot: Drain waits for it
  // before it stops the batcher, so an admitted request is never refused by the batcher.
  absl::Status error = DeadOnArrival(submit);
  const auto preprocess_start = std::chrono::steady_clock::now();
  std::vector<Tensor> tensors(images.size());
  const size_t ppi = classifier_->pixels_per_image();
  for (size_t i = 0; i < images.size() && error.ok(); ++i) {
    if (preprocess_in_batch_) {
      tensors[i].encoded = std::move(images[i]);
      continue;
    }
    tensors[i].pixels.resize(ppi);
    const auto* data = reinterpret_cast<const uint8_t*>(images[i].data());
    absl::Status status = classifier_->Preprocess(std::span<const uint8_t>(data, images[i].size()),
                                                  tensors[i].pixels);
    if (!status.ok()) error = ForInstance(i, status);
  }
  int64_t bytes = 0;
  for (const Tensor& t : tensors) bytes += t.encoded.size() + t.pixels.size() * sizeof(float);
  if (error.ok() && !queued_bytes_.TryAcquire(bytes)) {
    {
      absl::MutexLock lock(&mu_);
      ++rejected_bytes_;
    }
    error = QueueFull(absl::ResourceExhaustedError(fmt::format(
        "the batch queue is full ({} of {} bytes of images queued, this request has {}); retry "
        "later",
        queued_bytes_.in_use(), queued_bytes_.limit(), bytes)));
    bytes = 0;
  }
  if (error.ok()) {
    const auto queued = std::chrono::steady_clock::now();
    const RequestTiming timing{.io_preprocess = absl::FromChrono(queued - preprocess_start),
                               .queued = queued};
    error = batcher_->Submit(std::move(tensors), submit,
                             [this, parameters, request_id, responder, bytes,
                              timing](absl::StatusOr<Batcher::Results> results) {
                               // On the batch thread: cheap (top-k of a few logits, a small JSON).
                               // What throws here fails this request, not the batch thread.
                               queued_bytes_.Release(bytes);
                               try {
                                 Answer(std::move(results), parameters, timing, responder);
                               } catch (...) {
                                 http::HttpResponse error = http::ExceptionResponse(
                                     "replica batch completion", request_id, "");
                                 if (!responder.responded()) Finish(responder, std::move(error));
                               }
                             });
    submitted = error.ok();
    if (!error.ok()) {
      queued_bytes_.Unwind(bytes);
      if (absl::IsResourceExhausted(error)) error = QueueFull(std::move(error));
    }
  }
  if (!error.ok()) Finish(responder, http::GoogleErrorResponse(error));
}

void ReplicaServer::Answer(absl::StatusOr<Batcher::Results> results,
                           const PredictParameters& parameters, const RequestTiming& timing,
                           const http::Responder& responder) {
  if (options_.fault_for_test) options_.fault_for_test("answer");
  if (!results.ok()) {
    Finish(responder, http::GoogleErrorResponse(results.status()));
    return;
  }
  nlohmann::ordered_json predictions = nlohmann::ordered_json::array();
  for (size_t i = 0; i < results->size(); ++i) {
    const absl::StatusOr<Logits>& logits = (*results)[i];
    if (!logits.ok()) {
      Finish(responder, http::GoogleErrorResponse(ForInstance(i, logits.status())));
      return;
    }
    predictions.push_back(
        PredictionToJson(classifier_->TopK(*logits, parameters.top_k), parameters));
  }
  http::HttpResponse response =
      Json(200, nlohmann::ordered_json{{"predictions", std::move(predictions)}});
  // A request split over several batches: queue runs from its submission to its last batch's
  // start (so it includes the earlier batches' compute); preprocess and inference are the last
  // batch's.
  response.headers.Set(
      http::kServerTimingHeader,
      http::FormatServerTiming(
          {{"queue",
            std::max(absl::ZeroDuration(), absl::FromChrono(last_batch.started - timing.queued))},
           {"preprocess", timing.io_preprocess + last_batch.preprocess},
           {"inference", last_batch.inference}}));
  Finish(responder, std::move(response));
}

void ReplicaServer::BeginDrain() {
  absl::MutexLock lock(&mu_);
  if (state_ == ReplicaState::kLoading || state_ == ReplicaState::kReady) {
    state_ = ReplicaState::kDraining;
  }
}

void ReplicaServer::Drain(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  {
    absl::MutexLock lock(&mu_);
    if (drained_) return;
    drained_ = true;
    if (state_ == ReplicaState::kLoading || state_ == ReplicaState::kReady) {
      state_ = ReplicaState::kDraining;
    }
    // Requests admitted before DRAINING finish preprocessing and reach the batcher (bounded).
    auto none_preprocessing = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return preprocessing_ == 0;
    };
    mu_.AwaitWithDeadline(absl::Condition(&none_preprocessing), deadline);
  }
  const int64_t in_flight_before = stats().in_flight;
  // Processes everything queued at once and answers it (DoneFn runs for every request).
  if (batcher_ != nullptr) batcher_->Stop();
  // Lets the responses be written, then closes every connection and removes the socket file.
  if (http_ != nullptr) http_->Shutdown(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  absl::MutexLock lock(&mu_);
  state_ = ReplicaState::kStopped;
  if (classifier_ != nullptr) {
    spdlog::info("replica drained: {} requests were in flight, {} served in total",
                 in_flight_before, requests_);
  }
}

ReplicaState ReplicaServer::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

ReplicaStats ReplicaServer::stats() const {
  ReplicaStats s;
  {
    absl::MutexLock lock(&mu_);
    s.state = state_;
    s.in_flight = in_flight_;
    s.requests = requests_;
    s.failed_requests = failed_requests_;
    s.expired = expired_early_;
    s.cancelled = cancelled_early_;
    s.rejected = rejected_bytes_;
    // batcher_ is set before the state leaves LOADING and never reset while `this` lives.
    if (state_ == ReplicaState::kLoading) return s;
  }
  if (batcher_ != nullptr) s.batcher = batcher_->stats();
  s.expired += s.batcher.dropped_deadline;
  s.cancelled += s.batcher.dropped_cancelled;
  s.rejected += s.batcher.rejected_requests;
  s.queued_bytes = queued_bytes_.in_use();
  return s;
}

json ReplicaServer::StatusJson() const {
  const ReplicaStats s = stats();
  json histogram = json::object();
  for (const auto& [size, count] : s.batcher.batch_sizes) {
    if (count > 0) histogram[std::to_string(size)] = count;
  }
  json status = {
      {"state", std::string(ReplicaStateName(s.state))},
      {"inFlight", s.in_flight},
      {"queueDepth", s.batcher.queued_instances},
      {"requests", s.requests},
      {"failedRequests", s.failed_requests},
      {"expired", s.expired},
      {"cancelled", s.cancelled},
      {"rejected", s.rejected},
      {"queuedBytes", s.queued_bytes},
      {"maxQueuedBytes", options_.max_queued_bytes},
      {"batches", s.batcher.batches},
      {"batchSizeHistogram", std::move(histogram)},
      {"rssBytes", CurrentRssBytes()},
      {"pid", static_cast<int64_t>(::getpid())},
      {"maxBatchSize", options_.max_batch_size},
      {"maxQueueDelayUs", options_.max_queue_delay_us},
      {"maxQueueSize", options_.max_queue_size},
      {"preprocess", preprocess_in_batch_ ? "batch" : "io"},
      {"inputKey", options_.codec.input_key},
      {"batcher", BatcherStatsToJson(s.batcher)},
  };
  if (s.state != ReplicaState::kLoading && classifier_ != nullptr) {
    const engine::ModelInfo& info = classifier_->info();
    status["model"] = {
        {"architecture", info.architecture},
        {"modelType", info.model_type},
        {"numLabels", info.num_labels},
        {"imageSize", {info.image_height, info.image_width}},
        {"numParameters", info.num_parameters},
        {"weightBytes", info.weight_bytes},
        {"sharedWeightBytes", info.shared_weight_bytes},
        {"threads", info.num_threads},
        {"precision", info.precision},
        {"isa", info.isa},
        {"gemmKernel", gemm_kernel_},
        {"attentionKernel", attention_kernel_},
        {"precisionAgreement", nullptr},
    };
    if (precision_agreement_) {
      const engine::PrecisionAgreement& a = *precision_agreement_;
      status["model"]["precisionAgreement"] = {
          {"images", a.images},       {"agreeing", a.agreeing},
          {"fraction", a.fraction()}, {"maxConfidenceDifference", a.max_confidence_difference},
          {"source", a.source},       {"floor", options_.min_precision_agreement},
      };
    }
  } else {
    status["model"] = nullptr;
  }
  return status;
}

}  // namespace tessera::runtime
