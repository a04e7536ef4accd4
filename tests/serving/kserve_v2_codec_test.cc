// The KServe v2 REST codec (JSON and Triton's binary tensor extension) and tensor helpers, as
// tables of good and bad bodies. tests/python/test_protocols.py drives the same code with the real
// tritonclient.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base64.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "serving/predict/classification.h"
#include "serving/predict/kserve_v2.h"
#include "serving/predict/kserve_v2_json.h"

namespace tessera::serving::kserve {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Header(const json& j) { return j.dump(); }

TEST(KserveBytesTensorTest, RoundTripAndTruncation) {
  const std::vector<std::string> elements = {"abc", "", std::string("\0\xff", 2)};
  const std::string raw = JoinBytesTensor(elements);
  EXPECT_EQ(raw.size(), 3 * 4 + 3 + 0 + 2);
  auto back = SplitBytesTensor(raw, 3);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, elements);
  EXPECT_THAT(std::string(SplitBytesTensor(raw, 2).status().message()),
              HasSubstr("holds 3 elements; its shape says 2"));
  EXPECT_THAT(std::string(SplitBytesTensor(raw.substr(0, raw.size() - 1), 3).status().message()),
              HasSubstr("truncated"));
  EXPECT_THAT(std::string(SplitBytesTensor(raw.substr(0, 2), 1).status().message()),
              HasSubstr("4-byte length"));
}

TEST(KserveInputTest, ShapesAndTypes) {
  EXPECT_EQ(*CheckImageInput({"string_input", "BYTES", {3}}, "string_input"), 3u);
  EXPECT_EQ(*CheckImageInput({"string_input", "BYTES", {2, 1}}, "string_input"), 2u);
  const struct {
    InputSpec spec;
    std::string needle;
  } bad[] = {
      {{"image", "BYTES", {1}}, "unknown input \"image\""},
      {{"string_input", "FP32", {1}}, "must be BYTES"},
      {{"string_input", "BYTES", {1, 2}}, "[N] or [N, 1]"},
      {{"string_input", "BYTES", {}}, "[N] or [N, 1]"},
      {{"string_input", "BYTES", {-1}}, "negative dimension"},
      {{"string_input", "BYTES", {INT64_MAX, 2}}, "more elements than an int64 counts"},
      {{"string_input", "BYTES", {0}}, "no image"},
  };
  for (const auto& b : bad) {
    auto count = CheckImageInput(b.spec, "string_input");
    EXPECT_TRUE(absl::IsInvalidArgument(count.status()));
    EXPECT_THAT(std::string(count.status().message()), HasSubstr(b.needle));
  }
}

TEST(KserveRestCodecTest, JsonRequestWithBase64Data) {
  const json body = {{"id", "r1"},
                     {"parameters", {{"top_k", 2}}},
                     {"inputs",
                      {{{"name", "img"},
                        {"datatype", "BYTES"},
                        {"shape", {2, 1}},
                        {"data", {{Base64Encode("one")}, {Base64Encode("two")}}}}}}};
  auto request = ParseRestInferRequest(Header(body), std::nullopt, "img");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->id, "r1");
  EXPECT_THAT(request->images, ElementsAre("one", "two"));
  EXPECT_EQ(request->parameters.top_k, 2);
  ASSERT_EQ(request->outputs.size(), 2u);  // both, JSON
  EXPECT_EQ(request->outputs[0].name, "label");
  EXPECT_FALSE(request->outputs[0].binary);
}

TEST(KserveRestCodecTest, BinaryRequestAsTritonclientSendsIt) {
  const std::string raw = JoinBytesTensor({"jpeg-bytes"});
  const std::string header = Header({{"inputs",
                                      {{{"name", "img"},
                                        {"datatype", "BYTES"},
                                        {"shape", {1}},
                                        {"parameters", {{"binary_data_size", raw.size()}}}}}},
                                     {"parameters", {{"binary_data_output", true}}}});
  auto request = ParseRestInferRequest(header + raw, header.size(), "img");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(request->images, ElementsAre("jpeg-bytes"));
  EXPECT_TRUE(request->outputs[0].binary);
  EXPECT_TRUE(request->outputs[1].binary);
}

