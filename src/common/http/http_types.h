// Plain HTTP message types shared by the server (http_server.h), the router (router.h) and the
// client (http_client.h). Transport only: no API semantics. No Boost.Beast in here, so including
// this header is cheap. Values, not thread-safe to mutate concurrently; move them, they may carry
// multi-megabyte bodies.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/principal.h"
#include "nlohmann/json_fwd.hpp"

namespace tessera::http {

// Header fields, in arrival order, with case-insensitive name lookup (RFC 9110 §5.1). A vector:
// requests carry a handful of headers, so a linear scan beats hashing.
class HttpHeaders {
 public:
  using Entry = std::pair<std::string, std::string>;

  // The first value of `name`, or nullptr. The pointer is valid until the next mutation.
  const std::string* Find(std::string_view name) const;
  // The first value of `name`, or `fallback`.
  std::string GetOr(std::string_view name, std::string_view fallback) const;
  bool Contains(std::string_view name) const { return Find(name) != nullptr; }
  // Every value of `name` (a header may repeat).
  std::vector<std::string> GetAll(std::string_view name) const;

  // Replaces every value of `name` with `value`.
  void Set(std::string_view name, std::string value);
  // Appends one more value of `name`.
  void Add(std::string name, std::string value);
  // Removes every value of `name`; returns how many were removed.
  int Remove(std::string_view name);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
};

// ASCII case-insensitive equality, as header names and methods compare.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// A request. The server fills every field; the client sends method, target, headers and body.
struct HttpRequest {
  std::string method;  // as sent, e.g. "GET", "POST" (methods are case-sensitive)
  // The raw request-target in origin form, still percent-encoded: "/v1/models/a%20b:predict?x=1".
  std::string target;
  // Server side: `target` before '?', percent-decoded. Routing matches on the raw target instead
  // (so "%2F" inside a segment stays inside it).
  std::string path;
  // Server side: decoded query parameters ('+' is a space); a name may repeat.
  std::multimap<std::string, std::string> query;
  // Server side: the `{param}` segments of the route that matched (router.h), decoded.
  std::map<std::string, std::string> path_params;
  HttpHeaders headers;
  std::string body;
  // Server side: the peer: "127.0.0.1:53122", "[::1]:53122", or "unix" for a unix socket.
  std::string remote_address;
  // Server side: this request's id (request_id.h), also sent back in the X-Request-Id header.
  // Handlers put it in their log lines and in errors made for an exception.
  std::string request_id;
  // Server side: who sent it, set by the server's front door once the credential and the
  // route's access rule passed (serving/front_door/front_door.h); null on routes that need none.
  std::shared_ptr<const Principal> principal;

  // The first value of query parameter `name`, or nullopt.
  std::optional<std::string> QueryParam(std::string_view name) const;
  // The value of path parameter `name`, or "" when the route has none of that name.
  const std::string& PathParam(const std::string& name) const;
};

// A response. The server sends status, headers, content_type and body (Content-Length is set by
// the server); the client fills all four from what it received.
struct HttpResponse {
  int status = 200;
  HttpHeaders headers;  // extra headers; do not set Content-Length or Transfer-Encoding
  std::string body;
  // Sent as the Content-Type header when non-empty. Client side: the received Content-Type.
  std::string content_type;
};

inline constexpr std::string_view kJsonContentType = "application/json";

// `body` serialized (compact), content type application/json.
HttpResponse JsonResponse(int status, const nlohmann::json& body);
// A plain-text response (text/plain; charset=utf-8 unless `content_type` is given).
HttpResponse TextResponse(int status, std::string body,
                          std::string content_type = "text/plain; charset=utf-8");

}  // namespace tessera::http
