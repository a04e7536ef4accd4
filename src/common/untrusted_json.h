// The one entry point for JSON that comes from outside the process: request bodies, replies of
// replicas and HTTP peers, files a user uploaded.
//
// Why: nlohmann::json's dump(), copies and comparisons recurse once per nesting level, so a
// 200 KB body of "[[[[..." nested 100,000 deep overflows the stack of whichever thread shows it
// in an error message. And a parsed DOM costs more than its text: "[[],[],..." takes ~20 bytes of
// heap per 3 bytes of body. So every untrusted text is first scanned without recursion (one pass,
// memchr through strings) for its nesting depth and its number of values, and refused with
// INVALID_ARGUMENT naming the limit before any parser or recursive code sees it.
//
// Error messages that show a value use JsonPreview: type and a truncated scalar, never dump() of
// arbitrary depth.
//
// Pure functions; JsonDomParser is one per request, on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/json_parser.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace tessera {

struct JsonLimits {
  // Deepest nesting of arrays/objects: "[]" is depth 1, "[[1]]" depth 2; scalars are depth 0.
  int max_depth = 64;
  // Most values (scalars, arrays, objects; an object member counts once) in one document.
  int64_t max_values = 100'000;
};

// Control-plane bodies (models, endpoints, deployModel, traffic splits, update masks): small
// documents, a few levels deep.
inline constexpr JsonLimits kControlPlaneJsonLimits{.max_depth = 64, .max_values = 100'000};
// Predict bodies (Vertex, TF Serving row and columnar, KServe v2 JSON and binary headers, the
// replica's /predict): instances are images, so the documents are shallow ("instances" ->
// instance -> {"b64": ...} is depth 3; KServe [N, 1] data is depth 2) and hold a few values per
// image. The count of instances itself is bounded by the deployment's maxInstancesPerRequest.
inline constexpr JsonLimits kPredictJsonLimits{.max_depth = 32, .max_values = 1'000'000};
// What a replica or an HTTP peer answers (predictions, status, Google errors).
inline constexpr JsonLimits kPeerJsonLimits{.max_depth = 64, .max_values = 10'000'000};
// Files of an uploaded checkpoint (config.json, preprocessor_config.json, the safetensors
// header): one tensor entry per weight, a label per class.
inline constexpr JsonLimits kArtifactJsonLimits{.max_depth = 64, .max_values = 10'000'000};

// OK unless `text`, read as JSON, nests deeper than limits.max_depth ("JSON nesting deeper than
// 64") or holds more than limits.max_values values: INVALID_ARGUMENT naming the limit. Does not
// validate the syntax otherwise (the parser that follows does); never undercounts the depth or
// the values of a document that is valid JSON. Linear time, constant memory, no recursion.
absl::Status CheckJsonLimits(std::string_view text, const JsonLimits& limits);

// CheckJsonLimits, then nlohmann::json's parser. INVALID_ARGUMENT "Invalid JSON payload
// received. The body is not valid JSON: <what and where>" for malformed text.
absl::StatusOr<nlohmann::json> ParseUntrustedJson(std::string_view text, const JsonLimits& limits);
absl::StatusOr<nlohmann::ordered_json> ParseUntrustedOrderedJson(std::string_view text,
                                                                 const JsonLimits& limits);

// CheckJsonLimits, then simdjson's DOM parser (the fast path for bodies of base64 images).
// The element points into this object: valid until it is destroyed or, for bodies up to
// JsonBodyParser::kReusedBufferLimit, until the thread parses again.
class JsonDomParser {
 public:
  absl::Status Parse(const std::string& text, const JsonLimits& limits,
                     simdjson::dom::element& out);

 private:
  JsonBodyParser parser_;
};

// A value for an error message, bounded whatever the value: scalars as JSON (strings truncated
// to about 60 characters), arrays of up to 8 scalars as JSON ("[1, 2, 3]"), other arrays and
// objects by type and size ("an array of 9 elements", "an object with 2 fields").
std::string JsonPreview(const nlohmann::json& value);
std::string JsonPreview(const nlohmann::ordered_json& value);

}  // namespace tessera
