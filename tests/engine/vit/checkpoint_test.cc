// A checkpoint folder that disagrees with itself -> a clear error from both the cheap validator
// (ValidateCheckpointDir: config + safetensors header) and the loader (VitModel::Load), naming
// the file and tensor; never a crash. Each case mutates a copy of a valid fixture checkpoint.
#include "engine/vit/checkpoint.h"

#include <fstream>
#include <functional>

#include "engine/vit/safetensors_writer.h"
#include "engine/vit/vit_fixtures.h"
#include "engine/vit/vit_model.h"
#include "gtest/gtest.h"

namespace tessera::engine {
namespace {

using testing::RawTensor;

struct BadCheckpoint {
  const char* what;
  const char* base;  // fixture model to start from
  std::function<void(const std::filesystem::path& dir)> mutate;
  absl::StatusCode code;
  std::vector<std::string> expected;  // substrings of the message
};

void EditConfig(const std::filesystem::path& dir, const std::function<void(nlohmann::json&)>& f) {
  auto json = testing::ReadJson(dir / "config.json");
  f(json);
  testing::WriteJson(dir / "config.json", json);
}

void EditTensors(const std::filesystem::path& dir,
                 const std::function<void(std::vector<RawTensor>&)>& f) {
  auto tensors = testing::ReadAllTensors(dir / "model.safetensors");
  f(tensors);
  testing::WriteSafetensors(dir / "model.safetensors", tensors);
}

RawTensor* Find(std::vector<RawTensor>& tensors, const std::string& name) {
  for (auto& t : tensors) {
    if (t.name == name) return &t;
  }
  ADD_FAILURE() << "no tensor " << name;
  static RawTensor dummy;
  return &dummy;
}

const std::string kQuery = "vit.encoder.layer.1.attention.attention.query.weight";

std::vector<BadCheckpoint> Cases() {
  using Code = absl::StatusCode;
  return {
      {"missing config.json",
       "vit-odd-heads",
       [](auto& d) { std::filesystem::remove(d / "config.json"); },
       Code::kNotFound,
       {"config.json", "cannot open"}},
      {"missing model.safetensors",
       "vit-odd-heads",
       [](auto& d) { std::filesystem::remove(d / "model.safetensors"); },
       Code::kNotFound,
       {"model.safetensors", "cannot open"}},
      {"unknown architecture",
       "vit-odd-heads",
       [](auto& d) {
         EditConfig(d, [](auto& j) { j["architectures"] = {"SwinForImageClassification"}; });
       },
       Code::kInvalidArgument,
       {"config.json", "unsupported architecture \"SwinForImageClassification\""}},
      {"config hidden size disagrees",
       "vit-odd-heads",
       [](auto& d) { EditConfig(d, [](auto& j) { j["hidden_size"] = 96; }); },
       Code::kInvalidArgument,
       {"model.safetensors", "has shape [1, 1, 48] but", "config.json implies [1, 1, 96]",
        "hidden_size 96"}},
      {"config image size disagrees",
       "vit-odd-heads",
       [](auto& d) { EditConfig(d, [](auto& j) { j["image_size"] = 48; }); },
       Code::kInvalidArgument,
       {"vit.embeddings.position_embeddings", "[1, 26, 48]", "[1, 37, 48]", "image_size 48x48"}},
      {"config has fewer layers",
       "vit-odd-heads",
       [](auto& d) { EditConfig(d, [](auto& j) { j["num_hidden_layers"] = 1; }); },
       Code::kInvalidArgument,
       {"vit.encoder.layer.1.", "beyond num_hidden_layers 1"}},
      {"config has more layers",
       "vit-odd-heads",
       [](auto& d) { EditConfig(d, [](auto& j) { j["num_hidden_layers"] = 3; }); },
       Code::kInvalidArgument,
       {"missing tensor \"vit.encoder.layer.2.attention.attention.query.weight\""}},
      {"config has fewer labels",
       "vit-odd-heads",
       [](auto& d) { EditConfig(d, [](auto& j) {
                       j["id2label"] = {{"0", "a"}, {"1", "b"}};
                     }); },
       Code::kInvalidArgument,
       {"classifier.weight", "[7, 48]", "[2, 48]", "2 labels in id2label"}},
      {"config says qkv_bias true, the weights have no Q/K/V bias",
       "vit-p32-noqkvbias-tanh",
       [](auto& d) { EditConfig(d, [](auto& j) { j["qkv_bias"] = true; }); },
       Code::kInvalidArgument,
       {"missing tensor \"vit.encoder.layer.0.attention.attention.query.bias\""}},
      {"ViT config over DeiT weights",
       "deit-plain",
       [](auto& d) {
         EditConfig(d, [](auto& j) { j["architectures"] = {"ViTForImageClassification"}; });
       },
       Code::kInvalidArgument,
       {"missing tensor \"vit.embeddings.cls_token\"", "\"deit.*\"", "architectures"}},
      {"teacher config over plain DeiT weights",
       "deit-plain",
       [](auto& d) {
         EditConfig(
             d, [](auto& j) { j["architectures"] = {"DeiTForImageClassificationWithTeacher"}; });
       },
       Code::kInvalidArgument,
       {"missing tensor \"cls_classifier.weight\""}},
      {"missing tensor",
       "vit-odd-heads",
       [](auto& d) {
         EditTensors(d, [](auto& t) {
           std::erase_if(t, [](const RawTensor& r) { return r.name == kQuery; });
         });
       },
       Code::kInvalidArgument,
       {"model.safetensors", "missing tensor \"" + kQuery + "\""}},
      {"missing classifier",
       "vit-odd-heads",
       [](auto& d) {
         EditTensors(d, [](auto& t) {
           std::erase_if(t, [](const RawTensor& r) { return r.name.rfind("classifier", 0) == 0; });
         });
       },
       Code::kInvalidArgument,
       {"missing tensor \"classifier.", "classification head"}},
      {"wrong shape",
       "vit-odd-heads",
       [](auto& d) { EditTensors(d, [](auto& t) {
                       Find(t, kQuery)->shape = {24, 96};
                     }); },
       Code::kInvalidArgument,
       {kQuery, "has shape [24, 96] but", "implies [48, 48]"}},
      {"wrong dtype",
       "vit-odd-heads",
       [](auto& d) {
         EditTensors(d, [](auto& t) {
           RawTensor* q = Find(t, kQuery);
           q->dtype = "I32";  // same byte size, so the header stays consistent
         });
       },
       Code::kInvalidArgument,
       {kQuery, "has dtype I32", "F32, F16 and BF16"}},
      {"F64 weights",
       "vit-odd-heads",
       [](auto& d) {
         EditTensors(d, [](auto& t) {
           RawTensor* q = Find(t, "classifier.bias");
           q->dtype = "F64";
           q->bytes.resize(q->bytes.size() * 2);
         });
       },
       Code::kInvalidArgument,
       {"classifier.bias", "has dtype F64"}},
      {"truncated weights",
       "vit-odd-heads",
       [](auto& d) {
         auto path = d / "model.safetensors";
         std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
       },
       Code::kInvalidArgument,
       {"model.safetensors", "reach past the end"}},
      {"corrupt header JSON",
       "vit-odd-heads",
       [](auto& d) { testing::WriteRawSafetensors(d / "model.safetensors", "{\"a\": [", {}); },
       Code::kInvalidArgument,
       {"model.safetensors", "not valid JSON"}},
      {"config not JSON",
       "vit-odd-heads",
       [](auto& d) { std::ofstream(d / "config.json") << "architectures: ViT"; },
       Code::kInvalidArgument,
       {"config.json", "not valid JSON"}},
  };
}

TEST(CheckpointTest, ValidFixturesPass) {
  auto fixtures = testing::LoadVitFixtures();
  ASSERT_TRUE(fixtures.has_value());
  for (const auto& f : *fixtures) {
    auto config = ValidateCheckpointDir(f.dir);
    EXPECT_TRUE(config.ok()) << f.name << ": " << config.status();
  }
}

TEST(CheckpointTest, BadCheckpointsFailClearly) {
  for (const auto& c : Cases()) {
    SCOPED_TRACE(c.what);
    auto fixture = testing::FindVitFixture(c.base);
    ASSERT_TRUE(fixture.has_value());
    auto dir = testing::CopyCheckpoint(fixture->dir, "bad-checkpoint");
    c.mutate(dir);
    absl::Status validated = ValidateCheckpointDir(dir).status();
    absl::Status loaded = VitModel::Load(dir, {.num_threads = 1, .max_batch_size = 1}).status();
    for (const absl::Status& status : {validated, loaded}) {
      EXPECT_EQ(status.code(), c.code) << status;
      for (const std::string& part : c.expected) {
        EXPECT_NE(status.message().find(part), std::string::npos)
            << "\"" << part << "\" not in: " << status;
      }
    }
  }
}

TEST(CheckpointTest, MissingFolder) {
  EXPECT_EQ(ValidateCheckpointDir("/nonexistent/model").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera::engine
