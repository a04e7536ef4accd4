// URL pieces: percent-encoding, query strings, request targets, base URLs and listen addresses.
// Pure functions, thread-safe, no I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera::http {

// Decodes %XX escapes of a path segment ('+' stays '+'). A '%' not followed by two hex digits is
// INVALID_ARGUMENT.
absl::StatusOr<std::string> PercentDecodePath(std::string_view encoded);
// Decodes a query component (application/x-www-form-urlencoded): %XX escapes and '+' as space.
absl::StatusOr<std::string> PercentDecodeQuery(std::string_view encoded);
// Escapes every byte outside RFC 3986 "unreserved" (A-Z a-z 0-9 - . _ ~), so the result is safe
// as one path segment or one query component (e.g. a model id "m@2" becomes "m%402").
std::string PercentEncode(std::string_view raw);

// Parses "a=1&b=x%20y&flag" into {a:1, b:"x y", flag:""}. Empty pieces are skipped.
absl::StatusOr<std::multimap<std::string, std::string>> ParseQuery(std::string_view query);

// An origin-form request target ("/path?query") split in two and decoded.
struct ParsedTarget {
  std::string path;  // decoded
  std::multimap<std::string, std::string> query;
};
// INVALID_ARGUMENT when the target does not start with '/' or has a bad escape.
absl::StatusOr<ParsedTarget> ParseTarget(std::string_view target);

// Where a client connects.
struct Url {
  enum class Scheme {
    kHttp,   // http://host[:port]  (port 80 by default)
    kHttps,  // https://host[:port] (port 443 by default)
    kUnix,   // unix:/path/to/socket  (HTTP over a unix domain socket)
  };
  Scheme scheme = Scheme::kHttp;
  std::string host;       // without brackets for IPv6 ("::1"); empty for kUnix
  int port = 0;           // 0 for kUnix
  std::string unix_path;  // kUnix only
  std::string target;     // path and query, "/" when the URL has none; "" for kUnix

  // "host:port" as a Host header carries it ("[::1]:8080"); "localhost" for unix sockets.
  std::string HostHeader() const;
  // Back to text: "http://[::1]:8080/x", "unix:/run/s.sock".
  std::string ToString() const;
};
// Parses "http://host:port/path?q", "https://host/path", "unix:/abs/path.sock". User info,
// fragments and other schemes are INVALID_ARGUMENT.
absl::StatusOr<Url> ParseUrl(std::string_view url);
// Resolves a redirect Location against the URL it came from: absolute URLs, "//host/x",
// "/abs/path" and "relative/path" (RFC 3986 §5.2, without dot-segment removal).
absl::StatusOr<Url> ResolveRedirect(const Url& base, std::string_view location);

// A TCP listen address: "0.0.0.0:8080", "127.0.0.1:0", "[::1]:8080", "[::]:8080", ":8080"
// (all IPv4 interfaces). Host names other than "localhost" are refused: a server binds
// literals.
struct HostPort {
  std::string host;  // an IP literal, IPv6 without brackets
  int port = 0;
};
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

}  // namespace tessera::http
