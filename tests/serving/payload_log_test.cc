// The payload logger on its own: what a line holds, the queue bound, rotation with one file,
// a body that is not JSON, folders per endpoint, and removal of a deleted endpoint's folder.
#include "serving/predict/payload_log.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tessera::serving {
namespace {

namespace fs = std::filesystem;

class PayloadLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("payload_log_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    counter_ = *registry_.AddCounter("records_total", "R.", {"result"});
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<nlohmann::json> Lines(const PayloadLogger& logger, const std::string& endpoint,
                                    const std::string& file = "requests.jsonl") {
    std::ifstream in(logger.EndpointDir(endpoint) / file);
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  fs::path dir_;
  metrics::MetricsRegistry registry_;
  metrics::CounterFamily* counter_ = nullptr;
};

PayloadRecord Record(const std::string& endpoint, const std::string& body) {
  return PayloadRecord{.endpoint = endpoint,
                       .deployed_model_id = "7",
                       .request_id = "r-1",
                       .time = absl::FromUnixSeconds(1800000000),
                       .status = 200,
                       .request_body = body,
                       .response_body = R"({"predictions":[{"label":"cat"}]})"};
}

TEST_F(PayloadLogTest, ImagesAreReplacedByTheDigestOfTheirBytes) {
  auto logger = *PayloadLogger::Create({.dir = dir_, .counter = counter_});
  // "aGVsbG8=" is "hello"; a nested one and one with whitespace inside its base64 too.
  logger->Log(
      Record("projects/p/locations/l/endpoints/e",
             R"({"instances":[{"string_input":{"b64":"aGVsbG8="}},{"b64":"aGVs\nbG8="}]})"));
  logger->Log(Record("projects/p/locations/l/endpoints/e", "not json {"));
  logger->Flush();
  const auto lines = Lines(*logger, "projects/p/locations/l/endpoints/e");
  ASSERT_EQ(lines.size(), 2u);
  const std::string hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
  EXPECT_EQ(lines[0]["request"]["instances"][0]["string_input"]["b64"]["sha256"], hello);
  EXPECT_EQ(lines[0]["request"]["instances"][0]["string_input"]["b64"]["bytes"], 5);
  EXPECT_EQ(lines[0]["request"]["instances"][1]["b64"]["sha256"], hello);
  EXPECT_EQ(lines[0]["response"]["predictions"][0]["label"], "cat");
  EXPECT_EQ(lines[0]["loggingTime"], "2027-01-15T08:00:00.000000Z");
  EXPECT_EQ(lines[0]["deployedModelId"], "7");
  EXPECT_EQ(lines[1]["request"]["bytes"], 10);  // not JSON: its digest only
  EXPECT_EQ(counter_->With({"written"})->value(), 2);
}

TEST_F(PayloadLogTest, OneFileRotatesIntoNothingAndTheQueueIsBounded) {
  auto logger = *PayloadLogger::Create(
      {.dir = dir_, .max_file_bytes = 300, .max_files = 1, .counter = counter_});
  const std::string endpoint = "projects/p/locations/l/endpoints/e";
  for (int i = 0; i < 5; ++i) logger->Log(Record(endpoint, R"({"instances":[]})"));
  logger->Flush();
  EXPECT_EQ(Lines(*logger, endpoint).size(), 1u);  // each line replaced the file before it
  EXPECT_FALSE(fs::exists(logger->EndpointDir(endpoint) / "requests.jsonl.1"));

  auto small =
      *PayloadLogger::Create({.dir = dir_ / "small", .max_queued_bytes = 100, .counter = counter_});
  small->Log(Record(endpoint, std::string(200, 'x')));  // larger than the whole queue
  small->Flush();
  EXPECT_EQ(counter_->With({"dropped"})->value(), 1);
}

TEST_F(PayloadLogTest, EndpointsGetFoldersOfTheirOwnAndDeletedOnesAreRemoved) {
  auto logger = *PayloadLogger::Create({.dir = dir_});
  const std::string a = "projects/a.b/locations/l/endpoints/e";
  const std::string b = "projects/a_b/locations/l/endpoints/e";  // reads alike once made safe
  EXPECT_NE(logger->EndpointDir(a), logger->EndpointDir(b));
  EXPECT_EQ(logger->EndpointDir(a).parent_path(), dir_);
  EXPECT_EQ(logger->EndpointDir("../../etc").parent_path(), dir_);
  logger->Log(Record(a, "{}"));
  logger->Log(Record(b, "{}"));
  logger->Flush();
  logger->RetainEndpoints({b});
  EXPECT_FALSE(fs::exists(logger->EndpointDir(a)));
  EXPECT_EQ(Lines(*logger, b).size(), 1u);
}

TEST(SampledByRequestIdTest, IsDeterministicAndNearTheRate) {
  int sampled = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = "req-" + std::to_string(i);
    EXPECT_EQ(SampledByRequestId(id, 0.25), SampledByRequestId(id, 0.25));
    sampled += SampledByRequestId(id, 0.25) ? 1 : 0;
  }
  EXPECT_NEAR(sampled, 2500, 200);
  EXPECT_FALSE(SampledByRequestId("x", 0));
  EXPECT_TRUE(SampledByRequestId("x", 1));
  EXPECT_FALSE(SampledByRequestId("x", std::numeric_limits<double>::quiet_NaN()));
}

}  // namespace
}  // namespace tessera::serving
