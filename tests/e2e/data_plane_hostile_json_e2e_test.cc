// Hostile JSON and declared sizes against the real binary (issue 14): one unauthenticated request
// once killed `tessera serve` two ways, a body nested 100,000 deep (stack overflow in dump()) and
// a KServe binary request whose shape declared 10^18 elements (length_error on an executor
// thread). Every JSON route gets the deep body, the KServe routes get the lying sizes; each must
// answer 400 in its protocol's error shape, and the same server process must keep serving.
#include <cstdint>
#include <string>
#include <vector>

#include "common/base64.h"
#include "e2e/data_plane_fixture.h"

namespace tessera::testing {
namespace {

using nlohmann::json;

// "[[[...]]]" nested `depth` deep: 2 bytes per level, 200 KB for the crash body.
std::string Deep(int depth) {
  return std::string(static_cast<size_t>(depth), '[') +
         std::string(static_cast<size_t>(depth), ']');
}

constexpr int kCrashDepth = 100'000;

class DataPlaneHostileJsonE2E : public DataPlaneTest {
 protected:
  // What a well-behaved client still gets from every frontend.
  void ExpectServing(const std::string& endpoint, const std::string& context) {
    SCOPED_TRACE(context);
    PredictReply vertex = Predict(endpoint, PredictBody({FashionImage("0001-pullover.png")}));
    EXPECT_EQ(vertex.status, 200) << vertex.raw;
    const std::string b64 = Base64Encode(ReadBytes(FashionImage("0001-pullover.png")));
    PredictReply tf =
        Post("/v1/models/fashion:predict", json{{"instances", {{{"b64", b64}}}}}.dump());
    EXPECT_EQ(tf.status, 200) << tf.raw;
    PredictReply kserve = Post(
        "/v2/models/fashion/infer",
        json{{"inputs",
              {{{"name", "string_input"}, {"shape", {1}}, {"datatype", "BYTES"}, {"data", {b64}}}}}}
            .dump());
    EXPECT_EQ(kserve.status, 200) << kserve.raw;
    ServeProcess::Reply list = server_->Call("GET", std::string(kDataPlaneLoc) + "/endpoints");
    EXPECT_EQ(list.status, 200) << list.raw;
  }