TEST(KserveRestCodecTest, BadRequests) {
  const std::string raw = JoinBytesTensor({"x"});
  auto input = [](json extra) {
    json i = {{"name", "img"}, {"datatype", "BYTES"}, {"shape", {1}}};
    if (extra.is_object()) i.update(extra);  // {} is null in nlohmann::json
    return i;
  };
  const struct {
    std::string body;
    std::optional<size_t> header_length;
    std::string needle;
  } cases[] = {
      {"not json", std::nullopt, "not valid JSON"},
      {Header({{"inputs", json::array()}}), std::nullopt, "list of one tensor"},
      {Header({{"inputs", {input({{"data", {"!!"}}})}}}), std::nullopt, "not base64"},
      {Header({{"inputs", {input({{"data", {1}}})}}}), std::nullopt, "must hold strings"},
      {Header({{"inputs", {input({{"data", {"eA==", "eA=="}}})}}}), std::nullopt,
       "holds 2 elements; its shape says 1"},
      {Header({{"inputs", {input({})}}}), std::nullopt, "no \"data\""},
      {Header({{"inputs", {input({{"data", {"eA=="}}})}}, {"parameters", {{"top_k", 0}}}}),
       std::nullopt, "top_k must be between"},
      {Header({{"inputs", {input({{"data", {"eA=="}}})}},
               {"parameters", {{"confidence_threshold", 0.5}}}}),
       std::nullopt, "not supported"},
      {Header({{"inputs", {input({{"data", {"eA=="}}})}}, {"outputs", {{{"name", "logits"}}}}}),
       std::nullopt, "unknown output \"logits\""},
      {"{}", 10, "the body has only 2 bytes"},
      {Header({{"inputs", {input({{"parameters", {{"binary_data_size", 100}}}})}}}) + raw, 0,
       "not valid JSON"},  // header length 0: the JSON part is empty
  };
  for (const auto& c : cases) {
    auto request = ParseRestInferRequest(c.body, c.header_length, "img");
    EXPECT_TRUE(absl::IsInvalidArgument(request.status())) << c.body;
    EXPECT_THAT(std::string(request.status().message()), HasSubstr(c.needle)) << c.body;
  }
  // binary_data_size larger than what follows, and bytes nobody claims.
  const std::string claims_more =
      Header({{"inputs", {input({{"parameters", {{"binary_data_size", raw.size() + 1}}}})}}});
  EXPECT_THAT(
      std::string(
          ParseRestInferRequest(claims_more + raw, claims_more.size(), "img").status().message()),
      HasSubstr("binary_data_size"));
  const std::string json_data = Header({{"inputs", {input({{"data", {"eA=="}}})}}});
  EXPECT_THAT(
      std::string(
          ParseRestInferRequest(json_data + raw, json_data.size(), "img").status().message()),
      HasSubstr("follow the inputs"));
}

