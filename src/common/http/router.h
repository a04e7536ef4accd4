// Routes requests by method and path pattern to handlers. Transport only: the frontends
// (Vertex, TF Serving, KServe v2, control plane) register their own routes.
//
// Pattern syntax (Google's HTTP rule subset):
//   /v1/projects/{project}/locations/{location}/endpoints/{endpoint}:predict
//   /v1/projects/{project}/locations/{location}/models/{model}:listVersions
//   /v1/projects/{project}/locations/{location}/models/{model}
//   /v1/models/{name}/versions/{version}:predict
//   /v2/models/{name}/infer
// - A pattern starts with '/'; segments are separated by '/'. A segment is a literal or a whole
//   `{name}` parameter (name: [A-Za-z_][A-Za-z0-9_]*).
// - The last segment may end with a custom method `:verb` (after a literal or a parameter).
// - Matching is on the raw (still percent-encoded) path: it is split on '/', and the custom
//   method is what follows the last ':' of the last raw segment. A parameter therefore never
//   swallows a `:verb` (`models/{model}` does not match ".../models/7:listVersions"), and an
//   encoded "%3A" or "%2F" stays inside the parameter. Parameters are percent-decoded, must be
//   non-empty, and may hold anything else ('@' in "123@2", '.', ...).
// - When several patterns match, the one with a literal at the first segment where they differ
//   wins (`/v1/models/list` beats `/v1/models/{name}`), among those allowing the method.
// - A path no pattern matches -> 404; a path matched only for other methods -> 405 with an Allow
//   header; a malformed percent escape in a parameter -> 400. All are Google error bodies.
//
// Thread safety: Add*() only while setting up, before the router is shared; Match() and
// Dispatch() are const and safe from any number of threads after that.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/http/handler.h"
#include "common/http/http_types.h"

namespace tessera::http {

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // Registers `handler` for `method` ("GET", "POST", ...) and `pattern`. INVALID_ARGUMENT for a
  // malformed pattern, ALREADY_EXISTS when the same method and pattern shape is registered.
  absl::Status Add(std::string_view method, std::string_view pattern, Handler handler);
  absl::Status AddSync(std::string_view method, std::string_view pattern, SyncHandler handler);

  enum class MatchKind {
    kFound,             // a route matched; `handler` and `params` are set
    kNotFound,          // no pattern matches the path
    kMethodNotAllowed,  // patterns match, none for this method; see `allowed_methods`
    kBadPath,           // a parameter has a malformed percent escape; see `error`
  };
  struct MatchResult {
    MatchKind kind = MatchKind::kNotFound;
    const Handler* handler = nullptr;           // owned by the router
    std::string pattern;                        // the matching pattern, for logs and metrics
    std::map<std::string, std::string> params;  // decoded parameter values
    std::vector<std::string> allowed_methods;   // sorted, for kMethodNotAllowed
    absl::Status error;                         // for kBadPath
  };
  // Matches `raw_target` (query, if any, is ignored) for `method`.
  MatchResult Match(std::string_view method, std::string_view raw_target) const;

  // Routes `request` (by its method and raw target): fills request.path_params and calls the
  // handler, or responds with the 404/405/400 Google error itself.
  void Dispatch(HttpRequest&& request, Responder responder) const;

  struct RouteEntry {
    std::string method;
    std::string pattern;  // as registered
  };
  // Every registered route, in registration order (for documentation checks).
  std::vector<RouteEntry> Routes() const;

  // A server Handler that dispatches through `router` (kept alive by the handler).
  static Handler AsHandler(std::shared_ptr<const Router> router);

 private:
  struct Segment;
  struct Route;
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace tessera::http
