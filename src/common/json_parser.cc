#include "common/json_parser.h"

namespace tessera {

simdjson::error_code JsonBodyParser::Parse(std::string_view text, simdjson::dom::element& out) {
  if (text.size() <= kReusedBufferLimit) {
    thread_local simdjson::dom::parser reused;
    return reused.parse(text.data(), text.size()).get(out);
  }
  large_ = std::make_unique<simdjson::dom::parser>();
  return large_->parse(text.data(), text.size()).get(out);
}

}  // namespace tessera
