// The replica's predict wire format: Vertex instance shapes, parameters in snake and camel case,
// and every malformed request answered with a message naming what is wrong.
#include "runtime/predict_codec.h"

#include "common/base64.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tessera::runtime {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

absl::StatusOr<ParsedPredictRequest> Parse(const json& body, PredictCodecOptions options = {}) {
  return ParsePredictRequest(body.dump(), options);
}

TEST(PredictCodecTest, AcceptsEveryInstanceShapeInOrder) {
  const json body = {{"instances",
                      {{{"string_input", {{"b64", Base64Encode("first")}}}},
                       {{"b64", Base64Encode("second")}},
                       Base64Encode("third")}}};
  auto parsed = Parse(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->images, ElementsAre("first", "second", "third"));
  EXPECT_EQ(parsed->parameters.top_k, 1);
  EXPECT_FALSE(parsed->parameters.confidence_threshold.has_value());
}

TEST(PredictCodecTest, InputKeyComesFromOptionsOrTheBody) {
  const json instance = {{"image_bytes", {{"b64", Base64Encode("x")}}}};
  // The default key refuses it, naming the keys it got.
  auto refused = Parse({{"instances", {instance}}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(refused.status()), HasSubstr("instance 0: expected {\"string_input\""));
  EXPECT_THAT(Message(refused.status()), HasSubstr("got an object with keys [\"image_bytes\"]"));
  // The replica's configured key.
  EXPECT_TRUE(Parse({{"instances", {instance}}}, {.input_key = "image_bytes"}).ok());
  // The body's "inputKey" overrides the configured one.
  auto with_key = Parse({{"instances", {instance}}, {"inputKey", "image_bytes"}});
  ASSERT_TRUE(with_key.ok()) << with_key.status();
  EXPECT_THAT(with_key->images, ElementsAre("x"));
  EXPECT_FALSE(Parse({{"instances", {instance}}, {"inputKey", ""}}).ok());
  EXPECT_FALSE(Parse({{"instances", {instance}}, {"inputKey", 3}}).ok());
}

TEST(PredictCodecTest, ParametersInSnakeAndCamelCase) {
  const json instances = {Base64Encode("x")};
  auto snake = Parse(
      {{"instances", instances}, {"parameters", {{"top_k", 3}, {"confidence_threshold", 0.25}}}});
  ASSERT_TRUE(snake.ok()) << snake.status();
  EXPECT_EQ(snake->parameters.top_k, 3);
  EXPECT_FLOAT_EQ(*snake->parameters.confidence_threshold, 0.25f);
  auto camel =
      Parse({{"instances", instances}, {"parameters", {{"topK", 5}, {"confidenceThreshold", 0}}}});
  ASSERT_TRUE(camel.ok()) << camel.status();
  EXPECT_EQ(camel->parameters.top_k, 5);
  EXPECT_FLOAT_EQ(*camel->parameters.confidence_threshold, 0.f);
  // 2.0 is an integer; unknown parameters (the router's pin) are ignored.
  auto other = Parse(
      {{"instances", instances}, {"parameters", {{"top_k", 2.0}, {"deployedModelId", "123"}}}});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->parameters.top_k, 2);
  EXPECT_TRUE(Parse({{"instances", instances}, {"parameters", nullptr}}).ok());
}

TEST(PredictCodecTest, BadParametersAreRefused) {
  const json instances = {Base64Encode("x")};
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"top_k", 0}}, "top_k must be between 1 and 1000000"},
      {{{"top_k", -2}}, "top_k must be between 1 and 1000000"},
      {{{"top_k", 1.5}}, "top_k must be a positive integer"},
      {{{"top_k", "3"}}, "top_k must be a positive integer"},
      {{{"top_k", 1}, {"topK", 2}}, "give \"top_k\" or \"topK\", not both"},
      {{{"confidence_threshold", 1.5}}, "between 0 and 1"},
      {{{"confidenceThreshold", -0.1}}, "between 0 and 1"},
      {{{"confidence_threshold", "high"}}, "between 0 and 1"},
      {json::array({1, 2}), "\"parameters\" must be an object"},
  };
  for (const auto& [parameters, message] : cases) {
    SCOPED_TRACE(parameters.dump());
    auto parsed = Parse({{"instances", instances}, {"parameters", parameters}});
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(parsed.status()), HasSubstr(message));
  }
}

