// simdjson DOM parsing for request bodies (mostly base64 images: nlohmann::json lexes those a
// character at a time, simdjson at memory speed).
//
// A simdjson parser keeps buffers as large as the largest document it has seen, for reuse. Bodies
// up to kReusedBufferLimit use a parser owned by the calling thread (no allocation per request
// once warm); larger ones get a parser owned by this object, freed with it, so a thread that once
// saw a 64 MiB body does not keep 64 MiB forever. Not thread-safe: one per request, on one thread.
//
// The mechanism only: text from outside the process goes through JsonDomParser
// (common/untrusted_json.h), which checks nesting and size limits before this parser sees it.
#pragma once

#include <memory>
#include <string>

#include "simdjson.h"

namespace tessera {

class JsonBodyParser {
 public:
  static constexpr size_t kReusedBufferLimit = size_t{1} << 20;

  // Parses `text`. The element points into a parser: valid until this object is destroyed or the
  // calling thread parses again with another JsonBodyParser of a small body. In place, without
  // copying `text` first, when its capacity leaves simdjson::SIMDJSON_PADDING spare bytes (the
  // HTTP server reads bodies that way).
  simdjson::error_code Parse(const std::string& text, simdjson::dom::element& out);

 private:
  std::unique_ptr<simdjson::dom::parser> large_;
};

}  // namespace tessera
