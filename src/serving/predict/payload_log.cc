#include "serving/predict/payload_log.h"

#include <sys/stat.h>

#include <system_error>
#include <utility>

#include "common/base64.h"
#include "common/rotating_file.h"
#include "common/untrusted_json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "registry/sha256.h"
#include "spdlog/spdlog.h"

namespace tessera::serving {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kFileName[] = "requests.jsonl";

uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

json Digest(std::string_view bytes) {
  registry::Sha256 sha;
  sha.Update(bytes);
  return {{"sha256", sha.HexDigest()}, {"bytes", bytes.size()}};
}

// Replaces every {"b64": "<base64>"}'s value by the digest of the bytes it encodes.
void ReplaceImages(json& node) {
  if (node.is_array()) {
    for (json& item : node) ReplaceImages(item);
    return;
  }
  if (!node.is_object()) return;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (it.key() == "b64" && it->is_string()) {
      absl::StatusOr<std::string> bytes = Base64Decode(it->get<std::string>());
      *it = bytes.ok() ? Digest(*bytes) : Digest(it->get<std::string>());
    } else {
      ReplaceImages(*it);
    }
  }
}

json Body(const std::string& text, bool store_images) {
  absl::StatusOr<json> parsed = ParseUntrustedJson(text, kPredictJsonLimits);
  if (!parsed.ok()) return Digest(text);
  if (!store_images) ReplaceImages(*parsed);
  return *std::move(parsed);
}

std::string LineOf(const PayloadRecord& r) {
  const json line = {
      {"endpoint", r.endpoint},
      {"deployedModelId", r.deployed_model_id},
      {"requestId", r.request_id},
      {"loggingTime", absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", r.time, absl::UTCTimeZone())},
      {"status", r.status},
      {"request", Body(r.request_body, r.store_images)},
      // The answer is the server's own JSON; images never appear in it.
      {"response", Body(r.response_body, /*store_images=*/true)}};
  return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace

bool SampledByRequestId(std::string_view request_id, double rate) {
  if (!(rate > 0)) return false;
  if (rate >= 1) return true;
  // FNV-1a barely mixes its top bits for ids that differ only at the end ("req-1", "req-2"), so
  // MurmurHash3's 64-bit finalizer spreads them before the top 53 bits become a fraction.
  uint64_t h = Fnv1a(request_id);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return static_cast<double>(h >> 11) / 9007199254740992.0 < rate;
}

absl::StatusOr<std::unique_ptr<PayloadLogger>> PayloadLogger::Create(const Options& options) {
  if (options.dir.empty() || options.max_file_bytes <= 0 || options.max_files < 1 ||
      options.max_queued_bytes <= 0) {
    return absl::InvalidArgumentError(
        "PayloadLogger: a folder, and positive file size, file count and queue limits");
  }
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        fmt::format("cannot create {}: {}", options.dir.string(), ec.message()));
  }
  ::chmod(options.dir.c_str(), 0700);  // the pairs may hold users' images
  return std::unique_ptr<PayloadLogger>(new PayloadLogger(options));
}

PayloadLogger::PayloadLogger(const Options& options) : options_(options) {
  thread_ = std::thread([this] { Run(); });
}

PayloadLogger::~PayloadLogger() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void PayloadLogger::Failed(const std::string& why) {
  Count("dropped");
  // A full disk fails every write: say so once a minute, not once a request.
  const absl::Time now = absl::Now();
  if (now - last_failure_log_ < absl::Minutes(1)) return;
  last_failure_log_ = now;
  spdlog::warn(
      "payload log: {}; the pair is dropped (tessera_payload_log_records_total counts "
      "them; said once a minute)",
      why);
}

void PayloadLogger::RetainEndpoints(const std::set<std::string>& live) {
  std::set<fs::path> keep;
  for (const std::string& endpoint : live) keep.insert(EndpointDir(endpoint).filename());
  // The files' lock, not the queue's: predicts never wait here, only the writer does.
  absl::MutexLock lock(&files_mu_);
  std::erase_if(files_, [&live](const auto& file) { return live.count(file.first) == 0; });
  std::error_code ec;
  for (fs::directory_iterator it(options_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory(ec) || keep.count(it->path().filename()) > 0) continue;
    std::error_code removed;
    fs::remove_all(it->path(), removed);
    if (!removed)
      spdlog::info("payload log: removed {} (its endpoint is gone)", it->path().string());
  }
}

void PayloadLogger::Count(const char* result) {
  if (options_.counter != nullptr) options_.counter->With({result})->Increment();
}

void PayloadLogger::Log(PayloadRecord record) {
  const int64_t bytes =
      static_cast<int64_t>(record.request_body.size() + record.response_body.size());
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && queued_bytes_ + bytes <= options_.max_queued_bytes) {
      queued_bytes_ += bytes;
      queue_.push_back(std::move(record));
      return;
    }
  }
  Count("dropped");
}

void PayloadLogger::Flush() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && writing_ == 0; };
  mu_.Await(absl::Condition(&idle));
}

fs::path PayloadLogger::EndpointDir(const std::string& endpoint) const {
  std::string safe;
  for (char c : endpoint) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_';
    safe += plain ? c : '_';
  }
  registry::Sha256 sha;
  sha.Update(endpoint);
  return options_.dir / fmt::format("{}-{}", safe, sha.HexDigest().substr(0, 16));
}

void PayloadLogger::Run() {
  while (true) {
    PayloadRecord record;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything is written
      record = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -=
          static_cast<int64_t>(record.request_body.size() + record.response_body.size());
      ++writing_;
    }
    Write(record);
    absl::MutexLock lock(&mu_);
    --writing_;
  }
}

void PayloadLogger::Write(const PayloadRecord& record) {
  const std::string line = LineOf(record);
  absl::MutexLock lock(&files_mu_);
  std::unique_ptr<RotatingFile>& file = files_[record.endpoint];
  if (file == nullptr) {
    // The cap is what protects the disk: a rotation that fails drops the pair instead.
    absl::StatusOr<std::unique_ptr<RotatingFile>> opened =
        RotatingFile::Open({.path = EndpointDir(record.endpoint) / kFileName,
                            .max_file_bytes = options_.max_file_bytes,
                            .max_rotated_files = options_.max_files - 1,
                            .refuse_lines_when_rotation_fails = true});
    if (!opened.ok()) {
      files_.erase(record.endpoint);
      Failed(std::string(opened.status().message()));
      return;
    }
    file = std::move(*opened);
  }
  if (absl::Status appended = file->Append(line); !appended.ok()) {
    Failed(std::string(appended.message()));
    return;
  }
  Count("written");
}

}  // namespace tessera::serving
