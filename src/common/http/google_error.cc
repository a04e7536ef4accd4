#include "common/http/google_error.h"

#include <algorithm>
#include <array>
#include <utility>

#include "common/untrusted_json.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::http {

namespace {

constexpr std::array<std::pair<absl::StatusCode, std::string_view>, 17> kCodeNames = {{
    {absl::StatusCode::kOk, "OK"},
    {absl::StatusCode::kCancelled, "CANCELLED"},
    {absl::StatusCode::kUnknown, "UNKNOWN"},
    {absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
    {absl::StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
    {absl::StatusCode::kNotFound, "NOT_FOUND"},
    {absl::StatusCode::kAlreadyExists, "ALREADY_EXISTS"},
    {absl::StatusCode::kPermissionDenied, "PERMISSION_DENIED"},
    {absl::StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
    {absl::StatusCode::kFailedPrecondition, "FAILED_PRECONDITION"},
    {absl::StatusCode::kAborted, "ABORTED"},
    {absl::StatusCode::kOutOfRange, "OUT_OF_RANGE"},
    {absl::StatusCode::kUnimplemented, "UNIMPLEMENTED"},
    {absl::StatusCode::kInternal, "INTERNAL"},
    {absl::StatusCode::kUnavailable, "UNAVAILABLE"},
    {absl::StatusCode::kDataLoss, "DATA_LOSS"},
    {absl::StatusCode::kUnauthenticated, "UNAUTHENTICATED"},
}};

constexpr size_t kMaxEchoedBodyBytes = 200;
constexpr char kRetryAfterPayload[] = "type.tessera.dev/retry-after-seconds";
constexpr int kMaxRetryAfterSeconds = 3600;
constexpr char kErrorInfoPayload[] = "type.googleapis.com/google.rpc.ErrorInfo";

nlohmann::json ErrorInfoJson(const ErrorInfo& info) {
  return nlohmann::json{{"@type", kErrorInfoPayload},
                        {"reason", info.reason},
                        {"domain", info.domain},
                        {"metadata", info.metadata}};
}

// The ErrorInfo of a details entry; nullopt when it is not one (or malformed).
std::optional<ErrorInfo> ErrorInfoFromJson(const nlohmann::json& j) {
  if (!j.is_object() || j.value("@type", std::string()) != kErrorInfoPayload) return std::nullopt;
  ErrorInfo info;
  const auto reason = j.find("reason");
  const auto domain = j.find("domain");
  if (reason == j.end() || !reason->is_string()) return std::nullopt;
  info.reason = reason->get<std::string>();
  info.domain = domain != j.end() && domain->is_string() ? domain->get<std::string>() : "";
  const auto metadata = j.find("metadata");
  if (metadata != j.end() && metadata->is_object()) {
    for (const auto& [key, value] : metadata->items()) {
      if (value.is_string()) info.metadata[key] = value.get<std::string>();
    }
  }
  return info;
}

}  // namespace

int HttpStatusFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
    default:
      return 500;
  }
}

absl::StatusCode CodeFromHttpStatus(int http_status) {
  if (http_status >= 200 && http_status < 300) return absl::StatusCode::kOk;
  switch (http_status) {
    case 400:
    case 413:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 408:
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    case 409:
      return absl::StatusCode::kAborted;
    case 412:
      return absl::StatusCode::kFailedPrecondition;
    case 416:
      return absl::StatusCode::kOutOfRange;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 499:
      return absl::StatusCode::kCancelled;
    case 500:
      return absl::StatusCode::kInternal;
    case 502:
    case 503:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (http_status >= 400 && http_status < 500) return absl::StatusCode::kFailedPrecondition;
  if (http_status >= 500 && http_status < 600) return absl::StatusCode::kInternal;
  return absl::StatusCode::kUnknown;
}

std::string CodeName(absl::StatusCode code) {
  for (const auto& [c, name] : kCodeNames) {
    if (c == code) return std::string(name);
  }
  return "UNKNOWN";
}

bool CodeFromName(std::string_view name, absl::StatusCode* code) {
  for (const auto& [c, n] : kCodeNames) {
    if (n == name) {
      *code = c;
      return true;
    }
  }
  return false;
}

nlohmann::json GoogleErrorJson(int http_status, const absl::Status& status) {
  absl::StatusCode code = status.code();
  std::string message(status.message());
  if (code == absl::StatusCode::kOk) {
    code = absl::StatusCode::kInternal;
    message = "OK status reported as an error";
  }
  nlohmann::json j{
      {"error", {{"code", http_status}, {"message", message}, {"status", CodeName(code)}}}};
  if (const std::optional<ErrorInfo> info = GetErrorInfo(status)) {
    j["error"]["details"] = nlohmann::json::array({ErrorInfoJson(*info)});
  }
  return j;
}

nlohmann::json GoogleErrorJson(int http_status, const absl::Status& status,
                               std::string_view request_id) {
  nlohmann::json j = GoogleErrorJson(http_status, status);
  if (!request_id.empty()) {
    nlohmann::json& details = j["error"]["details"];
    if (!details.is_array()) details = nlohmann::json::array();
    details.push_back({{"@type", "type.googleapis.com/google.rpc.RequestInfo"},
                       {"requestId", std::string(request_id)}});
  }
  return j;
}

HttpResponse GoogleErrorResponse(const absl::Status& status) {
  const int http_status = status.ok() ? 500 : HttpStatusFromCode(status.code());
  return GoogleErrorResponse(http_status, status);
}

HttpResponse GoogleErrorResponse(int http_status, const absl::Status& status) {
  HttpResponse response = JsonResponse(http_status, GoogleErrorJson(http_status, status));
  AddRetryAfterHeader(status, response);
  return response;
}

void SetRetryAfterSeconds(absl::Status& status, int seconds) {
  if (status.ok()) return;
  status.SetPayload(kRetryAfterPayload,
                    absl::Cord(std::to_string(std::clamp(seconds, 1, kMaxRetryAfterSeconds))));
}

std::optional<int> RetryAfterSeconds(const absl::Status& status) {
  const auto payload = status.GetPayload(kRetryAfterPayload);  // absl::optional on Debian
  if (!payload) return std::nullopt;
  int seconds = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &seconds) || seconds < 1) return std::nullopt;
  return seconds;
}

