#include "registry/runtimes.h"

#include "fmt/format.h"

namespace tessera::registry {
namespace {

// Vertex's prebuilt images live in three multi-region Artifact Registry hosts.
constexpr std::string_view kRegistryHosts[] = {"us-docker.pkg.dev", "europe-docker.pkg.dev",
                                               "asia-docker.pkg.dev"};

// Splits "host/path:tag" or "host/path@sha256:..." into the repository part (no tag/digest).
std::string_view Repository(std::string_view image) {
  if (auto at = image.find('@'); at != std::string_view::npos) image = image.substr(0, at);
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    image = image.substr(0, colon);
  }
  return image;
}

bool IsVertexPrebuilt(std::string_view repo) {
  for (std::string_view host : kRegistryHosts) {
    std::string prefix = fmt::format("{}/vertex-ai/prediction/", host);
    if (!std::string_view(repo).starts_with(prefix)) continue;
    std::string_view name = repo.substr(prefix.size());
    // pytorch-cpu.2-1, pytorch-gpu.2-1, tf2-cpu.2-13, tf2-gpu.2-13 (GPU images run on CPU here).
    for (std::string_view framework : {"pytorch-cpu.", "pytorch-gpu.", "tf2-cpu.", "tf2-gpu."}) {
      if (std::string_view(name).starts_with(framework) && name.size() > framework.size())
        return true;
    }
  }
  return false;
}

bool IsHuggingFacePytorch(std::string_view repo) {
  for (std::string_view host : kRegistryHosts) {
    std::string prefix =
        fmt::format("{}/deeplearning-platform-release/gcr.io/huggingface-pytorch-inference-", host);
    if (std::string_view(repo).starts_with(prefix) && repo.size() > prefix.size()) return true;
  }
  return false;
}

bool IsTesseraVit(std::string_view repo) {
  return repo == "tessera/vit" || repo == "docker.io/tessera/vit";
}

}  // namespace

const std::vector<RuntimeImageRule>& RuntimeImageRules() {
  static const std::vector<RuntimeImageRule> kRules = {
      {"tessera/vit[:TAG]", kVitRuntime},
      {"{us,europe,asia}-docker.pkg.dev/vertex-ai/prediction/pytorch-{cpu,gpu}.VERSION[:TAG]",
       kVitRuntime},
      {"{us,europe,asia}-docker.pkg.dev/vertex-ai/prediction/tf2-{cpu,gpu}.VERSION[:TAG]",
       kVitRuntime},
      {"{us,europe,asia}-docker.pkg.dev/deeplearning-platform-release/gcr.io/"
       "huggingface-pytorch-inference-VARIANT[:TAG]",
       kVitRuntime},
  };
  return kRules;
}

absl::StatusOr<std::string> RuntimeForImage(std::string_view image_uri) {
  if (image_uri.empty()) {
    return absl::InvalidArgumentError(
        "model.containerSpec.imageUri is required (e.g. \"tessera/vit\" or Vertex's "
        "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest)");
  }
  std::string_view repo = Repository(image_uri);
  if (IsTesseraVit(repo) || IsVertexPrebuilt(repo) || IsHuggingFacePytorch(repo)) {
    return std::string(kVitRuntime);
  }
  std::string supported;
  for (const auto& rule : RuntimeImageRules()) {
    supported += fmt::format("\n  {}", rule.pattern);
  }
  return absl::InvalidArgumentError(fmt::format(
      "containerSpec.imageUri \"{}\" names no runtime this server has (it serves ViT image "
      "classifiers with its built-in runtime and runs no containers); supported images:{}",
      image_uri, supported));
}

}  // namespace tessera::registry
