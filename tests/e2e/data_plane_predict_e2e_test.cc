// Vertex predict end to end on the real binary: the seed scenario (upload fashion-vit, endpoint,
// deploy, predict; labels and confidences equal to `tessera classify`), :rawPredict, replica
// status, bad inputs (400 while the replica keeps serving), a 90/10 traffic split and pinning.
#include <algorithm>
#include <cmath>
#include <fstream>

#include "common/base64.h"
#include "e2e/data_plane_fixture.h"
#include "engine/kernels/attention_amx.h"
#include "testing/test_paths.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<fs::path> AllImages() {
  std::vector<fs::path> images;
  for (const auto& entry : fs::directory_iterator(VendoredDataDir() / "images" / "fashion")) {
    images.push_back(entry.path());
  }
  std::sort(images.begin(), images.end());
  images.push_back(VendoredDataDir() / "images" / "photos" / "coco-000000039769-cats.png");
  return images;
}

// A PNG whose header claims 100000 x 100000 pixels (the body is garbage): refused from the header.
std::string HugePngHeader() {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  png += std::string("\x00\x00\x00\x0d", 4) + "IHDR";
  png += std::string("\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00", 13);
  png += std::string("\x00\x00\x00\x00", 4);  // CRC (not checked before the size)
  png += std::string(64, '\0');
  return png;
}

class DataPlanePredictE2E : public DataPlaneTest {
 protected:
  // One tessera-cpu-1 replica in `precision`, with `tessera` options added.
  static json ReducedPrecision(const std::string& model, const std::string& precision,
                               json tessera = json::object()) {
    tessera["precision"] = precision;
    return {{"model", model},
            {"dedicatedResources",
             {{"machineSpec", {{"machineType", "tessera-cpu-1"}}},
              {"minReplicaCount", 1},
              {"maxReplicaCount", 1}}},
            {"tessera", tessera}};
  }
  // The endpoint answers `image` as `tessera classify` did (its JSON output), confidence within
  // `tolerance`.
  void ExpectAnswersLikeClassify(const std::string& endpoint, const fs::path& image,
                                 const std::string& classify_out, double tolerance) {
    const json want = json::parse(classify_out)[0]["predictions"][0];
    const PredictReply reply = Predict(endpoint, PredictBody({image}));
    ASSERT_EQ(reply.status, 200) << reply.raw;
    EXPECT_EQ(reply.body["predictions"][0]["label"], want["label"]);
    EXPECT_NEAR(reply.body["predictions"][0]["confidence"].get<double>(),
                want["confidence"].get<double>(), tolerance);
  }
  // A packed-weight file of the precision's own (named ...-<precision>.packed) exists.
  bool HasPackedFile(const std::string& precision) {
    for (const auto& entry : fs::directory_iterator(tmp_.path() / "data" / "packed")) {
      if (entry.path().filename().string().ends_with("-" + precision + ".packed")) return true;
    }
    return false;
  }
};