TEST(PredictCodecTest, MalformedRequestsNameTheProblem) {
  const std::string good = Base64Encode("x");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", "not valid JSON"},
      {"[1, 2]", "must be a JSON object"},
      {"{}", "no \"instances\" field"},
      {R"({"instances": {"b64": "eA=="}})", "\"instances\" must be an array"},
      {R"({"instances": []})", "\"instances\" is empty"},
      {R"({"instances": [{"b64": "!!!"}]})", "instance 0: \"b64\" is not valid base64"},
      {R"({"instances": [{"b64": ""}]})", "instance 0: \"b64\" is empty"},
      {R"({"instances": [{"b64": 12}]})", "instance 0: \"b64\" must be a string"},
      {R"({"instances": ["eA==", "%%%"]})", "instance 1: not valid base64"},
      {R"({"instances": [""]})", "instance 0: empty"},
      {R"({"instances": [7]})", "instance 0: expected"},
      {R"({"instances": [{"string_input": "eA=="}]})",
       "instance 0: \"string_input\" must be {\"b64\": \"...\"}"},
      {R"({"instances": [{"string_input": {"b64": "eA=="}, "b64": "eA=="}]})",
       "got an object with keys [\"string_input\", \"b64\"]"},  // in the order sent
      {R"({"instances": [{"b64": "eA=="}], "instances": 3)", "not valid JSON"},
      {"{\"instances\": " + std::string(100'000, '[') + std::string(100'000, ']') + "}",
       "JSON nesting deeper than 32"},
      {R"({"instances": ["eA=="], "parameters": {"top_k": [[[[1]]]]}})",
       "parameters.top_k must be a positive integer, got an array of 1 elements"},
  };
  for (const auto& [body, message] : cases) {
    SCOPED_TRACE(body);
    auto parsed = ParsePredictRequest(body, {});
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(parsed.status()), HasSubstr(message));
  }
}

TEST(PredictCodecTest, TooManyInstances) {
  json instances = json::array();
  for (int i = 0; i < 5; ++i) instances.push_back(Base64Encode("x"));
  EXPECT_TRUE(Parse({{"instances", instances}}, {.max_instances = 5}).ok());
  instances.push_back(Base64Encode("x"));
  auto parsed = Parse({{"instances", instances}}, {.max_instances = 5});
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(Message(parsed.status()),
              HasSubstr("the request has 6 instances; at most 5 are allowed per request"));
}

TEST(PredictCodecTest, QueryParameters) {
  auto none = ParsePredictQuery(std::nullopt, std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->top_k, 1);
  auto set = ParsePredictQuery("4", std::nullopt, std::nullopt, "0.5");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->top_k, 4);
  EXPECT_FLOAT_EQ(*set->confidence_threshold, 0.5f);
  EXPECT_EQ(ParsePredictQuery(std::nullopt, "7", std::nullopt, std::nullopt)->top_k, 7);
  for (const char* bad : {"0", "x", "3x", "", "-1"}) {
    EXPECT_FALSE(ParsePredictQuery(std::string(bad), std::nullopt, std::nullopt, std::nullopt).ok())
        << bad;
  }
  EXPECT_FALSE(ParsePredictQuery(std::nullopt, std::nullopt, "2", std::nullopt).ok());
  EXPECT_FALSE(ParsePredictQuery(std::nullopt, std::nullopt, "nan", std::nullopt).ok());
  EXPECT_FALSE(ParsePredictQuery("1", "1", std::nullopt, std::nullopt).ok());
}

TEST(PredictCodecTest, PredictionShapes) {
  const std::vector<engine::Prediction> top = {
      {.label = "cat", .class_index = 3, .confidence = 0.7f},
      {.label = "dog", .class_index = 1, .confidence = 0.2f},
      {.label = "fox", .class_index = 0, .confidence = 0.1f}};
  // top_k 1: the seed's shape, keys in the seed's order.
  EXPECT_EQ(PredictionToJson({top[0]}, {.top_k = 1}).dump(),
            R"({"label":"cat","confidence":0.699999988079071})");
  // top_k > 1: lists, most probable first.
  const json listed = PredictionToJson(top, {.top_k = 3});
  EXPECT_EQ(listed["labels"], json({"cat", "dog", "fox"}));
  EXPECT_EQ(listed["confidences"], json({0.7f, 0.2f, 0.1f}));
  // A threshold keeps only confident labels (and always uses the list shape).
  const json filtered = PredictionToJson(top, {.top_k = 3, .confidence_threshold = 0.15f});
  EXPECT_EQ(filtered["labels"], json({"cat", "dog"}));
  const json none = PredictionToJson({top[0]}, {.top_k = 1, .confidence_threshold = 0.9f});
  EXPECT_EQ(none["labels"], json::array());
  EXPECT_EQ(none["confidences"], json::array());
}

}  // namespace
}  // namespace tessera::runtime
