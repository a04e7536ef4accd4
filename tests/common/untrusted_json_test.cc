#include "common/untrusted_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::HasSubstr;

std::string Nested(int depth, std::string_view inner = "1") {
  return std::string(static_cast<size_t>(depth), '[') + std::string(inner) +
         std::string(static_cast<size_t>(depth), ']');
}

TEST(CheckJsonLimitsTest, DepthAtTheLimitPassesOneOverFails) {
  const JsonLimits limits{.max_depth = 64, .max_values = 1000};
  EXPECT_TRUE(CheckJsonLimits(Nested(64), limits).ok());
  const absl::Status over = CheckJsonLimits(Nested(65), limits);
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(over.message(), "JSON nesting deeper than 64");
}

TEST(CheckJsonLimitsTest, ObjectsCountAsNesting) {
  std::string text;
  for (int i = 0; i < 65; ++i) text += "{\"a\":";
  text += "1";
  text += std::string(65, '}');
  EXPECT_THAT(CheckJsonLimits(text, {.max_depth = 64}).message(),
              HasSubstr("nesting deeper than 64"));
}

TEST(CheckJsonLimitsTest, HundredThousandDeepIsRefusedByEveryEntryPoint) {
  const std::string body = "{\"displayName\": " + Nested(100'000) + "}";
  EXPECT_THAT(CheckJsonLimits(body, kControlPlaneJsonLimits).message(),
              HasSubstr("JSON nesting deeper than 64"));
  EXPECT_THAT(ParseUntrustedJson(body, kControlPlaneJsonLimits).status().message(),
              HasSubstr("JSON nesting deeper than 64"));
  EXPECT_THAT(ParseUntrustedOrderedJson(body, kPeerJsonLimits).status().message(),
              HasSubstr("JSON nesting deeper than 64"));
  JsonDomParser parser;
  simdjson::dom::element unused;
  EXPECT_THAT(parser.Parse(body, kPredictJsonLimits, unused).message(),
              HasSubstr("JSON nesting deeper than 32"));
}

TEST(CheckJsonLimitsTest, BracketsInsideStringsDoNotCount) {
  const std::string deep_text = "\"" + std::string(1000, '[') + "\"";
  EXPECT_TRUE(CheckJsonLimits(deep_text, {.max_depth = 1}).ok());
  // An escaped quote does not end the string; an escaped backslash before a quote does.
  EXPECT_TRUE(CheckJsonLimits(R"(["a\"[[[[", 1])", {.max_depth = 1}).ok());
  EXPECT_FALSE(CheckJsonLimits(R"(["a\\", [[1]]])", {.max_depth = 2}).ok());
  EXPECT_TRUE(CheckJsonLimits(R"(["a\\\"[[", 1])", {.max_depth = 1}).ok());
}

TEST(CheckJsonLimitsTest, StrayClosersBuyNoDepth) {
  EXPECT_FALSE(CheckJsonLimits("]]]]" + Nested(3), {.max_depth = 2}).ok());
}

TEST(CheckJsonLimitsTest, UnterminatedStringIsLeftToTheParser) {
  EXPECT_TRUE(CheckJsonLimits("[\"abc", {.max_depth = 1}).ok());
  EXPECT_FALSE(ParseUntrustedJson("[\"abc", {.max_depth = 1}).ok());
}

TEST(CheckJsonLimitsTest, ValueCountIsBounded) {
  const JsonLimits limits{.max_depth = 8, .max_values = 100};
  std::string at_limit = "[";  // the array and 99 elements
  for (int i = 0; i < 99; ++i) at_limit += i == 0 ? "0" : ",0";
  at_limit += "]";
  EXPECT_TRUE(CheckJsonLimits(at_limit, limits).ok());
  std::string over = "[";
  for (int i = 0; i < 100; ++i) over += i == 0 ? "[]" : ",[]";
  over += "]";
  EXPECT_EQ(CheckJsonLimits(over, limits).message(), "JSON holds more than 100 values");
  // Commas inside strings are data.
  EXPECT_TRUE(CheckJsonLimits("[\"" + std::string(1000, ',') + "\"]", limits).ok());
}

TEST(ParseUntrustedJsonTest, ParsesValidDocuments) {
  absl::StatusOr<nlohmann::json> parsed =
      ParseUntrustedJson(R"({"a": [1, 2, {"b": "c"}]})", kControlPlaneJsonLimits);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)["a"][2]["b"], "c");
}

TEST(ParseUntrustedJsonTest, MalformedTextIsInvalidArgumentWithABoundedDetail) {
  const std::string body = "{\"a\": \"" + std::string(100'000, 'x') + "\x01\"}";
  absl::Status status = ParseUntrustedJson(body, kControlPlaneJsonLimits).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("Invalid JSON payload received."));
  EXPECT_LT(status.message().size(), 400u);
}

TEST(JsonDomParserTest, ParsesAndReportsSyntaxErrors) {
  JsonDomParser parser;
  simdjson::dom::element element;
  ASSERT_TRUE(parser.Parse("{\"instances\": []}", kPredictJsonLimits, element).ok());
  EXPECT_TRUE(element.is_object());
  JsonDomParser bad;
  EXPECT_EQ(bad.Parse("{\"instances\": ", kPredictJsonLimits, element).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(JsonPreviewTest, BoundedWhateverTheValue) {
  EXPECT_EQ(JsonPreview(nlohmann::json(5)), "5");
  EXPECT_EQ(JsonPreview(nlohmann::json(true)), "true");
  EXPECT_EQ(JsonPreview(nlohmann::json("abc")), "\"abc\"");
  EXPECT_EQ(JsonPreview(nlohmann::json::array({1, "a", nullptr})), "[1, \"a\", null]");
  EXPECT_EQ(JsonPreview(nlohmann::json::array({1, 2, 3, 4, 5, 6, 7, 8, 9})),
            "an array of 9 elements");
  EXPECT_EQ(JsonPreview(nlohmann::json::array({1, nlohmann::json::array()})),
            "an array of 2 elements");
  EXPECT_EQ(JsonPreview(nlohmann::json::array()), "[]");
  EXPECT_EQ(JsonPreview(nlohmann::json::object()), "{}");
  EXPECT_EQ(JsonPreview(nlohmann::ordered_json{{"a", 1}}), "an object with 1 fields");
  const std::string shown = JsonPreview(nlohmann::json(std::string(10'000, 'y')));
  EXPECT_LT(shown.size(), 70u);
  EXPECT_THAT(shown, HasSubstr("...\""));
  // A deep value (built without parsing) is shown without recursion.
  nlohmann::json deep = 1;
  for (int i = 0; i < 100'000; ++i) deep = nlohmann::json::array({std::move(deep)});
  EXPECT_EQ(JsonPreview(deep), "an array of 1 elements");
}

TEST(JsonPreviewTest, TruncatesOnAUtf8Boundary) {
  std::string s;
  for (int i = 0; i < 40; ++i) s += "\xc3\xa9";  // é
  const std::string shown = JsonPreview(nlohmann::json(s));
  EXPECT_FALSE(nlohmann::json::parse(shown, nullptr, /*allow_exceptions=*/false).is_discarded())
      << shown;
}

}  // namespace
}  // namespace tessera