TEST_F(DataPlanePredictE2E, SeedScenarioMatchesClassify) {
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  const std::string id = Deploy(endpoint, model, 1, 1);
  ASSERT_FALSE(id.empty());

  // Every vendored image in one request (order kept), as the seed sends it.
  const std::vector<fs::path> images = AllImages();
  PredictReply reply = Predict(endpoint, PredictBody(images));
  ASSERT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(reply.body["deployedModelId"], id);
  EXPECT_EQ(reply.body["model"], model.substr(0, model.find('@')));
  EXPECT_EQ(reply.body["modelDisplayName"], "fashion");
  EXPECT_EQ(reply.body["modelVersionId"], "1");
  // Vertex's field order.
  EXPECT_EQ(reply.raw.rfind("{\"predictions\":", 0), 0u) << reply.raw;
  ASSERT_EQ(reply.body["predictions"].size(), images.size()) << reply.raw;

  std::vector<std::string> args = {"classify", "--model", FashionVitDir().string()};
  for (const fs::path& image : images) args.push_back(image.string());
  CliResult classify = RunCli(args);
  ASSERT_EQ(classify.exit_status, 0) << classify.err;
  json expected = json::parse(classify.out);
  ASSERT_EQ(expected.size(), images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const json& got = reply.body["predictions"][i];
    const json& want = expected[i]["predictions"][0];
    EXPECT_EQ(got["label"], want["label"]) << images[i];
    EXPECT_NEAR(got["confidence"].get<double>(), want["confidence"].get<double>(), 1e-5)
        << images[i];
  }
  // The file names carry the true labels of the Fashion-MNIST images: the model is right on
  // most of them (it is 87.5% accurate), so these are real predictions, not constants.
  int right = 0;
  for (size_t i = 0; i + 1 < images.size(); ++i) {
    std::string label = reply.body["predictions"][i]["label"];
    std::transform(label.begin(), label.end(), label.begin(),
                   [](unsigned char c) { return c == ' ' ? '-' : std::tolower(c); });
    if (images[i].filename().string().find(label) != std::string::npos) ++right;
  }
  EXPECT_GE(right, 6) << reply.raw;

  // A bare {"b64": ...} instance, top_k 2.
  const std::string boot = Base64Encode(ReadBytes(FashionImage("0000-ankle-boot.png")));
  reply = Predict(endpoint, json{{"instances", {{{"b64", boot}}}}, {"parameters", {{"top_k", 2}}}});
  ASSERT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(reply.body["predictions"][0]["labels"].size(), 2u) << reply.raw;
  EXPECT_EQ(reply.body["predictions"][0]["labels"][0], expected[0]["predictions"][0]["label"]);

  // :rawPredict passes bodies through and names the deployed model in headers.
  reply = Post("/v1/" + endpoint + ":rawPredict",
               json{{"instances", {{{"string_input", {{"b64", boot}}}}}}}.dump());
  ASSERT_EQ(reply.status, 200) << reply.raw;
  EXPECT_FALSE(reply.body.contains("deployedModelId"));
  EXPECT_EQ(reply.body["predictions"][0]["label"], expected[0]["predictions"][0]["label"]);
  EXPECT_EQ(reply.headers.GetOr("X-Vertex-AI-Deployed-Model-Id", ""), id);
  EXPECT_EQ(reply.headers.GetOr("X-Vertex-AI-Endpoint-Id", ""),
            endpoint.substr(endpoint.rfind('/') + 1));

  // Replica status: one READY process with its memory.
  json status = Replicas(endpoint, id);
  EXPECT_EQ(status["readyReplicaCount"], 1);
  ASSERT_EQ(status["replicas"].size(), 1u);
  EXPECT_EQ(status["replicas"][0]["state"], "READY");
  EXPECT_GT(status["replicas"][0]["pid"].get<int>(), 0);
  EXPECT_GT(status["replicas"][0]["rssBytes"].get<int64_t>(), 1 << 20);
  auto all = server_->Call("GET", "/v1/" + endpoint + "/replicas");
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.body["deployedModels"].size(), 1u);
}

// A host whose CPU lacks AVX-512 BF16 and AMX refuses bf16 by name, never emulates it: made so
// here on any host by capping oneDNN's instruction set (DNNL_MAX_CPU_ISA), for the real binary.
TEST_F(DataPlanePredictE2E, Bf16IsRefusedByNameWhereTheCpuLacksIt) {
  const CliResult refused = RunCli({"classify", "--model", FashionVitDir().string(), "--precision",
                                    "bf16", FashionImage("0018-bag.png").string()},
                                   {"DNNL_MAX_CPU_ISA=AVX512_CORE"});
  EXPECT_NE(refused.exit_status, 0);
  EXPECT_NE(refused.err.find("precision bf16 needs a CPU with AVX-512 BF16 or AMX"),
            std::string::npos)
      << refused.err;
  EXPECT_TRUE(refused.out.empty()) << refused.out;
  // A precision that does not exist is named as such, with the ones that do.
  const CliResult unknown = RunCli({"classify", "--model", FashionVitDir().string(), "--precision",
                                    "int4", FashionImage("0018-bag.png").string()});
  EXPECT_NE(unknown.exit_status, 0);
  EXPECT_NE(unknown.err.find("precision \"int4\" is not one of fp32, bf16, int8"),
            std::string::npos)
      << unknown.err;
  // fp32 runs there as anywhere.
  const CliResult fp32 = RunCli(
      {"classify", "--model", FashionVitDir().string(), FashionImage("0018-bag.png").string()},
      {"DNNL_MAX_CPU_ISA=AVX512_CORE"});
  EXPECT_EQ(fp32.exit_status, 0) << fp32.err;
}

