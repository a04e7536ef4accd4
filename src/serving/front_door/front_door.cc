#include "serving/front_door/front_door.h"

#include <utility>

#include "auth/api_key_secret.h"
#include "common/http/google_error.h"
#include "common/http/url.h"
#include "fmt/format.h"

namespace tessera::serving {
namespace {

constexpr std::string_view kBearer = "bearer";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsMutation(const RouteAccess& access) {
  return access.action == auth::Action::kWrite || access.action == auth::Action::kAdmin;
}

// Strings a guarded call keeps for the audit line written when its response goes out (the
// request itself has moved on to the handler by then).
struct OwnedCall {
  std::string method, resource, request_id, remote;
  CallInfo View() const {
    return {.protocol = "http",
            .method = method,
            .resource = resource,
            .request_id = request_id,
            .remote = remote};
  }
};

std::shared_ptr<const Principal> Anonymous() {
  auto p = std::make_shared<Principal>();
  p->key_id = "anonymous";
  p->role = Role::kAdmin;
  p->projects = {std::string(kAllProjects)};
  return p;
}

}  // namespace

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kGlobal:
      return "global";
    case Scope::kProject:
      return "project";
    case Scope::kEndpoint:
      return "endpoint";
    case Scope::kModelName:
      return "model-name";
    case Scope::kEveryProject:
      return "every-project";
  }
  return "global";
}

absl::StatusOr<std::optional<std::string>> PresentedKey(
    const std::vector<std::string>& authorization, const std::vector<std::string>& api_key) {
  if (authorization.size() > 1 || api_key.size() > 1) {
    return absl::UnauthenticatedError(
        "the request carries several Authorization or x-api-key values; send one key");
  }
  std::optional<std::string> from_authorization;
  if (authorization.size() == 1) {
    const std::string_view value = Trim(authorization[0]);
    const size_t space = value.find_first_of(" \t");
    const std::string_view scheme = value.substr(0, space);
    if (!http::EqualsIgnoreCase(scheme, kBearer)) {
      // Not echoed: a key sent without its scheme would be its own "scheme".
      return absl::UnauthenticatedError(
          "the Authorization header is not \"Bearer <API key>\" (no other scheme is supported)");
    }
    const std::string_view token =
        space == std::string_view::npos ? std::string_view() : Trim(value.substr(space));
    if (token.empty()) return absl::UnauthenticatedError("the Authorization header holds no key");
    from_authorization = std::string(token);
  }
  std::optional<std::string> from_api_key;
  if (api_key.size() == 1) {
    const std::string_view token = Trim(api_key[0]);
    if (token.empty()) return absl::UnauthenticatedError("the x-api-key header holds no key");
    from_api_key = std::string(token);
  }
  if (from_authorization && from_api_key && *from_authorization != *from_api_key) {
    return absl::UnauthenticatedError(
        "Authorization and x-api-key hold different keys; send one key");
  }
  return from_authorization ? from_authorization : from_api_key;
}

auth::Target TargetOf(Scope scope, const std::map<std::string, std::string>& path_params) {
  const auto param = [&](const std::string& name) -> std::string {
    const auto it = path_params.find(name);
    return it == path_params.end() ? std::string() : it->second;
  };
  auth::Target target;
  switch (scope) {
    case Scope::kGlobal:
    case Scope::kModelName:
      break;
    case Scope::kEveryProject:
      target.every_project = true;
      target.project = param("project");
      break;
    case Scope::kProject:
      target.project = param("project");
      break;
    case Scope::kEndpoint:
      target.project = param("project");
      target.endpoint = fmt::format("projects/{}/locations/{}/endpoints/{}", param("project"),
                                    param("location"), param("endpoint"));
      break;
  }
  return target;
}

FrontDoor::FrontDoor(const Options& options) : options_(options), anonymous_(Anonymous()) {}

FrontDoor::Admission FrontDoor::Admit(const RouteAccess& access, const auth::Target& target,
                                      const std::optional<std::string>& key) {
  if (access.action == auth::Action::kPublic) return {absl::OkStatus(), nullptr};
  if (!auth_enabled()) return {absl::OkStatus(), anonymous_};
  return Check(access, target, key, LimitUse::kTake);
}

FrontDoor::Admission FrontDoor::Check(const RouteAccess& access, const auth::Target& target,
                                      const std::optional<std::string>& key, LimitUse limits) {
  if (!key) {
    return {absl::UnauthenticatedError(
                "this call needs an API key: send \"Authorization: Bearer <key>\" or "
                "\"x-api-key: <key>\" (docs/security.md)"),
            nullptr};
  }
  absl::StatusOr<auth::Authenticated> authenticated = options_.keys->Authenticate(*key);
  if (!authenticated.ok()) return {authenticated.status(), nullptr};
  Admission admission{absl::OkStatus(), authenticated->principal};
  // Authorized first: a call the key may not make takes no token.
  admission.status = auth::Authorize(*admission.principal, access.action, target);
  if (admission.status.ok() && !authenticated->rate_limits.empty() &&
      options_.key_limits != nullptr) {
    admission.status = limits == LimitUse::kTake
                           ? options_.key_limits->AdmitAll(authenticated->rate_limits)
                           : options_.key_limits->Check(authenticated->rate_limits);
  }
  return admission;
}

