// Parsing the JSON files of an uploaded checkpoint (config.json, preprocessor_config.json, the
// safetensors header), which are untrusted input. nlohmann's parser is iterative, but its dump()
// (used in error messages) and every walk over the value recurse, so a file nested 100,000 deep
// overflowed the stack. Values nested deeper than kMaxCheckpointJsonDepth are refused here, at
// the one place such a file is parsed. Header-only: used by engine/image and engine/vit.
#pragma once

#include <string_view>

#include "nlohmann/json.hpp"

namespace tessera::engine {

// Far deeper than any Hugging Face config needs (they nest 2-3 levels).
inline constexpr int kMaxCheckpointJsonDepth = 64;

// The parsed value, or a discarded value (is_discarded()) for malformed JSON; `too_deep` is set
// (and the value discarded) when it nests deeper than kMaxCheckpointJsonDepth.
inline nlohmann::json ParseCheckpointJson(std::string_view text, bool& too_deep) {
  too_deep = false;
  nlohmann::json::parser_callback_t depth_check =
      [&too_deep](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxCheckpointJsonDepth) too_deep = true;
        return !too_deep;  // stop keeping values once too deep: the result is refused anyway
      };
  nlohmann::json json = nlohmann::json::parse(text.begin(), text.end(), depth_check,
                                              /*allow_exceptions=*/false);
  if (too_deep) return nlohmann::json(nlohmann::json::value_t::discarded);
  return json;
}

}  // namespace tessera::engine