// deployedModel.tessera.precision "bf16": served in bf16 where the host runs it natively (the
// replica says so, its answers are `tessera classify --precision bf16`'s), refused by name at
// deploy where it does not. Which of the two this host is, the real binary says.
TEST_F(DataPlanePredictE2E, Bf16IsServedInBf16OrRefusedAtDeploy) {
  const fs::path image = FashionImage("0018-bag.png");
  const CliResult classify = RunCli(
      {"classify", "--model", FashionVitDir().string(), "--precision", "bf16", image.string()});
  const bool host_runs_bf16 = classify.exit_status == 0;
  if (!host_runs_bf16) {
    EXPECT_NE(classify.err.find("needs a CPU with AVX-512 BF16 or AMX"), std::string::npos)
        << classify.err;
  }
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  const ServeProcess::Reply done = DeployReply(endpoint, ReducedPrecision(model, "bf16"), nullptr);
  if (!host_runs_bf16) {
    EXPECT_EQ(done.status, 400) << done.raw;
    EXPECT_EQ(done.body["error"]["status"], "FAILED_PRECONDITION") << done.raw;
    EXPECT_NE(done.raw.find("does not run natively on this host"), std::string::npos) << done.raw;
    return;
  }
  ASSERT_TRUE(done.body.contains("response")) << done.raw << "\n" << server_->Log();
  const std::string id = done.body["response"]["deployedModel"]["id"];
  const auto got = server_->Call("GET", "/v1/" + endpoint);
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.body["deployedModels"][0]["tessera"]["precision"], "bf16") << got.raw;
  const json replica = Replicas(endpoint, id)["replicas"][0];
  EXPECT_EQ(replica["precision"], "bf16") << replica.dump();
  EXPECT_FALSE(replica["isa"].get<std::string>().empty()) << replica.dump();
  EXPECT_NE(replica["gemmKernel"].get<std::string>().find("bf16"), std::string::npos)
      << replica.dump();
  ExpectAnswersLikeClassify(endpoint, image, classify.out, 1e-5);
  // Its packed weights are a file of their own, named by the precision.
  EXPECT_TRUE(HasPackedFile("bf16"));
}

// deployedModel.tessera.precision "int8" (every host the engine supports runs it: AVX2 at least).
// At warm-up the replica checks itself against fp32 on the calibration images -- Tessera's
// compiled-in samples, as fashion-vit ships none -- and reports the figures in its status; its
// answers are `tessera classify --precision int8`'s; its packed weights are a file of their own.
TEST_F(DataPlanePredictE2E, Int8IsServedAfterItsCheckAgainstFp32) {
  const fs::path image = FashionImage("0018-bag.png");
  const CliResult classify = RunCli(
      {"classify", "--model", FashionVitDir().string(), "--precision", "int8", image.string()});
  ASSERT_EQ(classify.exit_status, 0) << classify.err;
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  const ServeProcess::Reply done = DeployReply(endpoint, ReducedPrecision(model, "int8"), nullptr);
  ASSERT_TRUE(done.body.contains("response")) << done.raw << "\n" << server_->Log();
  const std::string id = done.body["response"]["deployedModel"]["id"];
  const auto got = server_->Call("GET", "/v1/" + endpoint);
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.body["deployedModels"][0]["tessera"]["precision"], "int8") << got.raw;
  EXPECT_EQ(got.body["deployedModels"][0]["tessera"]["minPrecisionAgreement"], 0.9) << got.raw;
  const json replica = Replicas(endpoint, id)["replicas"][0];
  EXPECT_EQ(replica["precision"], "int8") << replica.dump();
  EXPECT_FALSE(replica["gemmKernel"].get<std::string>().empty()) << replica.dump();
  // The engine's choice for int8 on this host (vit_model.h): bf16 attention on AMX tiles, else
  // oneDNN's separate fp32 matmuls.
  const std::string attention =
      engine::kernels::AmxBf16Available() ? "fused(amx bf16)" : "separate(";
  EXPECT_EQ(replica["attentionKernel"].get<std::string>().rfind(attention, 0), 0) << replica.dump();
  const json& agreement = replica["precisionAgreement"];
  ASSERT_TRUE(agreement.is_object()) << replica.dump();
  EXPECT_EQ(agreement["source"], "Tessera's sample images") << replica.dump();
  EXPECT_GE(agreement["images"].get<int>(), 12) << replica.dump();
  EXPECT_GE(agreement["fraction"].get<double>(), 0.9) << replica.dump();
  EXPECT_NE(server_->Log().find("precision check: int8 agrees with fp32"), std::string::npos);

  // One engine thread here, all CPUs in classify: the fp32 parts may round differently, which
  // moves a quantization step now and then.
  ExpectAnswersLikeClassify(endpoint, image, classify.out, 2e-3);
  EXPECT_TRUE(HasPackedFile("int8"));
}

