#include "common/http/url.h"

#include <charconv>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace tessera::http {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum class PlusMeans { kPlus, kSpace };

absl::StatusOr<std::string> PercentDecode(std::string_view encoded, PlusMeans plus) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '%') {
      const bool complete = i + 2 < encoded.size();
      const int hi = complete ? HexValue(encoded[i + 1]) : -1;
      const int lo = complete ? HexValue(encoded[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            fmt::format("bad percent-encoding at offset {} of \"{}\"", i, encoded));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus == PlusMeans::kSpace) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool ParsePort(std::string_view text, int* port) {
  if (text.empty() || text.size() > 5) return false;
  int value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 0 || value > 65535) {
    return false;
  }
  *port = value;
  return true;
}

// Splits "host:port" / "[v6]:port" / "host" into its parts. `port` is left alone when absent.
absl::Status SplitAuthority(std::string_view authority, std::string* host, int* port) {
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("unterminated '[' in \"{}\"", authority));
    }
    *host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(fmt::format("bad address \"{}\"", authority));
      }
      port_text = rest.substr(1);
      if (!ParsePort(port_text, port)) {
        return absl::InvalidArgumentError(fmt::format("bad port in \"{}\"", authority));
      }
    }
    return absl::OkStatus();
  }
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    if (authority.find(':') != colon) {
      return absl::InvalidArgumentError(
          fmt::format("IPv6 addresses need brackets: \"[{}]\"", authority));
    }
    if (!ParsePort(authority.substr(colon + 1), port)) {
      return absl::InvalidArgumentError(fmt::format("bad port in \"{}\"", authority));
    }
    *host = std::string(authority.substr(0, colon));
  } else {
    *host = std::string(authority);
  }
  return absl::OkStatus();
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

absl::StatusOr<std::string> PercentDecodePath(std::string_view encoded) {
  return PercentDecode(encoded, PlusMeans::kPlus);
}

absl::StatusOr<std::string> PercentDecodeQuery(std::string_view encoded) {
  return PercentDecode(encoded, PlusMeans::kSpace);
}

std::string PercentEncode(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (const char c : raw) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    }
  }
  return out;
}

absl::StatusOr<std::multimap<std::string, std::string>> ParseQuery(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    auto name = PercentDecodeQuery(piece.substr(0, eq));
    if (!name.ok()) return name.status();
    std::string value;
    if (eq != std::string_view::npos) {
      auto decoded = PercentDecodeQuery(piece.substr(eq + 1));
      if (!decoded.ok()) return decoded.status();
      value = *std::move(decoded);
    }
    out.emplace(*std::move(name), std::move(value));
  }
  return out;
}

absl::StatusOr<ParsedTarget> ParseTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return absl::InvalidArgumentError(
        fmt::format("request target must start with '/': \"{}\"", target));
  }
  const size_t question = target.find('?');
  ParsedTarget out;
  auto path = PercentDecodePath(target.substr(0, question));
  if (!path.ok()) return path.status();
  out.path = *std::move(path);
  if (question != std::string_view::npos) {
    auto query = ParseQuery(target.substr(question + 1));
    if (!query.ok()) return query.status();
    out.query = *std::move(query);
  }
  return out;
}

std::string Url::HostHeader() const {
  if (scheme == Scheme::kUnix) return "localhost";
  const bool v6 = host.find(':') != std::string::npos;
  const std::string h = v6 ? "[" + host + "]" : host;
  const int default_port = scheme == Scheme::kHttps ? 443 : 80;
  return port == default_port ? h : fmt::format("{}:{}", h, port);
}

std::string Url::ToString() const {
  if (scheme == Scheme::kUnix) return "unix:" + unix_path;
  return fmt::format("{}://{}{}", scheme == Scheme::kHttps ? "https" : "http", HostHeader(),
                     target);
}

absl::StatusOr<Url> ParseUrl(std::string_view text) {
  Url url;
  if (StartsWith(text, "unix:")) {
    url.scheme = Url::Scheme::kUnix;
    url.unix_path = std::string(text.substr(5));
    if (url.unix_path.empty() || url.unix_path.front() != '/') {
      return absl::InvalidArgumentError(
          fmt::format("unix socket URL needs an absolute path: \"{}\"", text));
    }
    return url;
  }
  std::string_view rest;
  if (StartsWith(text, "http://")) {
    url.scheme = Url::Scheme::kHttp;
    url.port = 80;
    rest = text.substr(7);
  } else if (StartsWith(text, "https://")) {
    url.scheme = Url::Scheme::kHttps;
    url.port = 443;
    rest = text.substr(8);
  } else {
    return absl::InvalidArgumentError(
        fmt::format("unsupported URL \"{}\" (expected http://, https:// or unix:/path)", text));
  }
  const size_t slash = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("user info in URLs is not supported: \"{}\"", text));
  }
  if (const absl::Status s = SplitAuthority(authority, &url.host, &url.port); !s.ok()) return s;
  if (url.host.empty()) return absl::InvalidArgumentError(fmt::format("no host in \"{}\"", text));
  const size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

absl::StatusOr<Url> ResolveRedirect(const Url& base, std::string_view location) {
  if (location.empty()) return absl::InvalidArgumentError("redirect without a Location");
  if (StartsWith(location, "http://") || StartsWith(location, "https://")) {
    return ParseUrl(location);
  }
  if (base.scheme == Url::Scheme::kUnix) {
    if (location.front() != '/') {
      return absl::InvalidArgumentError(
          fmt::format("unsupported redirect \"{}\" on a unix socket", location));
    }
    Url out = base;
    out.target = std::string(location);
    return out;
  }
  const std::string scheme = base.scheme == Url::Scheme::kHttps ? "https:" : "http:";
  if (StartsWith(location, "//")) return ParseUrl(scheme + std::string(location));
  Url out = base;
  if (location.front() == '/') {
    out.target = std::string(location);
  } else {
    const std::string base_path = base.target.substr(0, base.target.find('?'));
    out.target = base_path.substr(0, base_path.rfind('/') + 1) + std::string(location);
  }
  const size_t hash = out.target.find('#');
  if (hash != std::string::npos) out.target.resize(hash);
  return out;
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  HostPort out;
  out.port = -1;
  if (const absl::Status s = SplitAuthority(text, &out.host, &out.port); !s.ok()) return s;
  if (out.port < 0) {
    return absl::InvalidArgumentError(fmt::format("no port in listen address \"{}\"", text));
  }
  if (out.host.empty()) out.host = "0.0.0.0";
  if (out.host == "localhost") out.host = "127.0.0.1";
  return out;
}

}  // namespace tessera::http
