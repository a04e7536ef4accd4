#include "common/json_parser.h"

#include <algorithm>
#include <string>

#include "gtest/gtest.h"

namespace tessera {
namespace {

// Small bodies (the thread's reused parser) and large ones (a parser of their own) read the same.
TEST(JsonBodyParserTest, SmallAndLargeBodies) {
  for (size_t size : {size_t{10}, JsonBodyParser::kReusedBufferLimit + 1000}) {
    const std::string payload(size, 'A');
    const std::string body = R"({"instances": [{"b64": ")" + payload + R"("}], "n": 7})";
    JsonBodyParser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.Parse(body, doc), simdjson::SUCCESS) << size;
    std::string_view b64;
    ASSERT_EQ(doc["instances"].at(0)["b64"].get(b64), simdjson::SUCCESS);
    EXPECT_EQ(b64.size(), size);
    int64_t n = 0;
    ASSERT_EQ(doc["n"].get(n), simdjson::SUCCESS);
    EXPECT_EQ(n, 7);
  }
}

// A body with simdjson's padding spare (as the HTTP server reads them) is parsed in place, and
// what the document holds does not point into the body: a route may move the body on after
// validating it, or reuse its buffer.
TEST(JsonBodyParserTest, PaddedBodyIsParsedInPlaceAndOutlivedByTheDocument) {
  for (bool padded : {true, false}) {
    std::string body = R"({"instances": [{"b64": "AAAA"}], "s": "x\ny"})";
    if (padded) body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    JsonBodyParser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.Parse(body, doc), simdjson::SUCCESS) << padded;
    std::fill(body.begin(), body.end(), ' ');
    std::string_view b64, s;
    ASSERT_EQ(doc["instances"].at(0)["b64"].get(b64), simdjson::SUCCESS);
    ASSERT_EQ(doc["s"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(b64, "AAAA");
    EXPECT_EQ(s, "x\ny");
  }
}

TEST(JsonBodyParserTest, InvalidJsonIsAnError) {
  JsonBodyParser parser;
  simdjson::dom::element doc;
  EXPECT_NE(parser.Parse(R"({"instances": [)", doc), simdjson::SUCCESS);
  EXPECT_NE(parser.Parse("", doc), simdjson::SUCCESS);
  const std::string large_bad = "[" + std::string(JsonBodyParser::kReusedBufferLimit, ' ') + "x]";
  EXPECT_NE(parser.Parse(large_bad, doc), simdjson::SUCCESS);
}

}  // namespace
}  // namespace tessera