// A model that ships calibration images is checked on them; one that does not decode fails the
// deploy with its name: the replica's refusal is the deploy operation's error, as a floor above
// the measured agreement is (the floor's verdict and message: precision_agreement_test).
TEST_F(DataPlanePredictE2E, Int8ChecksTheArtifactsCalibrationImages) {
  const fs::path artifact = tmp_.path() / "fashion-with-calibration";
  fs::create_directories(artifact / "calibration");
  for (const char* file : {"config.json", "preprocessor_config.json", "model.safetensors"}) {
    fs::copy_file(FashionVitDir() / file, artifact / file);
  }
  fs::copy_file(FashionImage("0002-trouser.png"), artifact / "calibration" / "a-trouser.png");
  fs::copy_file(FashionImage("0012-sneaker.png"), artifact / "calibration" / "b-sneaker.png");
  std::ofstream(artifact / "calibration" / "c-notes.txt") << "not an image";
  StartServer();
  auto upload = [&](const std::string& name) {
    const json body = {{"model",
                        {{"displayName", name},
                         {"artifactUri", artifact.string()},
                         {"containerSpec", {{"imageUri", "tessera/vit"}}}}}};
    auto up = server_->Call("POST", std::string(kDataPlaneLoc) + "/models:upload", body);
    EXPECT_EQ(up.status, 200) << up.raw;
    auto op = server_->PollOperation(up.body.value("name", ""));
    EXPECT_TRUE(op.body.contains("response")) << op.raw;
    return op.body["response"].value("model", "");
  };
  const std::string endpoint = CreateEndpoint();
  auto deploy = [&](const std::string& model, double floor) {
    return DeployReply(
        endpoint, ReducedPrecision(model, "int8", {{"minPrecisionAgreement", floor}}), nullptr);
  };
  const ServeProcess::Reply broken = deploy(upload("broken-calibration"), 0.5);
  ASSERT_TRUE(broken.body.contains("error")) << broken.raw;
  EXPECT_NE(broken.raw.find("calibration image c-notes.txt"), std::string::npos) << broken.raw;

  fs::remove(artifact / "calibration" / "c-notes.txt");
  const ServeProcess::Reply checked = deploy(upload("calibrated"), 0.5);
  ASSERT_TRUE(checked.body.contains("response")) << checked.raw << "\n" << server_->Log();
  const std::string id = checked.body["response"]["deployedModel"]["id"];
  const json agreement = Replicas(endpoint, id)["replicas"][0]["precisionAgreement"];
  EXPECT_EQ(agreement["source"], "the model's calibration/ folder") << agreement.dump();
  EXPECT_EQ(agreement["images"], 2) << agreement.dump();

  // A floor outside [0, 1] is refused at the request, by name.
  const ServeProcess::Reply out_of_range = deploy(upload("calibrated"), 1.5);
  EXPECT_EQ(out_of_range.status, 400) << out_of_range.raw;
  EXPECT_NE(out_of_range.raw.find("deployedModel.tessera.minPrecisionAgreement must be in [0, 1]"),
            std::string::npos)
      << out_of_range.raw;
}

