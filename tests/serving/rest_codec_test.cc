// JSON codecs of the control-plane REST API: field names, strictness (unknown fields, wrong
// types), snake_case input, enum integers, strict output for operation responses.
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serving/rest/endpoint_codec.h"
#include "serving/rest/json_fields.h"
#include "serving/rest/model_codec.h"
#include "serving/rest/operation_codec.h"
#include "serving/rest/request_util.h"

namespace tessera::serving::rest {
namespace {

using nlohmann::json;

TEST(JsonFieldsTest, SnakeToCamel) {
  EXPECT_EQ(SnakeToCamel("display_name"), "displayName");
  EXPECT_EQ(SnakeToCamel("displayName"), "displayName");
  EXPECT_EQ(SnakeToCamel("a_b_c"), "aBC");
  EXPECT_EQ(SnakeToCamel("_x"), "_x");
}

TEST(JsonFieldsTest, TimestampIsRfc3339Utc) {
  EXPECT_EQ(FormatTimestamp(absl::FromUnixMillis(1714564800250)), "2024-05-01T12:00:00.25Z");
  EXPECT_EQ(FormatTimestamp(absl::FromUnixSeconds(0)), "1970-01-01T00:00:00Z");
  json j = json::object();
  SetTimestamp(j, "t", absl::InfinitePast());
  EXPECT_FALSE(j.contains("t"));
}

TEST(JsonFieldsTest, BodyParsing) {
  EXPECT_EQ(*ParseJsonObjectBody(""), json::object());
  EXPECT_EQ(*ParseJsonObjectBody("  \n"), json::object());
  absl::StatusOr<json> bad = ParseJsonObjectBody("{\"model\": ");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("Invalid JSON payload"), std::string::npos);
  EXPECT_EQ(ParseJsonObjectBody("[1,2]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseJsonObjectBody("\"x\"").status().code(), absl::StatusCode::kInvalidArgument);
  // The reported crash: a field nested 100,000 deep is refused before anything walks it.
  const std::string deep =
      "{\"displayName\": " + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  EXPECT_EQ(ParseJsonObjectBody(deep).status().message(), "JSON nesting deeper than 64");
  const std::string at_limit = "{\"a\": " + std::string(63, '[') + std::string(63, ']') + "}";
  absl::StatusOr<json> parsed = ParseJsonObjectBody(at_limit);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  // A type error shows the value bounded (type and size), never dump()ed.
  JsonObjectReader reader(*parsed, "");
  std::string out;
  EXPECT_THAT(std::string(reader.String("a", out).message()),
              ::testing::HasSubstr("(TYPE_STRING), an array of 1 elements"));
}

TEST(JsonFieldsTest, ReaderTypesAndUnknownFields) {
  const json j = json::parse(
      R"({"a": "x", "n": "42", "m": 7.0, "big": 3000000000, "b": true, "z": null, "extra": 1})");
  JsonObjectReader r(j, "obj");
  std::string a;
  int32_t n = 0, m = 0, big = 0;
  bool b = false;
  std::string z = "unchanged";
  EXPECT_TRUE(r.String("a", a).ok());
  EXPECT_TRUE(r.Int32("n", n).ok());  // proto JSON accepts integers as strings
  EXPECT_TRUE(r.Int32("m", m).ok());
  EXPECT_FALSE(r.Int32("big", big).ok());  // out of int32 range
  EXPECT_TRUE(r.Bool("b", b).ok());
  EXPECT_TRUE(r.String("z", z).ok());  // null is absent
  EXPECT_EQ(a, "x");
  EXPECT_EQ(n, 42);
  EXPECT_EQ(m, 7);
  EXPECT_TRUE(b);
  EXPECT_EQ(z, "unchanged");
  absl::Status unknown = r.Finish();
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("Unknown name \"extra\" at 'obj'"), std::string::npos)
      << unknown;

