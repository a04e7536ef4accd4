#include "serving/front_door/secured_router.h"

#include <set>
#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera::serving {

absl::Status SecuredRouter::Add(std::string_view method, std::string_view pattern,
                                RouteAccess access, http::Handler handler) {
  // A scope must find what it checks in the path: a project scope without {project} would
  // check nothing and let every project through (fail closed, at registration). An every-project
  // route needs none: it is refused to every key not for every project.
  const bool needs_project = access.scope == Scope::kProject || access.scope == Scope::kEndpoint;
  if (needs_project && pattern.find("{project}") == std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("route {} {}: scope {} needs a {{project}} parameter", method, pattern,
                    ScopeName(access.scope)));
  }
  if (access.scope == Scope::kEndpoint && (pattern.find("{endpoint}") == std::string_view::npos ||
                                           pattern.find("{location}") == std::string_view::npos)) {
    return absl::InvalidArgumentError(
        fmt::format("route {} {}: scope endpoint needs {{location}} and {{endpoint}} parameters",
                    method, pattern));
  }
  RETURN_IF_ERROR(router_.Add(method, pattern, door_.Guard(access, std::move(handler))));
  routes_.push_back(Entry{std::string(method), std::string(pattern), access});
  index_.emplace(std::make_pair(std::string(method), std::string(pattern)), routes_.size() - 1);
  return absl::OkStatus();
}

absl::Status SecuredRouter::AdmitBody(const http::HeaderView& header) const {
  http::Router::MatchResult match = router_.Match(header.method, header.target);
  if (match.kind == http::Router::MatchKind::kFound) {
    const auto it = index_.find(std::make_pair(std::string(header.method), match.pattern));
    if (it != index_.end()) {
      const RouteAccess& access = routes_[it->second].access;
      const FrontDoor::MatchedRoute route{.access = access,
                                          .target = TargetOf(access.scope, match.params)};
      return door_.AdmitBody(header, &route);
    }
  }
  return door_.AdmitBody(header, nullptr);
}

absl::Status SecuredRouter::AddSync(std::string_view method, std::string_view pattern,
                                    RouteAccess access, http::SyncHandler handler) {
  return Add(method, pattern, access, http::WrapSync(std::move(handler)));
}

std::vector<http::Router::RouteEntry> UnguardedRoutes(const http::Router& router,
                                                      const SecuredRouter& secured) {
  std::set<std::pair<std::string, std::string>> guarded;
  for (const SecuredRouter::Entry& e : secured.routes()) guarded.emplace(e.method, e.pattern);
  std::vector<http::Router::RouteEntry> out;
  for (const http::Router::RouteEntry& e : router.Routes()) {
    if (!guarded.contains({e.method, e.pattern})) out.push_back(e);
  }
  return out;
}

}  // namespace tessera::serving