TEST_F(DataPlanePredictE2E, BadInputsAre400AndTheReplicaKeepsServing) {
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  const std::string empty_endpoint = CreateEndpoint("empty");

  // No deployed model yet: FAILED_PRECONDITION, as Vertex.
  PredictReply reply = Predict(endpoint, PredictBody({FashionImage("0001-pullover.png")}));
  EXPECT_EQ(reply.status, 400) << reply.raw;
  EXPECT_EQ(reply.body["error"]["status"], "FAILED_PRECONDITION") << reply.raw;
  const std::string id = Deploy(endpoint, model, 1, 1);
  ASSERT_FALSE(id.empty());
  const int pid = Replicas(endpoint, id)["replicas"][0]["pid"];

  const std::string good = Base64Encode(ReadBytes(FashionImage("0001-pullover.png")));
  json many = json::array();
  for (int i = 0; i < 65; ++i) many.push_back({{"string_input", {{"b64", good}}}});
  struct Case {
    std::string name;
    std::string body;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"not json", "{not json", "JSON"},
      {"no instances", json{{"foo", 1}}.dump(), "instances"},
      {"instances not a list", json{{"instances", 3}}.dump(), "instances"},
      {"empty instances", json{{"instances", json::array()}}.dump(), "instances"},
      {"not base64", json{{"instances", {{{"string_input", {{"b64", "!!not base64!!"}}}}}}}.dump(),
       "base64"},
      {"not an image",
       json{{"instances", {{{"string_input", {{"b64", Base64Encode("hello, not an image")}}}}}}}
           .dump(),
       "instance 0"},
      {"huge dimensions",
       json{{"instances", {{{"string_input", {{"b64", Base64Encode(HugePngHeader())}}}}}}}.dump(),
       "instance 0"},
      {"wrong key", json{{"instances", {{{"image_bytes", {{"b64", good}}}}}}}.dump(), "instance 0"},
      {"second instance bad",
       json{{"instances",
             {{{"string_input", {{"b64", good}}}}, {{"string_input", {{"b64", "%%%"}}}}}}}
           .dump(),
       "instance 1"},
      {"too many instances", json{{"instances", many}}.dump(), "64"},
  };
  for (const Case& c : cases) {
    reply = Post("/v1/" + endpoint + ":predict", c.body);
    EXPECT_EQ(reply.status, 400) << c.name << ": " << reply.raw;
    EXPECT_EQ(reply.body["error"]["status"], "INVALID_ARGUMENT") << c.name << ": " << reply.raw;
    EXPECT_NE(reply.body["error"]["message"].get<std::string>().find(c.message_part),
              std::string::npos)
        << c.name << ": " << reply.raw;
    // ...and the replica still serves, the same process.
    PredictReply ok = Predict(endpoint, PredictBody({FashionImage("0001-pullover.png")}));
    EXPECT_EQ(ok.status, 200) << c.name << ": " << ok.raw;
  }
  EXPECT_EQ(Replicas(endpoint, id)["replicas"][0]["pid"], pid);

  // Routing errors.
  reply = Predict(empty_endpoint, PredictBody({FashionImage("0001-pullover.png")}));
  EXPECT_EQ(reply.status, 400) << reply.raw;
  EXPECT_EQ(reply.body["error"]["status"], "FAILED_PRECONDITION");
  reply = Predict(std::string(kDataPlaneLoc).substr(4) + "/endpoints/424242",
                  PredictBody({FashionImage("0001-pullover.png")}));
  EXPECT_EQ(reply.status, 404) << reply.raw;
  reply = Predict(endpoint, PredictBody({FashionImage("0001-pullover.png")}),
                  {{"X-Vertex-AI-Deployed-Model-Id", "999999"}});
  EXPECT_EQ(reply.status, 400) << reply.raw;
  EXPECT_NE(reply.raw.find("999999"), std::string::npos);
}