  std::string s;
  const json five = json::parse(R"({"a": 5})");
  JsonObjectReader wrong(five, "model");
  absl::Status type_error = wrong.String("a", s);
  EXPECT_EQ(type_error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(type_error.message().find("model.a"), std::string::npos) << type_error;
}

TEST(JsonFieldsTest, FloatsBeyondInt64AreOutOfRangeNotConverted) {
  // Converting 1e30 to int64 is undefined behaviour; control_plane_codec_fuzzer found the path.
  const json j = json::parse(R"({"huge": 1e30, "tiny": -1e30, "edge": 9223372036854775808.0,
                                 "ok": -9223372036854775808.0, "half": 2.5})");
  JsonObjectReader r(j, "obj");
  int64_t v = 0;
  EXPECT_FALSE(r.Int64("huge", v).ok());
  EXPECT_FALSE(r.Int64("tiny", v).ok());
  EXPECT_FALSE(r.Int64("edge", v).ok());  // 2^63: one past the largest int64
  ASSERT_TRUE(r.Int64("ok", v).ok());
  EXPECT_EQ(v, std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(r.Int64("half", v).ok());
}

TEST(ModelCodecTest, UploadRequestFromJson) {
  const json body = json::parse(R"({
    "model": {"displayName": "vit", "artifact_uri": "/tmp/x",
              "containerSpec": {"imageUri": "tessera/vit", "env": [{"name": "A", "value": "1"}],
                                "ports": [{"containerPort": 8080}]},
              "versionAliases": ["prod"], "labels": {"team": "a"}},
    "parentModel": "projects/p/locations/l/models/7", "modelId": "m1", "serviceAccount": "sa"})");
  absl::StatusOr<registry::UploadModelRequest> r =
      UploadModelRequestFromJson("projects/p/locations/l", body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parent, "projects/p/locations/l");
  EXPECT_EQ(r->parent_model, "projects/p/locations/l/models/7");
  EXPECT_EQ(r->model_id, "m1");
  EXPECT_EQ(r->model.display_name, "vit");
  EXPECT_EQ(r->model.artifact_uri, "/tmp/x");  // snake_case accepted
  EXPECT_EQ(r->model.container_spec.image_uri, "tessera/vit");
  ASSERT_EQ(r->model.container_spec.env.size(), 1u);
  EXPECT_EQ(r->model.container_spec.env[0].name, "A");
  EXPECT_EQ(r->model.container_spec.ports, std::vector<int32_t>{8080});
  EXPECT_EQ(r->model.version_aliases, std::vector<std::string>{"prod"});
  EXPECT_EQ(r->model.labels.at("team"), "a");
}

TEST(ModelCodecTest, UploadRequestErrors) {
  const auto err = [](const char* text) {
    return UploadModelRequestFromJson("projects/p/locations/l", json::parse(text)).status();
  };
  EXPECT_EQ(err("{}").code(), absl::StatusCode::kInvalidArgument);  // model missing
  absl::Status unknown = err(R"({"model": {"displayName": "x", "colour": "red"}})");
  EXPECT_NE(unknown.message().find("Unknown name \"colour\" at 'model'"), std::string::npos)
      << unknown;
  absl::Status nested = err(R"({"model": {"containerSpec": {"imageUri": "x", "bogus": 1}}})");
  EXPECT_NE(nested.message().find("'model.containerSpec'"), std::string::npos) << nested;
  absl::Status unsupported = err(R"({"model": {"explanationSpec": {}}})");
  EXPECT_NE(unsupported.message().find("not supported"), std::string::npos) << unsupported;
  absl::Status type = err(R"({"model": {"labels": {"a": 1}}})");
  EXPECT_NE(type.message().find("model.labels[a]"), std::string::npos) << type;
  EXPECT_EQ(err(R"({"model": 3})").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelCodecTest, OutputOnlyFieldsAreAcceptedBack) {
  registry::Model m;
  m.name = "projects/p/locations/l/models/7";
  m.version_id = "2";
  m.version_aliases = {"default"};
  m.display_name = "vit";
  m.artifact_uri = "/a";
  m.container_spec.image_uri = "tessera/vit";
  m.create_time = absl::FromUnixSeconds(100);
  m.deployed_models = {{"projects/p/locations/l/endpoints/1", "3"}};
  m.runtime = "vit";
  const json out = ModelToJson(m);
  EXPECT_EQ(out["versionId"], "2");
  EXPECT_EQ(out["containerSpec"]["imageUri"], "tessera/vit");
  EXPECT_EQ(out["deployedModels"][0]["deployedModelId"], "3");
  EXPECT_EQ(out["tessera"]["runtime"], "vit");
  EXPECT_FALSE(ModelToJson(m, {.strict = true}).contains("tessera"));
  registry::Model back;
  ASSERT_TRUE(ModelFromJson(out, "model", back).ok());  // a GET result can be PATCHed back
  EXPECT_EQ(back.display_name, "vit");
}

TEST(EndpointCodecTest, DeployRequestFromJson) {
  const json body = json::parse(R"({
    "deployedModel": {"id": "4242", "model": "projects/p/locations/l/models/7@2",
      "displayName": "d",
      "dedicatedResources": {"machineSpec": {"machineType": "n1-standard-4", "acceleratorType": 0},
                             "minReplicaCount": "1", "maxReplicaCount": 3,
                             "autoscalingMetricSpecs": [{"metricName": "m", "target": 60}]},
      "tessera": {"precision": "bf16", "batching": {"maxBatchSize": 16}}},
    "trafficSplit": {"0": 100}})");
  absl::StatusOr<control::DeployModelRequest> r =
      DeployModelRequestFromJson("projects/p/locations/l/endpoints/1", body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->endpoint, "projects/p/locations/l/endpoints/1");
  const registry::DeployedModel& dm = r->deployed_model;
  EXPECT_EQ(dm.id, "4242");  // a user-chosen id reaches the service (which validates it)
  EXPECT_EQ(dm.model, "projects/p/locations/l/models/7@2");
  ASSERT_TRUE(dm.dedicated_resources.has_value());
  EXPECT_EQ(dm.dedicated_resources->machine_spec.machine_type, "n1-standard-4");
  EXPECT_EQ(dm.dedicated_resources->machine_spec.accelerator_type, "ACCELERATOR_TYPE_UNSPECIFIED");
  EXPECT_EQ(dm.dedicated_resources->min_replica_count, 1);
  EXPECT_EQ(dm.dedicated_resources->max_replica_count, 3);
  ASSERT_EQ(dm.dedicated_resources->autoscaling_metric_specs.size(), 1u);
  EXPECT_EQ(dm.dedicated_resources->autoscaling_metric_specs[0].target, 60);
  EXPECT_EQ(dm.precision, "bf16");
  EXPECT_EQ(dm.batching.max_batch_size, 16);
  EXPECT_EQ(r->traffic_split.at("0"), 100);
}