  // A KServe binary-extension request: the JSON header, then `binary`.
  PredictReply KServeBinary(const json& header, const std::string& binary) {
    const std::string text = header.dump();
    return Post("/v2/models/fashion/infer", text + binary,
                {{"Content-Type", "application/octet-stream"},
                 {"Inference-Header-Content-Length", std::to_string(text.size())}});
  }
};

// 400 INVALID_ARGUMENT in the Google JSON error shape (control plane, Vertex).
void ExpectGoogle400(const ServeProcess::Reply& reply, const std::string& part,
                     const std::string& route) {
  EXPECT_EQ(reply.status, 400) << route << ": " << reply.raw.substr(0, 500);
  ASSERT_TRUE(reply.body.is_object() && reply.body.contains("error")) << route << ": " << reply.raw;
  EXPECT_EQ(reply.body["error"]["status"], "INVALID_ARGUMENT") << route << ": " << reply.raw;
  EXPECT_EQ(reply.body["error"]["code"], 400) << route;
  EXPECT_NE(reply.body["error"]["message"].get<std::string>().find(part), std::string::npos)
      << route << ": " << reply.raw;
}

// 400 in the TF Serving / KServe shape: {"error": "<message>"}.
void ExpectPlain400(const PredictReply& reply, const std::string& part, const std::string& route) {
  EXPECT_EQ(reply.status, 400) << route << ": " << reply.raw.substr(0, 500) << reply.error;
  ASSERT_TRUE(reply.body.is_object() && reply.body.contains("error") &&
              reply.body["error"].is_string())
      << route << ": " << reply.raw;
  EXPECT_NE(reply.body["error"].get<std::string>().find(part), std::string::npos)
      << route << ": " << reply.raw;
}

ServeProcess::Reply AsServeReply(const PredictReply& reply) {
  return ServeProcess::Reply{.status = reply.status, .body = reply.body, .raw = reply.raw};
}

TEST_F(DataPlaneHostileJsonE2E, DeepNestingOnEveryJsonRouteIs400AndServeKeepsServing) {
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  const std::string id = Deploy(endpoint, model, 1, 1);
  ASSERT_FALSE(id.empty());
  const pid_t pid = server_->pid();
  ExpectServing(endpoint, "before");

  const std::string deep = Deep(kCrashDepth);
  const std::string loc(kDataPlaneLoc);
  const std::string model_path = model.substr(0, model.find('@'));
  struct ControlCase {
    std::string method;
    std::string target;
    std::string body;
  };
  const std::vector<ControlCase> control = {
      // The reported crash, byte for byte in shape.
      {"POST", loc + "/endpoints", "{\"displayName\": " + deep + "}"},
      {"PATCH", "/v1/" + endpoint + "?updateMask=displayName", "{\"displayName\": " + deep + "}"},
      {"POST", "/v1/" + endpoint + ":deployModel",
       "{\"deployedModel\": {\"model\": \"" + model + "\", \"displayName\": " + deep + "}}"},
      {"POST", "/v1/" + endpoint + ":undeployModel", "{\"deployedModelId\": " + deep + "}"},
      {"POST", loc + "/models:upload", "{\"model\": {\"displayName\": " + deep + "}}"},
      {"PATCH", "/v1/" + model_path + "?updateMask=displayName", "{\"displayName\": " + deep + "}"},
  };
  for (const ControlCase& c : control) {
    const std::string route = c.method + " " + c.target;
    ExpectGoogle400(server_->Call(c.method, c.target, c.body), "JSON nesting deeper than 64",
                    route);
  }
  // Just at the control-plane limit: parsed, then refused for its type (not a crash, not the
  // depth message).
  ServeProcess::Reply at_limit =
      server_->Call("POST", loc + "/endpoints", "{\"displayName\": " + Deep(63) + "}");
  EXPECT_EQ(at_limit.status, 400) << at_limit.raw;
  EXPECT_EQ(at_limit.raw.find("nesting"), std::string::npos) << at_limit.raw;

  // Vertex.
  ExpectGoogle400(
      AsServeReply(Post("/v1/" + endpoint + ":predict", "{\"instances\": " + deep + "}")),
      "JSON nesting deeper than 32", ":predict");
  ExpectGoogle400(AsServeReply(Post(
                      "/v1/" + endpoint + ":predict",
                      "{\"instances\": [], \"parameters\": {\"deployedModelId\": " + deep + "}}")),
                  "JSON nesting deeper than 32", ":predict (pinned)");
  ExpectGoogle400(
      AsServeReply(Post("/v1/" + endpoint + ":rawPredict", "{\"instances\": " + deep + "}")),
      "JSON nesting deeper than 32", ":rawPredict (the replica's parser)");
  // TF Serving, row and columnar.
  ExpectPlain400(Post("/v1/models/fashion:predict", "{\"instances\": " + deep + "}"),
                 "JSON nesting deeper than 32", "TF Serving row");
  ExpectPlain400(Post("/v1/models/fashion:predict", "{\"inputs\": " + deep + "}"),
                 "JSON nesting deeper than 32", "TF Serving columnar");
  ExpectPlain400(
      Post("/v1/models/fashion:predict", "{\"signature_name\": " + deep + ", \"instances\": []}"),
      "JSON nesting deeper than 32", "TF Serving signature_name");
  // KServe v2, JSON and the binary extension's header.
  ExpectPlain400(Post("/v2/models/fashion/infer",
                      "{\"inputs\": [{\"name\": \"string_input\", \"shape\": [1], \"datatype\": "
                      "\"BYTES\", \"data\": " +
                          deep + "}]}"),
                 "JSON nesting deeper than 32", "KServe JSON");
  const std::string deep_header = "{\"inputs\": " + deep + "}";
  ExpectPlain400(Post("/v2/models/fashion/infer", deep_header,
                      {{"Content-Type", "application/octet-stream"},
                       {"Inference-Header-Content-Length", std::to_string(deep_header.size())}}),
                 "JSON nesting deeper than 32", "KServe binary header");

  EXPECT_EQ(server_->pid(), pid);
  ExpectServing(endpoint, "after");
}

TEST_F(DataPlaneHostileJsonE2E, DeclaredSizesBeyondTheBytesAre400AndServeKeepsServing) {
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  ASSERT_FALSE(Deploy(endpoint, model, 1, 1).empty());
  ExpectServing(endpoint, "before");

  auto input = [](json shape, json parameters) {
    return json{{"inputs",
                 {{{"name", "string_input"},
                   {"shape", std::move(shape)},
                   {"datatype", "BYTES"},
                   {"parameters", std::move(parameters)}}}}};
  };
  // The reported crash: 10^18 elements declared over 0 bytes of data.
  ExpectPlain400(KServeBinary(input({1'000'000'000'000'000'000LL}, {{"binary_data_size", 0}}), ""),
                 "the shape says 1000000000000000000 BYTES elements", "shape 1e18");
  // Declared over a few bytes that cannot hold them.
  ExpectPlain400(KServeBinary(input({1'000'000}, {{"binary_data_size", 8}}), std::string(8, '\0')),
                 "hold at most 2", "shape 1e6 over 8 bytes");
  // binary_data_size larger than the bytes sent, and smaller (bytes left over).
  ExpectPlain400(KServeBinary(input({1}, {{"binary_data_size", 1'000'000}}), std::string(16, 'x')),
                 "binary_data_size is 1000000", "binary_data_size too large");
  const std::string image = ReadBytes(FashionImage("0001-pullover.png"));
  std::string element(4, '\0');
  element[0] = static_cast<char>(image.size() & 0xff);
  element[1] = static_cast<char>((image.size() >> 8) & 0xff);
  element[2] = static_cast<char>((image.size() >> 16) & 0xff);
  element += image;
  ExpectPlain400(KServeBinary(input({1}, {{"binary_data_size", 2}}), element), "hold at most 0",
                 "binary_data_size too small");
  // A product of dimensions overflowing int64, a dimension beyond int64, a negative one.
  ExpectPlain400(KServeBinary(input({INT64_MAX, 2}, {{"binary_data_size", 0}}), ""),
                 "more elements than an int64 counts", "overflowing product");
  ExpectPlain400(Post("/v2/models/fashion/infer",
                      R"({"inputs": [{"name": "string_input", "shape": [18446744073709551615],)"
                      R"( "datatype": "BYTES", "data": ["eA=="]}]})"),
                 "int64 range", "dimension beyond int64");
  ExpectPlain400(KServeBinary(input({-5}, {{"binary_data_size", 0}}), ""), "negative dimension",
                 "negative dimension");
  ExpectPlain400(KServeBinary(input({1}, {{"binary_data_size", 18446744073709551615ULL}}), ""),
                 "int64 range", "binary_data_size beyond int64");
  // The JSON form: a shape of 10^18 with one string of data.
  ExpectPlain400(Post("/v2/models/fashion/infer", json{{"inputs",
                                                        {{{"name", "string_input"},
                                                          {"shape", {1'000'000'000'000'000'000LL}},
                                                          {"datatype", "BYTES"},
                                                          {"data", {"eA=="}}}}}}
                                                      .dump()),
                 "its shape says 1000000000000000000", "KServe JSON shape 1e18");

  ExpectServing(endpoint, "after");
}

}  // namespace
}  // namespace tessera::testing