void SetErrorInfo(absl::Status& status, const ErrorInfo& info) {
  if (status.ok()) return;
  status.SetPayload(kErrorInfoPayload, absl::Cord(ErrorInfoJson(info).dump()));
}

std::optional<ErrorInfo> GetErrorInfo(const absl::Status& status) {
  const auto payload = status.GetPayload(kErrorInfoPayload);  // absl::optional on Debian
  if (!payload) return std::nullopt;
  const nlohmann::json j =
      nlohmann::json::parse(std::string(*payload), nullptr, /*allow_exceptions=*/false);
  return ErrorInfoFromJson(j);
}

void AddRetryAfterHeader(const absl::Status& status, HttpResponse& response) {
  if (const std::optional<int> seconds = RetryAfterSeconds(status)) {
    response.headers.Set(std::string(kRetryAfterHeader), std::to_string(*seconds));
  }
}

HttpResponse GoogleErrorResponse(int http_status, const absl::Status& status,
                                 std::string_view request_id) {
  HttpResponse response =
      JsonResponse(http_status, GoogleErrorJson(http_status, status, request_id));
  AddRetryAfterHeader(status, response);
  return response;
}

absl::Status StatusFromHttpResponse(int http_status, std::string_view body) {
  const absl::StatusCode from_http = CodeFromHttpStatus(http_status);
  if (from_http == absl::StatusCode::kOk) return absl::OkStatus();
  // A Google error body wins over the HTTP status: it carries the precise code.
  const nlohmann::json parsed =
      ParseUntrustedJson(body, kPeerJsonLimits).value_or(nlohmann::json());
  if (parsed.is_object()) {
    const auto error = parsed.find("error");
    if (error != parsed.end() && error->is_object()) {
      absl::StatusCode code = from_http;
      const auto status_name = error->find("status");
      if (status_name != error->end() && status_name->is_string()) {
        absl::StatusCode named;
        if (CodeFromName(status_name->get<std::string>(), &named) &&
            named != absl::StatusCode::kOk) {
          code = named;
        }
      }
      const auto message = error->find("message");
      if (message != error->end() && message->is_string()) {
        absl::Status status(code, message->get<std::string>());
        const auto details = error->find("details");
        if (details != error->end() && details->is_array()) {
          for (const nlohmann::json& detail : *details) {
            if (std::optional<ErrorInfo> info = ErrorInfoFromJson(detail)) {
              SetErrorInfo(status, *info);
              break;
            }
          }
        }
        return status;
      }
    }
  }
  std::string excerpt(body.substr(0, kMaxEchoedBodyBytes));
  if (body.size() > kMaxEchoedBodyBytes) excerpt += "...";
  return absl::Status(from_http, excerpt.empty()
                                     ? fmt::format("HTTP {}", http_status)
                                     : fmt::format("HTTP {}: {}", http_status, excerpt));
}

absl::Status StatusFromHttpResponse(const HttpResponse& response) {
  absl::Status status = StatusFromHttpResponse(response.status, response.body);
  // Only the delay-seconds form: an HTTP-date would need the peer's clock.
  int seconds = 0;
  if (const std::string* retry_after = response.headers.Find(std::string(kRetryAfterHeader));
      retry_after != nullptr && absl::SimpleAtoi(*retry_after, &seconds) && seconds >= 1) {
    SetRetryAfterSeconds(status, seconds);
  }
  return status;
}

}  // namespace tessera::http
