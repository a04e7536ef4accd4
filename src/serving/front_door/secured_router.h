// Route registration through the front door: every frontend adds its routes here, each with its
// RouteAccess, and gets them guarded (FrontDoor::Guard) on the shared http::Router. The table of
// (method, pattern, access) is what `tessera serve --list-routes` prints, what docs/security.md
// shows, and what the auth matrix test walks.
//
// A route added to the http::Router directly bypasses the front door: UnguardedRoutes() finds
// such routes, and serve refuses to start while there is one (a forgotten access rule fails
// closed, at start, not open in production).
//
// Add and AddSync are not thread-safe: they are called while setting up, before the router is
// shared; AdmitBody and routes() are safe from any thread after that.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/http/router.h"
#include "serving/front_door/front_door.h"
#include "serving/front_door/route_access.h"

namespace tessera::serving {

class SecuredRouter {
 public:
  struct Entry {
    std::string method;
    std::string pattern;
    RouteAccess access;
  };

  // Both must outlive this object; `door` must outlive the router's handlers. Add refuses
  // (INVALID_ARGUMENT) a scope the pattern cannot feed: project scopes need {project}, the
  // endpoint scope {location} and {endpoint} too.
  SecuredRouter(http::Router& router, FrontDoor& door) : router_(router), door_(door) {}

  absl::Status Add(std::string_view method, std::string_view pattern, RouteAccess access,
                   http::Handler handler);
  absl::Status AddSync(std::string_view method, std::string_view pattern, RouteAccess access,
                       http::SyncHandler handler);

  const std::vector<Entry>& routes() const { return routes_; }

  // HttpServer's admit_body (http_server.h): the front door's header-time check against the
  // route the header matches (FrontDoor::AdmitBody), so a key that may not make the call is
  // refused before its body is read. A target that matches no secured route gets the check
  // without a route (a valid key is still needed to send it a body).
  absl::Status AdmitBody(const http::HeaderView& header) const;

 private:
  http::Router& router_;
  FrontDoor& door_;
  std::vector<Entry> routes_;
  std::map<std::pair<std::string, std::string>, size_t> index_;  // (method, pattern) -> routes_
};

// Routes of `router` that were not added through `secured`.
std::vector<http::Router::RouteEntry> UnguardedRoutes(const http::Router& router,
                                                      const SecuredRouter& secured);

}  // namespace tessera::serving