TEST_F(DataPlanePredictE2E, TrafficSplitNinetyTenAndPinning) {
  StartServer();
  const std::string v1 = Upload("fashion");
  const std::string v2 = Upload("fashion", v1.substr(0, v1.find('@')));
  ASSERT_NE(v1, v2);
  const std::string endpoint = CreateEndpoint();
  const std::string id1 = Deploy(endpoint, v1, 1, 1);
  const std::string id2 = Deploy(endpoint, v2, 1, 1, json{{id1, 90}, {"0", 10}});
  ASSERT_FALSE(id1.empty());
  ASSERT_FALSE(id2.empty());
  auto ep = server_->Call("GET", "/v1/" + endpoint);
  EXPECT_EQ(ep.body["trafficSplit"][id1], 90) << ep.raw;
  EXPECT_EQ(ep.body["trafficSplit"][id2], 10) << ep.raw;

  // 1000 requests from 8 clients.
  const json body = PredictBody({FashionImage("0002-trouser.png")});
  constexpr int kRequests = 1000;
  std::atomic<int> next{0};
  std::mutex mu;
  std::map<std::string, int> counts;
  std::map<std::string, std::string> versions;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      while (next.fetch_add(1) < kRequests) {
        PredictReply r = Predict(endpoint, body);
        std::lock_guard<std::mutex> lock(mu);
        if (r.status != 200) {
          failures.push_back(r.raw + r.error);
          continue;
        }
        ++counts[r.body["deployedModelId"]];
        versions[r.body["deployedModelId"]] = r.body["modelVersionId"];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures[0];
  EXPECT_EQ(counts[id1] + counts[id2], kRequests);
  // Binomial(1000, 0.1): mean 100, sd 9.5; +-4 sd keeps a false alarm below 1e-4.
  EXPECT_NEAR(counts[id2], 100, 38) << counts[id1] << " / " << counts[id2];
  EXPECT_EQ(versions[id1], "1");
  EXPECT_EQ(versions[id2], "2");

  // Pinning: by header, and by parameters.deployedModelId (removed before the replica sees it).
  for (int i = 0; i < 20; ++i) {
    PredictReply r = Predict(endpoint, body, {{"X-Vertex-AI-Deployed-Model-Id", id2}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["deployedModelId"], id2);
  }
  json pinned = body;
  pinned["parameters"] = {{"deployedModelId", id1}};
  for (int i = 0; i < 20; ++i) {
    PredictReply r = Predict(endpoint, pinned);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["deployedModelId"], id1);
  }
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

// Replicas of one model version share one copy of the prepacked weights: the first packs and
// writes DATA_DIR/packed/<artifact digest>-t<threads>-<precision>.packed, every replica maps it,
// and the file goes with the last deployment that uses it.
TEST_F(DataPlanePredictE2E, ReplicasShareThePackedWeights) {
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  const std::string id = Deploy(endpoint, model, 2, 2);
  ASSERT_FALSE(id.empty());
  const json status = Replicas(endpoint, id);
  ASSERT_EQ(status["replicas"].size(), 2u) << status.dump();
  for (const json& replica : status["replicas"]) {
    EXPECT_EQ(replica["state"], "READY") << replica.dump();
    EXPECT_GT(replica["sharedWeightBytes"].get<int64_t>(), 0) << replica.dump();
    EXPECT_LE(replica["sharedWeightBytes"].get<int64_t>(), replica["weightBytes"].get<int64_t>());
    EXPECT_GT(replica["pssBytes"].get<int64_t>(), 0) << replica.dump();
    EXPECT_LE(replica["pssBytes"].get<int64_t>(), replica["rssBytes"].get<int64_t>());
  }
  EXPECT_EQ(status["replicas"][0]["sharedWeightBytes"], status["replicas"][1]["sharedWeightBytes"]);
  const fs::path packed_dir = tmp_.path() / "data" / "packed";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(packed_dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
    if (entry.path().extension() == ".packed") files.push_back(entry.path());
  }
  ASSERT_EQ(files.size(), 1u) << "one file for both replicas";

  // Both replicas answer, with the engine's answer.
  for (int i = 0; i < 4; ++i) {
    PredictReply reply = Predict(endpoint, PredictBody({FashionImage("0018-bag.png")}));
    ASSERT_EQ(reply.status, 200) << reply.raw;
    EXPECT_EQ(reply.body["predictions"][0]["label"], "Bag");
  }

  // The replicas' own counters reach the API (refreshed with the health checks, ~1 s): the four
  // requests, each a batch of one.
  int64_t requests = 0, batches_of_one = 0;
  for (int i = 0; i < 50 && requests < 4; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    requests = batches_of_one = 0;
    const json now = Replicas(endpoint, id);
    for (const json& replica : now["replicas"]) {
      requests += replica["requests"].get<int64_t>();
      batches_of_one += replica["batchSizeHistogram"].value("1", int64_t{0});
    }
  }
  EXPECT_EQ(requests, 4);
  EXPECT_EQ(batches_of_one, 4);  // sequential requests: batches of one (warm-up is not counted)

  const ServeProcess::Reply undeployed = Undeploy(endpoint, id, json::object());
  ASSERT_EQ(undeployed.status, 200) << undeployed.raw;
  ASSERT_FALSE(undeployed.body.contains("error")) << undeployed.raw;
  // The supervisor forgets the deployment on its next pass after the replicas are gone.
  for (int i = 0; i < 100 && fs::exists(files[0]); ++i) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(fs::exists(files[0])) << "removed with the last deployment using it";
}

}  // namespace
}  // namespace tessera::testing
