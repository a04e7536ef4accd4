#include "common/untrusted_json.h"

#include <cstring>
#include <optional>

#include "fmt/format.h"

namespace tessera {
namespace {

// Longest parser detail echoed back: nlohmann quotes the last token read, which can be a whole
// multi-megabyte string.
constexpr size_t kMaxDetailBytes = 200;
constexpr size_t kPreviewStringBytes = 60;
constexpr size_t kPreviewArrayElements = 8;
// Vertex's words for a body it cannot parse, then the parser's.
constexpr char kNotJson[] = "Invalid JSON payload received. The body is not valid JSON: ";

// The position just past the closing quote of the string whose body starts at `p`, or `end`
// when it is unterminated (the parser then refuses the text).
const char* SkipString(const char* p, const char* end) {
  while (p < end) {
    const auto* quote = static_cast<const char*>(std::memchr(p, '"', static_cast<size_t>(end - p)));
    if (quote == nullptr) return end;
    // Escaped when an odd number of backslashes precede it. The run cannot reach back past `p`:
    // `p` is the string's start or just past an escaped quote.
    const char* run = quote;
    while (run > p && run[-1] == '\\') --run;
    p = quote + 1;
    if (((quote - run) & 1) == 0) return p;
  }
  return end;
}

std::string ParseErrorDetail(std::string_view text) {
  try {
    const nlohmann::json unused = nlohmann::json::parse(text);
    (void)unused;
  } catch (const nlohmann::json::exception& e) {
    std::string detail = e.what();
    if (detail.size() > kMaxDetailBytes) detail = detail.substr(0, kMaxDetailBytes) + "...";
    return detail;
  }
  return "Malformed JSON";
}

template <typename Json>
absl::StatusOr<Json> Parse(std::string_view text, const JsonLimits& limits) {
  if (absl::Status status = CheckJsonLimits(text, limits); !status.ok()) return status;
  Json parsed = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    // nlohmann reports the position only by exception; parse again (rare) to get it.
    return absl::InvalidArgumentError(fmt::format("{}{}", kNotJson, ParseErrorDetail(text)));
  }
  return parsed;
}

template <typename Json>
std::string Preview(const Json& value);

// A short array of scalars as JSON ("[1, 2, 3]": a tensor shape reads better so); one level
// only, each element itself bounded.
template <typename Json>
std::optional<std::string> ShortScalarArray(const Json& value) {
  if (value.size() > kPreviewArrayElements) return std::nullopt;
  std::string out = "[";
  for (const Json& element : value) {
    if (element.is_structured()) return std::nullopt;
    if (out.size() > 1) out += ", ";
    out += Preview(element);
  }
  return out + "]";
}

template <typename Json>
std::string Preview(const Json& value) {
  if (value.is_array()) {
    if (std::optional<std::string> shown = ShortScalarArray(value)) return *shown;
    return fmt::format("an array of {} elements", value.size());
  }
  if (value.is_object()) {
    return value.empty() ? "{}" : fmt::format("an object with {} fields", value.size());
  }
  if (value.is_string()) {
    const auto& s = value.template get_ref<const std::string&>();
    if (s.size() <= kPreviewStringBytes) {
      return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    size_t cut = kPreviewStringBytes - 3;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
    std::string shown = Json(s.substr(0, cut)).dump(-1, ' ', false, Json::error_handler_t::replace);
    shown.insert(shown.size() - 1, "...");
    return shown;
  }
  return value.dump();  // a number, true/false, null: one token
}

}  // namespace

absl::Status CheckJsonLimits(std::string_view text, const JsonLimits& limits) {
  // Every value but the first is preceded by ',' or by the '[' / '{' that opens its container,
  // so 1 + their count bounds the values from above.
  int64_t depth = 0;
  int64_t values = 1;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    switch (*p++) {
      case '"':
        p = SkipString(p, end);
        break;
      case '[':
      case '{':
        if (++depth > limits.max_depth) {
          return absl::InvalidArgumentError(
              fmt::format("JSON nesting deeper than {}", limits.max_depth));
        }
        [[fallthrough]];
      case ',':
        if (++values > limits.max_values) {
          return absl::InvalidArgumentError(
              fmt::format("JSON holds more than {} values", limits.max_values));
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;  // never below 0: a stray closer must not buy extra depth
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> ParseUntrustedJson(std::string_view text, const JsonLimits& limits) {
  return Parse<nlohmann::json>(text, limits);
}

absl::StatusOr<nlohmann::ordered_json> ParseUntrustedOrderedJson(std::string_view text,
                                                                 const JsonLimits& limits) {
  return Parse<nlohmann::ordered_json>(text, limits);
}

absl::Status JsonDomParser::Parse(const std::string& text, const JsonLimits& limits,
                                  simdjson::dom::element& out) {
  if (absl::Status status = CheckJsonLimits(text, limits); !status.ok()) return status;
  if (const simdjson::error_code error = parser_.Parse(text, out); error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        fmt::format("{}{}", kNotJson, simdjson::error_message(error)));
  }
  return absl::OkStatus();
}

std::string JsonPreview(const nlohmann::json& value) { return Preview(value); }
std::string JsonPreview(const nlohmann::ordered_json& value) { return Preview(value); }

}  // namespace tessera
