#include "cli/rest_client.h"

#include <algorithm>
#include <cstdio>

#include "common/http/google_error.h"
#include "common/status_macros.h"
#include "common/untrusted_json.h"
#include "fmt/format.h"

namespace tessera::cli {
namespace {

// One request's deadline (a :wait call holds the connection up to its own timeout).
constexpr absl::Duration kCallTimeout = absl::Seconds(90);
// How long one :wait call blocks on the server before the CLI prints progress again.
constexpr char kWaitSlice[] = "2s";

}  // namespace

absl::StatusOr<std::unique_ptr<RestClient>> RestClient::Create(const ClientTarget& target) {
  http::HttpClient::Options options;
  options.base_url = target.server;
  options.user_agent = "tessera-cli";
  options.ca_file = target.ca_file;
  absl::StatusOr<std::unique_ptr<http::HttpClient>> client = http::HttpClient::Create(options);
  if (!client.ok()) {
    return absl::InvalidArgumentError(fmt::format("bad --server \"{}\": {}", target.server,
                                                  std::string(client.status().message())));
  }
  return std::unique_ptr<RestClient>(new RestClient(target, *std::move(client)));
}

std::string RestClient::Parent() const {
  return fmt::format("projects/{}/locations/{}", target_.project, target_.location);
}

std::string RestClient::ResourceName(std::string_view collection,
                                     std::string_view id_or_name) const {
  if (id_or_name.substr(0, 9) == "projects/") return std::string(id_or_name);
  return fmt::format("{}/{}/{}", Parent(), collection, id_or_name);
}

absl::StatusOr<nlohmann::json> RestClient::Call(std::string_view method,
                                                const std::string& path_and_query,
                                                const nlohmann::json* body, std::string* stage) {
  http::HttpRequest request;
  request.method = std::string(method);
  request.target = path_and_query;
  request.headers.Set("Accept", "application/json");
  if (!target_.api_key.empty()) request.headers.Set("Authorization", "Bearer " + target_.api_key);
  if (body != nullptr) {
    request.body = body->dump();
    request.headers.Set("Content-Type", "application/json");
  }
  absl::StatusOr<http::HttpResponse> response = http_->Send(request, kCallTimeout);
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        fmt::format("cannot reach the Tessera server at {}: {}", target_.server,
                                    std::string(response.status().message())));
  }
  if (absl::Status status = http::StatusFromHttpResponse(*response); !status.ok()) {
    if (absl::IsUnauthenticated(status)) {
      return absl::UnauthenticatedError(fmt::format(
          "{} (the CLI sends --api-key-file, else $TESSERA_API_KEY, else, for a server on this "
          "machine, its DATA_DIR/admin.key; {})",
          std::string(status.message()),
          target_.api_key.empty() ? "none of them was found" : "that key was refused"));
    }
    return status;
  }
  if (stage != nullptr) {
    const std::string* percent = response->headers.Find("X-Tessera-Progress-Percent");
    const std::string* name = response->headers.Find("X-Tessera-Stage");
    *stage = fmt::format("{}% {}", percent ? *percent : "?", name ? *name : "");
  }
  if (response->body.empty()) return nlohmann::json::object();
  // The CLI prints what it gets (dump(), recursive): a hostile server must not crash it either.
  absl::StatusOr<nlohmann::json> parsed = ParseUntrustedJson(response->body, kPeerJsonLimits);
  if (!parsed.ok()) {
    return absl::InternalError(
        fmt::format("the server answered {} {} with a body that is not JSON ({})", method,
                    path_and_query, std::string(parsed.status().message())));
  }
  return std::move(*parsed);
}

absl::StatusOr<nlohmann::json> RestClient::WaitOperation(const std::string& operation_name,
                                                         bool show_progress,
                                                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last_stage;
  while (true) {
    std::string stage;
    ASSIGN_OR_RETURN(nlohmann::json op,
                     Call("POST", fmt::format("/v1/{}:wait?timeout={}", operation_name, kWaitSlice),
                          nullptr, &stage));
    if (show_progress && stage != last_stage && !op.value("done", false)) {
      std::fprintf(stderr, "  %s: %s\n", ShortId(operation_name).c_str(), stage.c_str());
      last_stage = stage;
    }
    if (op.value("done", false)) return op;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          fmt::format("operation {} is still running; check it with `tessera operations get {}`",
                      operation_name, ShortId(operation_name)));
    }
  }
}

absl::Status OperationError(const nlohmann::json& operation) {
  if (!operation.contains("error")) return absl::OkStatus();
  const nlohmann::json& error = operation["error"];
  const int code = error.value("code", 2);
  const std::string message = error.value("message", "operation failed");
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

std::string ShortId(std::string_view name) {
  const size_t slash = name.rfind('/');
  return std::string(slash == std::string_view::npos ? name : name.substr(slash + 1));
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t c = 0; c < header.size(); ++c) widths[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  const auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < widths.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      line += c + 1 == widths.size() ? cell : fmt::format("{:<{}}  ", cell, widths[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

}  // namespace tessera::cli
