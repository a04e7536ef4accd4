#include "common/json_parser.h"

namespace tessera {

simdjson::error_code JsonBodyParser::Parse(const std::string& text, simdjson::dom::element& out) {
  const bool copy = text.capacity() - text.size() < simdjson::SIMDJSON_PADDING;
  if (text.size() <= kReusedBufferLimit) {
    thread_local simdjson::dom::parser reused;
    return reused.parse(text.data(), text.size(), copy).get(out);
  }
  large_ = std::make_unique<simdjson::dom::parser>();
  return large_->parse(text.data(), text.size(), copy).get(out);
}

}  // namespace tessera
