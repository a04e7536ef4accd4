// google.longrunning Operations routes of ControlPlaneApi (control_plane_api.h).
#include <algorithm>

#include "common/status_macros.h"
#include "serving/rest/control_plane_api.h"
#include "serving/rest/json_fields.h"
#include "serving/rest/operation_codec.h"
#include "serving/rest/request_util.h"

namespace tessera::serving::rest {
namespace {

using nlohmann::json;

const std::vector<std::string_view> kNewestFirst = {"create_time desc", "createTime desc"};

// How often a blocked :wait looks at the shutdown flag.
constexpr absl::Duration kWaitSlice = absl::Milliseconds(200);

}  // namespace

http::HttpResponse ControlPlaneApi::GetOperation(const http::HttpRequest& request) {
  absl::StatusOr<registry::Operation> op =
      options_.operations->GetOperation(ResourceFromPath(request, "operations", "operation"));
  if (!op.ok()) return Error(op.status());
  return OperationResponse(*op);
}

http::HttpResponse ControlPlaneApi::ListOperations(const http::HttpRequest& request) {
  absl::StatusOr<registry::ListQuery> query = ListQueryFromRequest(request, kNewestFirst);
  if (!query.ok()) return Error(query.status());
  absl::StatusOr<registry::ListPage<registry::Operation>> page =
      options_.operations->ListOperations(ParentFromPath(request), *query);
  if (!page.ok()) return Error(page.status());
  json ops = json::array();
  for (const registry::Operation& op : page->items) {
    // Lists do not embed the resources of finished operations (that would read one resource
    // per row); their response holds the references, which is what a list is for.
    ops.push_back(OperationToJson(op, MinimalOperationResponse(op)));
  }
  json j = {{"operations", std::move(ops)}};
  if (!page->next_page_token.empty()) j["nextPageToken"] = page->next_page_token;
  return Ok(j);
}

http::HttpResponse ControlPlaneApi::WaitOperation(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  // The timeout may come as a query parameter (REST clients) or in the body (transcoded gRPC).
  std::optional<std::string> timeout_text = request.QueryParam("timeout");
  JsonObjectReader reader(*body, "");
  reader.Ignore("name");
  std::string body_timeout;
  if (absl::Status s = reader.String("timeout", body_timeout); !s.ok()) return Error(s);
  if (absl::Status s = reader.Finish(); !s.ok()) return Error(s);
  if (!timeout_text && !body_timeout.empty()) timeout_text = body_timeout;
  absl::Duration timeout = options_.max_wait;
  if (timeout_text) {
    absl::StatusOr<absl::Duration> parsed = ParseDuration(*timeout_text);
    if (!parsed.ok()) return Error(parsed.status());
    timeout = std::min(*parsed, options_.max_wait);
  }
  const std::string name = ResourceFromPath(request, "operations", "operation");
  // Over the limit of blocking waits: one slice only (still rate-limits a polling client).
  const int max_waits = options_.max_blocking_waits > 0 ? options_.max_blocking_waits
                                                        : std::max(1, options_.handler_threads / 2);
  struct WaitSlot {
    std::atomic<int>& count;
    ~WaitSlot() { count.fetch_sub(1); }
  } slot{blocking_waits_};
  if (blocking_waits_.fetch_add(1) >= max_waits) timeout = std::min(timeout, kWaitSlice);
  // Wait in slices so BeginShutdown() ends a long poll promptly.
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    const absl::Duration slice =
        shutting_down_.load() ? absl::ZeroDuration() : std::min(left, kWaitSlice);
    absl::StatusOr<registry::Operation> op =
        options_.operations->WaitOperation(name, std::max(slice, absl::ZeroDuration()));
    if (!op.ok()) return Error(op.status());
    if (op->done || shutting_down_.load() || absl::Now() >= deadline) return OperationResponse(*op);
  }
}

http::HttpResponse ControlPlaneApi::CancelOperation(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  JsonObjectReader reader(*body, "");
  reader.Ignore("name");
  if (absl::Status s = reader.Finish(); !s.ok()) return Error(s);
  absl::Status status =
      options_.operations->CancelOperation(ResourceFromPath(request, "operations", "operation"));
  if (!status.ok()) return Error(status);
  return Ok(json::object());  // google.protobuf.Empty
}

http::HttpResponse ControlPlaneApi::DeleteOperation(const http::HttpRequest& request) {
  absl::Status status =
      options_.operations->DeleteOperation(ResourceFromPath(request, "operations", "operation"));
  if (!status.ok()) return Error(status);
  return Ok(json::object());
}

}  // namespace tessera::serving::rest
