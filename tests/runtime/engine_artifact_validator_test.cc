// The engine-backed upload check (src/cli/engine_artifact_validator.h) on the vendored
// fashion-vit checkpoint and broken copies of it: each refusal is INVALID_ARGUMENT naming the
// file relative to the artifact.
#include "cli/engine_artifact_validator.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/test_paths.h"

namespace tessera::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class EngineArtifactValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tessera-validator-XXXXXX";
    root_ = ::mkdtemp(pattern);
    dir_ = root_ / "artifact";
    std::filesystem::copy(testing::VendoredDataDir() / "models" / "fashion-vit", dir_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void EditJson(const std::string& file, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(std::ifstream(dir_ / file));
    edit(j);
    std::ofstream(dir_ / file) << j.dump(2);
  }

  // Validates and returns the refusal message (failing the test if it was accepted or not
  // INVALID_ARGUMENT, or if it leaks the store's path).
  std::string Refusal() {
    absl::Status status = validator_.Validate(dir_);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    const std::string message(status.message());
    EXPECT_THAT(message, HasSubstr("the artifact is not a servable ViT checkpoint: "));
    EXPECT_THAT(message, Not(HasSubstr(root_.string())));
    return message;
  }

  std::filesystem::path root_;
  std::filesystem::path dir_;
  EngineArtifactValidator validator_;
};

TEST_F(EngineArtifactValidatorTest, AcceptsARealCheckpoint) {
  EXPECT_TRUE(validator_.Validate(dir_).ok()) << validator_.Validate(dir_);
}

TEST_F(EngineArtifactValidatorTest, MissingFiles) {
  std::filesystem::remove(dir_ / "model.safetensors");
  EXPECT_THAT(Refusal(), HasSubstr("model.safetensors"));
  std::filesystem::remove(dir_ / "config.json");
  EXPECT_THAT(Refusal(), HasSubstr("config.json"));
}

TEST_F(EngineArtifactValidatorTest, MissingPreprocessorConfig) {
  std::filesystem::remove(dir_ / "preprocessor_config.json");
  EXPECT_THAT(Refusal(), HasSubstr("preprocessor_config.json"));
}

TEST_F(EngineArtifactValidatorTest, CorruptSafetensorsHeader) {
  std::ofstream(dir_ / "model.safetensors", std::ios::binary | std::ios::trunc)
      << std::string("\xff\xff\xff\xff\x00\x00\x00\x00{}", 10);
  EXPECT_THAT(Refusal(), HasSubstr("model.safetensors"));
}

TEST_F(EngineArtifactValidatorTest, WeightsDisagreeWithConfig) {
  EditJson("config.json", [](nlohmann::json& j) { j["hidden_size"] = 192; });
  EXPECT_THAT(Refusal(), HasSubstr("model.safetensors"));
}

TEST_F(EngineArtifactValidatorTest, PreprocessorSizeDisagreesWithModel) {
  EditJson("preprocessor_config.json", [](nlohmann::json& j) {
    j["size"] = {{"height", 64}, {"width", 64}};
  });
  EXPECT_THAT(Refusal(), HasSubstr("64x64"));
}

TEST_F(EngineArtifactValidatorTest, ConfigIsNotJson) {
  std::ofstream(dir_ / "config.json", std::ios::trunc) << "{ not json";
  EXPECT_THAT(Refusal(), HasSubstr("config.json"));
}

// While an archive arrives: undecided until both configs are whole and the safetensors header is
// on disk; then the same verdict as Validate, on a weights file whose bulk is still zeros.
TEST_F(EngineArtifactValidatorTest, DecidesEarlyOnceTheConfigsAndTheWeightsHeaderHaveArrived) {
  const auto weights = dir_ / "model.safetensors";
  const auto size = static_cast<int64_t>(std::filesystem::file_size(weights));
  std::string head(8, '\0');
  std::ifstream(weights, std::ios::binary).read(head.data(), 8);
  int64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | uint8_t(head[i]);
  {  // the bulk not yet written: zeros after the header, as the presized file holds them
    std::string bytes(static_cast<size_t>(size), '\0');
    std::ifstream(weights, std::ios::binary).read(bytes.data(), 8 + header_bytes);
    std::ofstream(weights, std::ios::binary | std::ios::trunc) << bytes;
  }
  registry::ArrivingFiles files = {{"config.json", {.bytes_written = 10, .complete = false}}};
  EXPECT_FALSE(validator_.ValidateEarly(dir_, files).has_value());
  files["config.json"].complete = true;
  files["preprocessor_config.json"] = {.bytes_written = 100, .complete = true};
  EXPECT_FALSE(validator_.ValidateEarly(dir_, files).has_value()) << "no weights yet";
  files["model.safetensors"] = {.bytes_written = 4, .complete = false};
  EXPECT_FALSE(validator_.ValidateEarly(dir_, files).has_value()) << "not even the length";
  files["model.safetensors"].bytes_written = 8 + header_bytes - 1;
  EXPECT_FALSE(validator_.ValidateEarly(dir_, files).has_value()) << "header incomplete";
  files["model.safetensors"].bytes_written = 8 + header_bytes;
  std::optional<absl::Status> verdict = validator_.ValidateEarly(dir_, files);
  ASSERT_TRUE(verdict.has_value());
  EXPECT_TRUE(verdict->ok()) << *verdict;

  // The same point with a config the weights disagree with: refused, as Validate would.
  EditJson("config.json", [](nlohmann::json& j) { j["hidden_size"] = 192; });
  verdict = validator_.ValidateEarly(dir_, files);
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(verdict->code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(verdict->message()), HasSubstr("model.safetensors"));
}

}  // namespace
}  // namespace tessera::cli
