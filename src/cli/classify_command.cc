#include "cli/classify_command.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/image_classifier.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::cli {
namespace {

struct ClassifyOptions {
  std::string model_dir;
  int top_k = 1;
  int num_threads = 0;
  int max_batch_size = 8;
  std::string precision = "fp32";
  std::vector<std::string> images;
};

absl::StatusOr<std::vector<uint8_t>> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open", path));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(fmt::format("{}: read error", path));
  return bytes;
}

// Returns the process exit status.
int RunClassify(const ClassifyOptions& options) {
  engine::EngineOptions engine_options;
  engine_options.num_threads = options.num_threads;
  engine_options.max_batch_size = options.max_batch_size;
  engine_options.precision = options.precision;
  auto classifier = engine::ImageClassifier::Load(options.model_dir, engine_options);
  if (!classifier.ok()) {
    std::fprintf(stderr, "tessera classify: cannot load the model: %s\n",
                 std::string(classifier.status().message()).c_str());
    return 1;
  }
  std::vector<absl::StatusOr<std::vector<uint8_t>>> files;
  std::vector<std::span<const uint8_t>> readable;
  files.reserve(options.images.size());
  for (const std::string& path : options.images) {
    files.push_back(ReadFile(path));
    if (files.back().ok()) readable.emplace_back(*files.back());
  }
  auto results = (*classifier)->Classify(readable, options.top_k);
  int exit_status = 0;
  size_t next = 0;
  std::string out = "[\n";
  for (size_t i = 0; i < options.images.size(); ++i) {
    nlohmann::json entry = {{"image", options.images[i]}};
    absl::Status status = files[i].status();
    if (status.ok()) {
      const auto& result = results[next++];
      if (result.ok()) {
        nlohmann::json predictions = nlohmann::json::array();
        for (const engine::Prediction& p : *result) {
          predictions.push_back(
              {{"label", p.label}, {"class_index", p.class_index}, {"confidence", p.confidence}});
        }
        entry["predictions"] = std::move(predictions);
      } else {
        status = result.status();
      }
    }
    if (!status.ok()) {
      entry["error"] = std::string(status.message());
      exit_status = 1;
    }
    out += "  " + entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += i + 1 < options.images.size() ? ",\n" : "\n";
  }
  out += "]\n";
  std::fputs(out.c_str(), stdout);
  return exit_status;
}

}  // namespace

void AddClassifyCommand(CLI::App& app) {
  auto options = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "classify", "Classify image files with a Hugging Face ViT/DeiT checkpoint; prints JSON");
  cmd->add_option("--model", options->model_dir,
                  "Checkpoint folder (config.json, preprocessor_config.json, model.safetensors)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--top-k", options->top_k, "Labels to print per image")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--threads", options->num_threads, "Engine threads (0 = all CPUs)")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--max-batch-size", options->max_batch_size, "Images per forward pass")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--precision", options->precision,
                  "fp32; bf16 (encoder GEMMs in bfloat16; needs AVX-512 BF16 or AMX); int8 "
                  "(encoder GEMMs in 8-bit integers; needs AVX2, fast with VNNI or AMX)")
      ->capture_default_str();
  cmd->add_option("images", options->images, "Image files (JPEG, PNG, WebP)")->required();
  cmd->callback([options]() {
    int status = RunClassify(*options);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace tessera::cli