TEST(EndpointCodecTest, DeployRequestErrors) {
  const auto err = [](const char* text) {
    return DeployModelRequestFromJson("e", json::parse(text)).status();
  };
  EXPECT_EQ(err("{}").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(err(R"({"deployedModel": {}})").code(), absl::StatusCode::kInvalidArgument);
  absl::Status split = err(R"({"deployedModel": {"model": "m"}, "trafficSplit": {"0": "x"}})");
  EXPECT_NE(split.message().find("trafficSplit[0]"), std::string::npos) << split;
  absl::Status unknown =
      err(R"({"deployedModel": {"model": "m", "dedicatedResources": {"minReplicas": 1}}})");
  EXPECT_NE(unknown.message().find("deployedModel.dedicatedResources"), std::string::npos)
      << unknown;
  EXPECT_EQ(UndeployModelRequestFromJson("e", json::object()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EndpointCodecTest, StrictOutputHasOnlyVertexFields) {
  registry::Endpoint e;
  e.name = "projects/p/locations/l/endpoints/1";
  e.display_name = "ep";
  registry::DeployedModel dm;
  dm.id = "5";
  dm.model = "projects/p/locations/l/models/7";
  dm.model_version_id = "1";
  dm.state = registry::DeployedModelState::kDeployed;
  dm.dedicated_resources = registry::DedicatedResources{{"n1-standard-2", "", 0}, 1, 2, {}};
  e.deployed_models = {dm};
  e.traffic_split = {{"5", 100}};
  const json loose = EndpointToJson(e);
  EXPECT_EQ(loose["deployedModels"][0]["tessera"]["state"], "DEPLOYED");
  EXPECT_EQ(loose["trafficSplit"]["5"], 100);
  const json strict = EndpointToJson(e, {.strict = true});
  EXPECT_FALSE(strict["deployedModels"][0].contains("tessera"));
  EXPECT_EQ(strict["deployedModels"][0]["status"]["message"], "DEPLOYED");
  EXPECT_EQ(strict["deployedModels"][0]["dedicatedResources"]["machineSpec"]["machineType"],
            "n1-standard-2");
}

TEST(OperationCodecTest, Shapes) {
  registry::Operation op;
  op.name = "projects/p/locations/l/operations/3";
  op.kind = registry::OperationKind::kUploadModel;
  op.create_time = absl::FromUnixSeconds(10);
  op.update_time = absl::FromUnixSeconds(20);
  json running = OperationToJson(op, MinimalOperationResponse(op));
  EXPECT_EQ(running["metadata"]["@type"],
            "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelOperationMetadata");
  EXPECT_EQ(running["metadata"]["genericMetadata"]["createTime"], "1970-01-01T00:00:10Z");
  EXPECT_EQ(running["done"], false);
  EXPECT_FALSE(running.contains("response"));
  EXPECT_FALSE(running.contains("error"));

  op.done = true;
  op.result.model = "projects/p/locations/l/models/7";
  op.result.model_version_id = "1";
  json ok = OperationToJson(op, MinimalOperationResponse(op));
  EXPECT_EQ(ok["response"]["@type"],
            "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse");
  EXPECT_EQ(ok["response"]["modelVersionId"], "1");

  op.error = absl::UnavailableError("interrupted");
  json failed = OperationToJson(op, MinimalOperationResponse(op));
  EXPECT_EQ(failed["error"]["code"], 14);  // google.rpc.Code, not HTTP
  EXPECT_EQ(failed["error"]["message"], "interrupted");
  EXPECT_FALSE(failed.contains("response"));

  registry::Operation del;
  del.kind = registry::OperationKind::kDeleteModel;
  del.done = true;
  EXPECT_EQ(OperationToJson(del, MinimalOperationResponse(del))["response"],
            json({{"@type", "type.googleapis.com/google.protobuf.Empty"}}));

  registry::Operation deploy;
  deploy.kind = registry::OperationKind::kDeployModel;
  deploy.stage = "STARTING_MODEL_SERVER";
  EXPECT_EQ(OperationToJson(deploy, json::object())["metadata"]["deploymentStage"],
            "STARTING_MODEL_SERVER");
  deploy.stage = "SOMETHING_ELSE";  // not a Vertex DeploymentStage name: omitted (strict parsers)
  EXPECT_FALSE(OperationToJson(deploy, json::object())["metadata"].contains("deploymentStage"));
}

TEST(RequestUtilTest, Durations) {
  EXPECT_EQ(*ParseDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDuration("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseDuration("2"), absl::Seconds(2));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("abc").ok());
}

}  // namespace
}  // namespace tessera::serving::rest
