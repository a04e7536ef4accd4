#include "engine/vit/config.h"

#include <unistd.h>

#include <fstream>
#include <functional>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tessera::engine {
namespace {

nlohmann::json ValidConfig() {
  return nlohmann::json::parse(R"({
    "architectures": ["ViTForImageClassification"], "model_type": "vit",
    "hidden_size": 96, "num_hidden_layers": 4, "num_attention_heads": 3,
    "intermediate_size": 384, "image_size": 32, "patch_size": 4, "num_channels": 3,
    "layer_norm_eps": 1e-12, "qkv_bias": true, "hidden_act": "gelu",
    "id2label": {"0": "cat", "2": "bird", "1": "dog"}})");
}

TEST(ViTConfigTest, ParsesEveryField) {
  auto config = ParseViTConfig(ValidConfig(), "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, VitArchitecture::kViT);
  EXPECT_EQ(config->model_type, "vit");
  EXPECT_EQ(config->hidden_size, 96);
  EXPECT_EQ(config->num_hidden_layers, 4);
  EXPECT_EQ(config->num_attention_heads, 3);
  EXPECT_EQ(config->head_dim(), 32);
  EXPECT_EQ(config->intermediate_size, 384);
  EXPECT_EQ(config->image_height, 32);
  EXPECT_EQ(config->image_width, 32);
  EXPECT_EQ(config->num_patches(), 64);
  EXPECT_EQ(config->num_tokens(), 65);
  EXPECT_FLOAT_EQ(config->layer_norm_eps, 1e-12f);
  EXPECT_TRUE(config->qkv_bias);
  EXPECT_EQ(config->hidden_act, Activation::kGeluErf);
  EXPECT_EQ(config->labels, (std::vector<std::string>{"cat", "dog", "bird"}));
  EXPECT_EQ(config->pixels_per_image(), 3 * 32 * 32);
}

TEST(ViTConfigTest, DeiTHasTwoPrefixTokens) {
  auto json = ValidConfig();
  json["architectures"] = {"DeiTForImageClassificationWithTeacher"};
  auto config = ParseViTConfig(json, "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, VitArchitecture::kDeiTWithTeacher);
  EXPECT_EQ(config->num_tokens(), 66);
  json["architectures"] = {"DeiTForImageClassification"};
  EXPECT_EQ(ParseViTConfig(json, "c")->architecture, VitArchitecture::kDeiT);
}

TEST(ViTConfigTest, NonSquareSizesAndPartialPatches) {
  auto json = ValidConfig();
  json["image_size"] = {48, 30};
  json["patch_size"] = {8, 16};
  auto config = ParseViTConfig(json, "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->image_height, 48);
  EXPECT_EQ(config->image_width, 30);
  EXPECT_EQ(config->patches_per_column(), 6);
  EXPECT_EQ(config->patches_per_row(), 1);  // the convolution drops the partial patch
}

TEST(ViTConfigTest, LabelsFallBack) {
  auto json = ValidConfig();
  json.erase("id2label");
  json["num_labels"] = 3;
  auto config = ParseViTConfig(json, "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->labels, (std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2"}));
}

TEST(ViTConfigTest, Activations) {
  auto json = ValidConfig();
  for (auto [name, activation] :
       {std::pair{"gelu_new", Activation::kGeluTanh},
        std::pair{"gelu_pytorch_tanh", Activation::kGeluTanh}, std::pair{"relu", Activation::kRelu},
        std::pair{"silu", Activation::kSilu}}) {
    json["hidden_act"] = name;
    auto config = ParseViTConfig(json, "config.json");
    ASSERT_TRUE(config.ok()) << name;
    EXPECT_EQ(config->hidden_act, activation) << name;
  }
}

// Each broken config: the error names the file and says what is wrong.
struct BadConfig {
  const char* what;
  std::function<void(nlohmann::json&)> edit;
  const char* expected_message;
};

TEST(ViTConfigTest, RefusesBadConfigsClearly) {
  const std::vector<BadConfig> cases = {
      {"unknown architecture", [](auto& j) { j["architectures"] = {"BertForMaskedLM"}; },
       "unsupported architecture \"BertForMaskedLM\""},
      {"no architecture", [](auto& j) { j.erase("architectures"); }, "missing \"architectures\""},
      {"heads do not divide", [](auto& j) { j["num_attention_heads"] = 5; },
       "not divisible by \"num_attention_heads\" 5"},
      {"missing hidden size", [](auto& j) { j.erase("hidden_size"); }, "missing \"hidden_size\""},
      {"string layers", [](auto& j) { j["num_hidden_layers"] = "4"; }, "must be an integer"},
      {"zero layers", [](auto& j) { j["num_hidden_layers"] = 0; }, "out of range"},
      {"negative image", [](auto& j) { j["image_size"] = -32; }, "out of range"},
      {"patch larger than image", [](auto& j) { j["patch_size"] = 64; }, "larger than"},
      {"bad image list",
       [](auto& j) {
         j["image_size"] = {1, 2, 3};
       },
       "[height, width]"},
      {"unknown activation", [](auto& j) { j["hidden_act"] = "mish"; },
       "unsupported \"hidden_act\" \"mish\""},
      {"bad eps", [](auto& j) { j["layer_norm_eps"] = -1; }, "layer_norm_eps"},
      {"bad qkv_bias", [](auto& j) { j["qkv_bias"] = "yes"; }, "qkv_bias"},
      {"label index out of range",
       [](auto& j) {
         j["id2label"] = {{"0", "a"}, {"5", "b"}};
       },
       "key \"5\" is not an index"},
      {"label key not a number",
       [](auto& j) {
         j["id2label"] = {{"x", "a"}};
       },
       "key \"x\" is not an index"},
      {"empty labels", [](auto& j) { j["id2label"] = nlohmann::json::object(); }, "empty"},
      {"too many tokens",
       [](auto& j) {
         j["image_size"] = 8192;
         j["patch_size"] = 1;
       },
       "tokens"},
      {"not an object", [](auto& j) { j = nlohmann::json::array(); }, "JSON object"},
  };
  for (const auto& c : cases) {
    auto json = ValidConfig();
    c.edit(json);
    auto config = ParseViTConfig(json, "/models/m/config.json");
    ASSERT_FALSE(config.ok()) << c.what;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(config.status().message().find("/models/m/config.json"), std::string::npos)
        << c.what << ": " << config.status();
    EXPECT_NE(config.status().message().find(c.expected_message), std::string::npos)
        << c.what << ": " << config.status();
  }
}

TEST(ViTConfigTest, LoadReportsMissingAndInvalidFiles) {
  auto missing = LoadViTConfig("/nonexistent/config.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/config.json"), std::string::npos);
  std::filesystem::path path = std::filesystem::path(::testing::TempDir()) /
                               ("bad-config-" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(path);
    out << "{\"hidden_size\": 3,";  // truncated JSON
  }
  auto invalid = LoadViTConfig(path);
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(invalid.status().message().find("not valid JSON"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tessera::engine
