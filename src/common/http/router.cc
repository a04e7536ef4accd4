#include "common/http/router.h"

#include <algorithm>

#include "common/http/google_error.h"
#include "common/http/url.h"
#include "fmt/format.h"

namespace tessera::http {

struct Router::Segment {
  bool is_param = false;
  std::string text;  // the literal, or the parameter name
};

struct Router::Route {
  std::string method;
  std::string pattern;
  std::vector<Segment> segments;
  std::string verb;  // custom method after ':' in the last segment; empty when none
  Handler handler;
};

namespace {

bool IsParamName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string_view> SplitSlash(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

// True when raw segment `raw` equals literal `literal` after percent-decoding.
bool LiteralMatches(std::string_view raw, const std::string& literal) {
  if (raw.find('%') == std::string_view::npos) return raw == literal;
  auto decoded = PercentDecodePath(raw);
  return decoded.ok() && *decoded == literal;
}

}  // namespace

Router::Router() = default;
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

std::vector<Router::RouteEntry> Router::Routes() const {
  std::vector<RouteEntry> out;
  out.reserve(routes_.size());
  for (const auto& route : routes_) out.push_back({route->method, route->pattern});
  return out;
}

absl::Status Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("bad route pattern \"{}\": {}", pattern, why));
  };
  if (!IsToken(method)) return bad(fmt::format("bad method \"{}\"", method));
  if (!handler) return bad("no handler");
  if (pattern.empty() || pattern.front() != '/') return bad("must start with '/'");
  auto route = std::make_unique<Route>();
  route->method = std::string(method);
  route->pattern = std::string(pattern);
  route->handler = std::move(handler);
  std::vector<std::string_view> pieces = SplitSlash(pattern.substr(1));
  // The custom method: after a ':' in the last segment.
  std::string_view& last = pieces.back();
  const size_t colon = last.find(':');
  if (colon != std::string_view::npos) {
    route->verb = std::string(last.substr(colon + 1));
    if (!IsToken(route->verb)) return bad("bad custom method after ':'");
    last = last.substr(0, colon);
    if (last.empty()) return bad("':verb' needs a segment before it");
  }
  for (const std::string_view piece : pieces) {
    Segment segment;
    if (!piece.empty() && piece.front() == '{') {
      if (piece.back() != '}' || !IsParamName(piece.substr(1, piece.size() - 2))) {
        return bad(fmt::format("bad parameter segment \"{}\"", piece));
      }
      segment.is_param = true;
      segment.text = std::string(piece.substr(1, piece.size() - 2));
      for (const Segment& s : route->segments) {
        if (s.is_param && s.text == segment.text) {
          return bad(fmt::format("parameter {{{}}} appears twice", segment.text));
        }
      }
    } else {
      if (piece.find_first_of("{}:?#%") != std::string_view::npos) {
        return bad(fmt::format("bad literal segment \"{}\"", piece));
      }
      segment.text = std::string(piece);
    }
    route->segments.push_back(std::move(segment));
  }
  for (const auto& other : routes_) {
    if (other->method != route->method || other->verb != route->verb ||
        other->segments.size() != route->segments.size()) {
      continue;
    }
    bool same = true;
    for (size_t i = 0; i < route->segments.size() && same; ++i) {
      const Segment& a = other->segments[i];
      const Segment& b = route->segments[i];
      same = a.is_param == b.is_param && (a.is_param || a.text == b.text);
    }
    if (same) {
      return absl::AlreadyExistsError(fmt::format("route {} {} conflicts with {} {}", method,
                                                  pattern, other->method, other->pattern));
    }
  }
  routes_.push_back(std::move(route));
  return absl::OkStatus();
}

absl::Status Router::AddSync(std::string_view method, std::string_view pattern,
                             SyncHandler handler) {
  if (!handler) return absl::InvalidArgumentError("AddSync: no handler");
  return Add(method, pattern, WrapSync(std::move(handler)));
}