TEST(KserveSizesTest, ElementCountRefusesNegativeAndOverflowingShapes) {
  EXPECT_EQ(*ElementCount({}), 1);
  EXPECT_EQ(*ElementCount({3, 0, 5}), 0);
  EXPECT_EQ(*ElementCount({INT64_MAX}), INT64_MAX);
  EXPECT_EQ(*ElementCount({int64_t{1} << 31, int64_t{1} << 31}), int64_t{1} << 62);
  EXPECT_TRUE(absl::IsInvalidArgument(ElementCount({int64_t{1} << 32, int64_t{1} << 31}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ElementCount({INT64_MAX, 2}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ElementCount({0, -1}).status()));
}

TEST(KserveSizesTest, DeclaredCountsAreCheckedAgainstTheBytesBeforeAllocating) {
  // Each element needs a 4-byte length: 10^18 over 0 bytes (the reported crash) or 9 bytes.
  EXPECT_THAT(std::string(SplitBytesTensor("", 1'000'000'000'000'000'000ULL).status().message()),
              HasSubstr("hold at most 0"));
  EXPECT_THAT(std::string(SplitBytesTensor(std::string(9, '\0'), 3).status().message()),
              HasSubstr("hold at most 2"));
  EXPECT_TRUE(SplitBytesTensor(std::string(8, '\0'), 2).ok());  // two empty elements
}

TEST(KserveSizesTest, TheReportedBinaryCrashIsA400) {
  const std::string header =
      R"({"inputs":[{"name":"string_input","shape":[1000000000000000000],"datatype":"BYTES",)"
      R"("parameters":{"binary_data_size":0}}]})";
  auto request = ParseRestInferRequest(header, header.size(), "string_input");
  EXPECT_TRUE(absl::IsInvalidArgument(request.status())) << request.status();
  EXPECT_THAT(std::string(request.status().message()),
              HasSubstr("the shape says 1000000000000000000 BYTES elements"));
  // The same count in JSON data: compared with the strings present, never reserved for.
  const std::string json_form =
      R"({"inputs":[{"name":"string_input","shape":[1000000000000000000],"datatype":"BYTES",)"
      R"("data":["eA=="]}]})";
  EXPECT_THAT(
      std::string(
          ParseRestInferRequest(json_form, std::nullopt, "string_input").status().message()),
      HasSubstr("its shape says 1000000000000000000"));
}

TEST(KserveSizesTest, IntegersBeyondInt64AreRefusedNotWrapped) {
  for (const std::string& body :
       {std::string(R"({"inputs":[{"name":"s","shape":[18446744073709551615],"datatype":"BYTES",)"
                    R"("data":["eA=="]}]})"),
        std::string(R"({"inputs":[{"name":"s","shape":[1],"datatype":"BYTES",)"
                    R"("parameters":{"binary_data_size":18446744073709551615}}]})")}) {
    auto request = ParseRestInferRequest(body, body.size(), "s");
    EXPECT_TRUE(absl::IsInvalidArgument(request.status())) << body;
    EXPECT_THAT(std::string(request.status().message()), HasSubstr("int64 range")) << body;
  }
}

TEST(KserveSizesTest, DeepJsonIsRefusedBeforeAnyWalk) {
  const std::string deep(100'000, '[');
  const std::string body = R"({"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","data":)" +
                           deep + std::string(100'000, ']') + "}]}";
  for (const std::optional<size_t> header_length :
       {std::optional<size_t>(), std::optional(body.size())}) {
    auto request = ParseRestInferRequest(body, header_length, "s");
    EXPECT_THAT(std::string(request.status().message()), HasSubstr("JSON nesting deeper than 32"));
  }
  // Within the limit, nested data is flattened (iteratively) and counted against the shape.
  const std::string nested = R"({"inputs":[{"name":"s","shape":[2, 1],"datatype":"BYTES",)"
                             R"("data":[[[[["eA=="]]]], [[["eA=="]]]]}]})";
  auto request = ParseRestInferRequest(nested, std::nullopt, "s");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->images.size(), 2u);
}

TEST(KserveRestCodecTest, ResponseJsonAndBinary) {
  auto outputs = OutputsFrom({Classification{{"Bag", "Shirt"}, {0.75f, 0.125f}},
                              Classification{{"Coat", "Bag"}, {0.5f, 0.25f}}});
  ASSERT_TRUE(outputs.ok());
  EXPECT_THAT(outputs->shape, ElementsAre(2, 2));

  RestInferRequest request;
  request.id = "r9";
  request.outputs = {{"confidence", false}, {"label", false}};
  RestInferResponse plain = FormatRestInferResponse("fashion", "3", request, *outputs);
  EXPECT_FALSE(plain.header_length);
  const json j = json::parse(plain.body);
  EXPECT_EQ(j["model_name"], "fashion");
  EXPECT_EQ(j["model_version"], "3");
  EXPECT_EQ(j["id"], "r9");
  EXPECT_EQ(j["outputs"][0]["name"], "confidence");
  EXPECT_EQ(j["outputs"][0]["data"], json({0.75, 0.125, 0.5, 0.25}));
  EXPECT_EQ(j["outputs"][1]["data"], json({"Bag", "Shirt", "Coat", "Bag"}));

  request.outputs = {{"label", true}, {"confidence", true}};
  RestInferResponse binary = FormatRestInferResponse("fashion", "3", request, *outputs);
  ASSERT_TRUE(binary.header_length);
  const json header = json::parse(binary.body.substr(0, *binary.header_length));
  const size_t label_size = header["outputs"][0]["parameters"]["binary_data_size"];
  const size_t confidence_size = header["outputs"][1]["parameters"]["binary_data_size"];
  EXPECT_EQ(confidence_size, 16u);
  ASSERT_EQ(binary.body.size(), *binary.header_length + label_size + confidence_size);
  auto labels = SplitBytesTensor(binary.body.substr(*binary.header_length, label_size), 4);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_THAT(*labels, ElementsAre("Bag", "Shirt", "Coat", "Bag"));
  EXPECT_EQ(binary.body.substr(*binary.header_length + label_size),
            Fp32Bytes({0.75f, 0.125f, 0.5f, 0.25f}));
}

TEST(ClassificationTest, ReplicaBodiesBothWays) {
  const json body = json::parse(ReplicaBodyForImages({"ab"}, {.top_k = 3}));
  EXPECT_EQ(body["instances"][0]["b64"], Base64Encode("ab"));
  EXPECT_EQ(body["parameters"]["top_k"], 3);
  EXPECT_FALSE(body["parameters"].contains("confidence_threshold"));

  auto rows = ParseClassifications(R"({"predictions":[{"label":"Bag","confidence":0.5},)"
                                   R"({"labels":["Coat","Bag"],"confidences":[0.25,0.125]}]})",
                                   2);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT((*rows)[0].labels, ElementsAre("Bag"));
  EXPECT_THAT((*rows)[1].confidences, ElementsAre(0.25f, 0.125f));
  for (const char* bad : {"[]", R"({"predictions":{}})", R"({"predictions":[1]})",
                          R"({"predictions":[{"labels":["a"],"confidences":[]}]})"}) {
    EXPECT_TRUE(absl::IsInternal(ParseClassifications(bad, 1).status())) << bad;
  }
  EXPECT_THAT(std::string(ParseClassifications(R"({"predictions":[]})", 1).status().message()),
              HasSubstr("0 predictions for 1 instances"));
}

}  // namespace
}  // namespace tessera::serving::kserve
