#include "common/http/request_deadline.h"

#include <algorithm>
#include <cctype>

#include "fmt/format.h"

namespace tessera::http {

absl::StatusOr<absl::Duration> ParseServerTimeout(std::string_view value) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(fmt::format(
        "header {}: \"{}\" is not a timeout in seconds (a non-negative decimal, e.g. 2.5)",
        kServerTimeoutHeader, value.substr(0, 40)));
  };
  // Digits, optionally a point and digits: parsed by hand so "1e9", "inf", "nan", "-1", " 2"
  // and hex floats are refused, whatever strtod accepts.
  size_t i = 0;
  int64_t whole = 0;
  int whole_digits = 0;
  while (i < value.size() && std::isdigit(static_cast<unsigned char>(value[i]))) {
    if (whole_digits < 10) whole = whole * 10 + (value[i] - '0');
    ++whole_digits;
    ++i;
  }
  int64_t micros = 0;
  int fraction_digits = 0;
  if (i < value.size() && value[i] == '.') {
    ++i;
    while (i < value.size() && std::isdigit(static_cast<unsigned char>(value[i]))) {
      if (fraction_digits < 6) micros = micros * 10 + (value[i] - '0');
      ++fraction_digits;
      ++i;
    }
    for (int d = std::min(fraction_digits, 6); d < 6; ++d) micros *= 10;
  }
  if (i != value.size() || (whole_digits == 0 && fraction_digits == 0)) return bad();
  if (whole_digits > 10) return absl::Hours(24);
  return std::min(absl::Seconds(whole) + absl::Microseconds(micros), absl::Hours(24));
}

absl::StatusOr<absl::Time> RequestDeadline(const HttpRequest& request, absl::Time now) {
  const std::string* value = request.headers.Find(kServerTimeoutHeader);
  if (value == nullptr) return absl::InfiniteFuture();
  absl::StatusOr<absl::Duration> timeout = ParseServerTimeout(*value);
  if (!timeout.ok()) return timeout.status();
  return now + *timeout;
}

std::string ServerTimeoutValue(absl::Duration remaining) {
  const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(remaining));
  return fmt::format("{}.{:03d}", ms / 1000, static_cast<int>(ms % 1000));
}

}  // namespace tessera::http