absl::Status FrontDoor::AdmitBody(const http::HeaderView& header, const MatchedRoute* route) {
  // A body needs a valid key on every route, public ones included: no public route takes one,
  // and a keyless body must not hold the budget whatever path it names. Without a route, any
  // valid key will do (the route's own check comes later, with the request).
  if (!auth_enabled()) return absl::OkStatus();
  const RouteAccess access =
      route != nullptr ? route->access : RouteAccess{auth::Action::kAuthenticated, Scope::kGlobal};
  absl::StatusOr<std::optional<std::string>> key =
      PresentedKey(header.headers.GetAll("Authorization"), header.headers.GetAll("x-api-key"));
  // What the full check would answer is answered now, 429 included, without taking the token.
  const Admission admission =
      key.ok()
          ? Check(access, route != nullptr ? route->target : auth::Target{}, *key, LimitUse::kPeek)
          : Admission{key.status(), nullptr};
  if (admission.status.ok()) return absl::OkStatus();
  // Refused before the route ran: audited as the route's own refusal would be, under the
  // decoded path (as the route would log it; an undecodable one as sent).
  const std::string_view raw_path = header.target.substr(0, header.target.find('?'));
  const std::string path = http::PercentDecodePath(raw_path).value_or(std::string(raw_path));
  Audit(access, admission.principal.get(),
        {.protocol = "http",
         .method = header.method,
         .resource = path,
         .request_id = header.request_id,
         .remote = header.remote_address},
        http::HttpStatusFromCode(admission.status.code()), admission.status.code());
  return admission.status;
}

void FrontDoor::Audit(const RouteAccess& access, const Principal* principal, const CallInfo& call,
                      int http_status, absl::StatusCode code) {
  const bool unauthenticated = code == absl::StatusCode::kUnauthenticated;
  const bool refused = unauthenticated || code == absl::StatusCode::kPermissionDenied;
  if (!refused && !IsMutation(access)) return;
  auth::AuditLog* log = unauthenticated && options_.unauthenticated_audit != nullptr
                            ? options_.unauthenticated_audit
                            : options_.audit;
  if (log == nullptr) return;
  auth::AuditEvent event;
  event.time = options_.clock->Now();
  if (principal != nullptr) {
    event.key_id = principal->key_id;
    event.role = std::string(RoleName(principal->role));
  }
  event.protocol = std::string(call.protocol);
  event.method = std::string(call.method);
  event.resource = std::string(call.resource);
  event.status = http_status;
  event.outcome = http::CodeName(code);
  event.request_id = std::string(call.request_id);
  event.remote = std::string(call.remote);
  log->Record(event);
}

http::Handler FrontDoor::Guard(RouteAccess access, http::Handler handler) {
  return [this, access, handler = std::move(handler)](http::HttpRequest&& request,
                                                      http::Responder responder) {
    Admission admission;
    if (access.action == auth::Action::kPublic || !auth_enabled()) {
      // Without authentication no credential is read: every caller is the anonymous admin.
      admission = Admit(access, TargetOf(access.scope, request.path_params), std::nullopt);
    } else {
      absl::StatusOr<std::optional<std::string>> key = PresentedKey(
          request.headers.GetAll("Authorization"), request.headers.GetAll("x-api-key"));
      admission = key.ok() ? Admit(access, TargetOf(access.scope, request.path_params), *key)
                           : Admission{key.status(), nullptr};
    }
    const bool warn = !auth_enabled();
    if (!admission.status.ok()) {
      http::HttpResponse refusal = ErrorResponseIn(access.errors, admission.status);
      if (absl::IsUnauthenticated(admission.status)) {
        refusal.headers.Set("WWW-Authenticate", "Bearer realm=\"tessera\"");
      }
      if (warn) refusal.headers.Set("Warning", std::string(kAuthOffWarning));
      Audit(access, admission.principal.get(),
            {.protocol = "http",
             .method = request.method,
             .resource = request.path,
             .request_id = request.request_id,
             .remote = request.remote_address},
            refusal.status, admission.status.code());
      responder.Respond(std::move(refusal));
      return;
    }
    request.principal = admission.principal;
    if (!warn && !IsMutation(access)) {  // the predict path: nothing to add afterwards
      handler(std::move(request), std::move(responder));
      return;
    }
    // The response goes out through a wrapper that adds the warning and writes the audit line
    // (with what it needs of the request, which moves on to the handler).
    auto call = std::make_shared<OwnedCall>(OwnedCall{.method = request.method,
                                                      .resource = request.path,
                                                      .request_id = request.request_id,
                                                      .remote = request.remote_address});
    http::Responder wrapped = responder.Intercepted(
        [this, access, warn, call, principal = admission.principal](http::HttpResponse& response) {
          if (warn) response.headers.Set("Warning", std::string(kAuthOffWarning));
          Audit(access, principal.get(), call->View(), response.status,
                http::CodeFromHttpStatus(response.status));
        });
    handler(std::move(request), std::move(wrapped));
  };
}

}  // namespace tessera::serving