Router::MatchResult Router::Match(std::string_view method, std::string_view raw_target) const {
  MatchResult result;
  std::string_view path = raw_target.substr(0, raw_target.find_first_of("?#"));
  if (path.empty() || path.front() != '/') return result;
  std::vector<std::string_view> raw = SplitSlash(path.substr(1));
  const std::string_view raw_last = raw.back();
  const size_t colon = raw_last.rfind(':');
  const std::string_view raw_verb =
      colon == std::string_view::npos ? std::string_view() : raw_last.substr(colon + 1);
  const std::string_view raw_last_base =
      colon == std::string_view::npos ? raw_last : raw_last.substr(0, colon);

  const Route* best = nullptr;
  std::vector<bool> best_shape;
  std::vector<std::string> allowed;
  for (const auto& route_ptr : routes_) {
    const Route& route = *route_ptr;
    if (route.segments.size() != raw.size()) continue;
    if (route.verb.empty() ? colon != std::string_view::npos : raw_verb != route.verb) continue;
    bool matches = true;
    std::vector<bool> shape(raw.size());
    for (size_t i = 0; i < raw.size() && matches; ++i) {
      const std::string_view segment = i + 1 == raw.size() ? raw_last_base : raw[i];
      const Segment& want = route.segments[i];
      shape[i] = !want.is_param;
      matches = want.is_param ? !segment.empty() : LiteralMatches(segment, want.text);
    }
    if (!matches) continue;
    if (route.method != method) {
      if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
        allowed.push_back(route.method);
      }
      continue;
    }
    // Literal-first specificity: compare shapes lexicographically, literal (true) > parameter.
    if (best == nullptr || shape > best_shape) {
      best = &route;
      best_shape = std::move(shape);
    }
  }
  if (best == nullptr) {
    if (!allowed.empty()) {
      result.kind = MatchKind::kMethodNotAllowed;
      std::sort(allowed.begin(), allowed.end());
      result.allowed_methods = std::move(allowed);
    }
    return result;
  }
  for (size_t i = 0; i < raw.size(); ++i) {
    const Segment& want = best->segments[i];
    if (!want.is_param) continue;
    const std::string_view segment = i + 1 == raw.size() ? raw_last_base : raw[i];
    auto decoded = PercentDecodePath(segment);
    if (!decoded.ok()) {
      result.kind = MatchKind::kBadPath;
      result.error = absl::InvalidArgumentError(fmt::format(
          "bad path parameter {{{}}}: {}", want.text, std::string(decoded.status().message())));
      result.params.clear();
      return result;
    }
    result.params.emplace(want.text, *std::move(decoded));
  }
  result.kind = MatchKind::kFound;
  result.handler = &best->handler;
  result.pattern = best->pattern;
  return result;
}

void Router::Dispatch(HttpRequest&& request, Responder responder) const {
  MatchResult match = Match(request.method, request.target);
  const std::string_view path =
      std::string_view(request.target).substr(0, request.target.find_first_of("?#"));
  switch (match.kind) {
    case MatchKind::kFound:
      request.path_params = std::move(match.params);
      (*match.handler)(std::move(request), std::move(responder));
      return;
    case MatchKind::kNotFound:
      responder.Respond(GoogleErrorResponse(
          404, absl::NotFoundError(fmt::format("no such path: {} {}", request.method, path))));
      return;
    case MatchKind::kMethodNotAllowed: {
      std::string allow;
      for (const std::string& m : match.allowed_methods) {
        if (!allow.empty()) allow += ", ";
        allow += m;
      }
      HttpResponse response = GoogleErrorResponse(
          405, absl::UnimplementedError(fmt::format("method {} is not allowed for {}; allowed: {}",
                                                    request.method, path, allow)));
      response.headers.Set("Allow", allow);
      responder.Respond(std::move(response));
      return;
    }
    case MatchKind::kBadPath:
      responder.Respond(GoogleErrorResponse(400, match.error));
      return;
  }
}

Handler Router::AsHandler(std::shared_ptr<const Router> router) {
  return [router = std::move(router)](HttpRequest&& request, Responder responder) {
    router->Dispatch(std::move(request), std::move(responder));
  };
}

}  // namespace tessera::http
