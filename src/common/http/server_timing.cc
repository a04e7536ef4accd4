#include "common/http/server_timing.h"

#include <charconv>
#include <cmath>

#include "fmt/format.h"

namespace tessera::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `s` cut at every `separator` (Debian's Abseil splits its own string_view, not std's).
std::vector<std::string_view> Split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t at = s.find(separator); at != std::string_view::npos;
       start = at + 1, at = s.find(separator, start)) {
    parts.push_back(s.substr(start, at - start));
  }
  parts.push_back(s.substr(start));
  return parts;
}

}  // namespace

std::string FormatServerTiming(const std::vector<std::pair<std::string, absl::Duration>>& entries) {
  std::string out;
  for (const auto& [name, duration] : entries) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{};dur={:.3f}", name, absl::ToDoubleMilliseconds(duration));
  }
  return out;
}

std::map<std::string, absl::Duration> ParseServerTiming(std::string_view header) {
  std::map<std::string, absl::Duration> out;
  for (std::string_view entry : Split(header, ',')) {
    const std::vector<std::string_view> parts = Split(entry, ';');
    const std::string_view name = Trim(parts[0]);
    if (name.empty() || out.count(std::string(name)) > 0) continue;
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string_view param = Trim(parts[i]);
      if (param.substr(0, 4) != "dur=") continue;
      const std::string_view number = param.substr(4);
      double ms = 0;
      const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), ms);
      if (error != std::errc() || end != number.data() + number.size() || !std::isfinite(ms) ||
          ms < 0) {
        break;
      }
      out.emplace(std::string(name), absl::Microseconds(ms * 1000.0));
      break;
    }
  }
  return out;
}

}  // namespace tessera::http
