// The front door: what every request passes before its handler, on every HTTP route and gRPC
// method -- authentication (an API key), authorization (the route's RouteAccess against the
// key's role and scope, auth/access_policy.h), the key's rate limits (its own, and those it
// shares with the keys that made it, auth/key_service.h), and the audit log
// (mutations whatever their outcome, and every 401 and 403). docs/security.md describes it.
//
// Credentials: "Authorization: Bearer <key>" (what Google's clients send with a token
// credential) or "x-api-key: <key>"; on gRPC the same two metadata keys. Keys in URLs are not
// accepted (they end up in access logs). Refusals: 401 UNAUTHENTICATED (missing, malformed,
// unknown, revoked or expired key; with `WWW-Authenticate: Bearer realm="tessera"`), 403
// PERMISSION_DENIED (role or scope), 429 RESOURCE_EXHAUSTED (a key rate limit, with
// Retry-After), each in the route's error shape.
//
// With authentication off (Options::keys null, `serve --auth=none`), every caller is an
// anonymous admin of every project, and every HTTP response says so in a `Warning` header.
//
// Thread-safe; the handlers it guards run on the io threads as before (it does no blocking
// work: a key check is a map lookup and an HMAC).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/audit_log.h"
#include "auth/key_service.h"
#include "auth/rate_limiter.h"
#include "common/clock.h"
#include "common/http/handler.h"
#include "common/http/http_server.h"
#include "common/principal.h"
#include "serving/front_door/route_access.h"

namespace tessera::serving {

inline constexpr std::string_view kAuthOffWarning =
    "299 tessera \"authentication is off (--auth=none): anyone who can reach this server is an "
    "admin\"";

// One call as the audit log and the checks see it.
struct CallInfo {
  std::string_view protocol;  // "http" or "grpc"
  std::string_view method;    // "POST", "ModelInfer"
  std::string_view resource;  // path without query, or the gRPC model name
  std::string_view request_id;
  std::string_view remote;
};

// The key a request presents: the values of its Authorization and x-api-key headers (or gRPC
// metadata). nullopt when there is none; UNAUTHENTICATED when they are malformed (another
// scheme than Bearer, several values, two different keys).
absl::StatusOr<std::optional<std::string>> PresentedKey(
    const std::vector<std::string>& authorization, const std::vector<std::string>& api_key);

class FrontDoor {
 public:
  struct Options {
    auth::KeyService* keys = nullptr;         // null: authentication off
    auth::RateLimiter* key_limits = nullptr;  // per-key buckets; required with keys
    auth::AuditLog* audit = nullptr;          // optional: mutations and 403s
    // Optional: 401s (requests without a valid key), apart, so that a flood of them cannot
    // rotate the mutations away; null: they go to `audit`.
    auth::AuditLog* unauthenticated_audit = nullptr;
    Clock* clock = nullptr;  // required
  };
  explicit FrontDoor(const Options& options);

  bool auth_enabled() const { return options_.keys != nullptr; }

  // The decision on one call. `principal` is set whenever the key was valid, also when the call
  // is then refused for its role, scope or rate (the audit log names the key); null on a public
  // route.
  struct Admission {
    absl::Status status;
    std::shared_ptr<const Principal> principal;
  };
  Admission Admit(const RouteAccess& access, const auth::Target& target,
                  const std::optional<std::string>& key);

  // Records a finished call when the audit log wants it: a mutation (write and admin actions,
  // any outcome) or a 401 / 403 on any route.
  void Audit(const RouteAccess& access, const Principal* principal, const CallInfo& call,
             int http_status, absl::StatusCode code);

  // An HTTP handler that admits the request by `access` (its target from the route's path
  // parameters), sets HttpRequest::principal and calls `handler`; or answers the refusal.
  http::Handler Guard(RouteAccess access, http::Handler handler);

  // The route a request's header matched, for AdmitBody.
  struct MatchedRoute {
    RouteAccess access;
    auth::Target target;
  };
  // HttpServer's header-time check (http_server.h, Options::admit_body): a request with a body
  // is refused before its body is read -- 401 without a valid key (on every path, public routes
  // included), 403 when `route` is given and the key may not make that call, 429 when a key
  // limit has no token left (none is taken: the full check takes it) -- so that neither a
  // keyless client nor a key without the right or the rate can hold the server's request-body
  // budget. OK with authentication off.
  absl::Status AdmitBody(const http::HeaderView& header, const MatchedRoute* route);

 private:
  // Whether a check takes a token from the key's rate limits or only looks.
  enum class LimitUse { kTake, kPeek };
  // The key's decision on a call (authentication on, public or not): authenticated, authorized,
  // then counted against its rate limits.
  Admission Check(const RouteAccess& access, const auth::Target& target,
                  const std::optional<std::string>& key, LimitUse limits);

  const Options options_;
  const std::shared_ptr<const Principal> anonymous_;
};

// The target of an HTTP call by its route's scope and (decoded) path parameters.
auth::Target TargetOf(Scope scope, const std::map<std::string, std::string>& path_params);

}  // namespace tessera::serving
