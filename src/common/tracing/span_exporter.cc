#include "common/tracing/span_exporter.h"

#include <algorithm>

#include "common/http/http_client.h"
#include "common/http/http_types.h"
#include "common/http/url.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace tessera::tracing {
namespace {

using nlohmann::json;

std::string UnixNanos(absl::Time t) { return std::to_string(absl::ToUnixNanos(t)); }

json Attribute(const std::string& key, const std::string& value) {
  return {{"key", key}, {"value", {{"stringValue", value}}}};
}

}  // namespace

std::string OtlpJson(const std::vector<Span>& spans, const std::string& service) {
  json out_spans = json::array();
  for (const Span& s : spans) {
    json span = {{"traceId", s.trace_id},
                 {"spanId", s.span_id},
                 {"name", s.name},
                 {"kind", static_cast<int>(s.kind)},
                 {"startTimeUnixNano", UnixNanos(s.start)},
                 {"endTimeUnixNano", UnixNanos(s.end)}};
    if (!s.parent_span_id.empty()) span["parentSpanId"] = s.parent_span_id;
    json attributes = json::array();
    for (const auto& [key, value] : s.attributes) attributes.push_back(Attribute(key, value));
    span["attributes"] = std::move(attributes);
    // OTLP status codes: 0 unset, 1 ok, 2 error.
    span["status"] = s.error ? json{{"code", 2}, {"message", s.error_message}} : json{{"code", 0}};
    out_spans.push_back(std::move(span));
  }
  const json body = {
      {"resourceSpans",
       {{{"resource", {{"attributes", {Attribute("service.name", service)}}}},
         {"scopeSpans", {{{"scope", {{"name", "tessera"}}}, {"spans", std::move(out_spans)}}}}}}}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<std::unique_ptr<OtlpHttpExporter>> OtlpHttpExporter::Create(const Options& options) {
  absl::StatusOr<http::Url> url = http::ParseUrl(options.endpoint);
  // The HTTP client sends every request to its own target: a path here would be ignored.
  if (!url.ok() || url->scheme == http::Url::Scheme::kUnix || url->target != "/") {
    return absl::InvalidArgumentError(fmt::format(
        "the OTLP endpoint \"{}\" is not an http:// or https:// URL without a path (e.g. "
        "http://127.0.0.1:4318: spans go to its /v1/traces)",
        options.endpoint));
  }
  absl::StatusOr<std::unique_ptr<http::HttpClient>> client =
      http::HttpClient::Create({.base_url = options.endpoint, .max_idle_connections = 2});
  if (!client.ok()) return client.status();
  return std::unique_ptr<OtlpHttpExporter>(new OtlpHttpExporter(options, std::move(*client)));
}

OtlpHttpExporter::OtlpHttpExporter(const Options& options, std::unique_ptr<http::HttpClient> client)
    : options_(options), client_(std::move(client)) {
  thread_ = std::thread([this] { Run(); });
}

OtlpHttpExporter::~OtlpHttpExporter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void OtlpHttpExporter::Export(Span span) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= options_.max_queued) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  queue_.push_back(std::move(span));
}

void OtlpHttpExporter::Run() {
  // Once stopping, everything still queued gets one timeout in all, not one per batch: a
  // collector that swallows packets must not hold the server's shutdown.
  absl::Time flush_deadline = absl::InfiniteFuture();
  while (true) {
    std::vector<Span> batch;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || queue_.size() >= options_.max_batch;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), options_.interval);
      stopping = stopping_;
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (stopping && batch.empty()) return;
    }
    if (batch.empty()) continue;
    absl::Duration timeout = options_.timeout;
    if (stopping) {
      if (flush_deadline == absl::InfiniteFuture()) flush_deadline = absl::Now() + options_.timeout;
      timeout = std::min(timeout, flush_deadline - absl::Now());
      if (timeout <= absl::ZeroDuration()) {
        dropped_.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
        continue;
      }
    }
    Send(batch, timeout);
  }
}

void OtlpHttpExporter::Send(const std::vector<Span>& batch, absl::Duration timeout) {
  http::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/traces";
  request.headers.Set("Content-Type", "application/json");
  request.body = OtlpJson(batch, options_.service);
  absl::StatusOr<http::HttpResponse> response = client_->Send(request, timeout);
  absl::Status status = response.ok() ? absl::OkStatus() : response.status();
  if (response.ok() && (response->status < 200 || response->status >= 300)) {
    status = absl::UnavailableError(fmt::format("HTTP {}", response->status));
  }
  if (status.ok()) {
    exported_.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
    return;
  }
  dropped_.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
  const absl::Time now = absl::Now();
  if (now - last_failure_log_ >= absl::Minutes(1)) {
    last_failure_log_ = now;
    spdlog::warn(
        "tracing: the OTLP collector at {} refused {} spans: {} (dropped; said once a "
        "minute)",
        options_.endpoint, batch.size(), status.ToString());
  }
}

}  // namespace tessera::tracing
