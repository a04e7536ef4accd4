#include "testing/hf_checkpoint_validator.h"

#include <cstdint>
#include <fstream>
#include <map>
#include <string>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "registry/length_prefixed_header.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;

absl::Status Bad(const std::string& what) { return absl::InvalidArgumentError(what); }

}  // namespace

absl::Status HfCheckpointValidator::Validate(const std::filesystem::path& dir) {
  std::ifstream config(dir / "config.json");
  if (!config) return Bad("config.json is missing");
  nlohmann::json cfg = nlohmann::json::parse(config, nullptr, /*allow_exceptions=*/false);
  if (cfg.is_discarded() || !cfg.is_object()) return Bad("config.json is not a JSON object");
  if (!cfg.contains("model_type") && !cfg.contains("architectures")) {
    return Bad("config.json names neither model_type nor architectures");
  }

  std::filesystem::path weights = dir / "model.safetensors";
  std::ifstream in(weights, std::ios::binary);
  if (!in) return Bad("model.safetensors is missing");
  std::error_code ec;
  uint64_t file_size = std::filesystem::file_size(weights, ec);
  if (ec || file_size < 8) return Bad("model.safetensors is shorter than its 8-byte header length");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len < 2 || header_len > file_size - 8 || header_len > kMaxHeaderBytes) {
    return Bad(fmt::format("model.safetensors: header length {} is impossible for a {}-byte file",
                           header_len, file_size));
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  nlohmann::json h = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded() || !h.is_object())
    return Bad("model.safetensors: header is not a JSON object");
  static const std::map<std::string, uint64_t> kDtypeBytes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
  uint64_t data_size = file_size - 8 - header_len;
  int tensors = 0;
  for (const auto& [name, t] : h.items()) {
    if (name == "__metadata__") continue;
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") ||
        !t.contains("data_offsets")) {
      return Bad(
          fmt::format("model.safetensors: tensor {} lacks dtype, shape or data_offsets", name));
    }
    auto dtype = kDtypeBytes.find(t["dtype"].is_string() ? t["dtype"].get<std::string>() : "");
    if (dtype == kDtypeBytes.end())
      return Bad(fmt::format("model.safetensors: tensor {} has an unknown dtype", name));
    uint64_t elements = 1;
    if (!t["shape"].is_array())
      return Bad(fmt::format("model.safetensors: tensor {} has a bad shape", name));
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned())
        return Bad(fmt::format("model.safetensors: tensor {} has a bad shape", name));
      elements *= d.get<uint64_t>();
    }
    const auto& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned()) {
      return Bad(fmt::format("model.safetensors: tensor {} has bad data_offsets", name));
    }
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return Bad(fmt::format("model.safetensors: tensor {} lies outside the file", name));
    }
    if (end - begin != elements * dtype->second) {
      return Bad(fmt::format("model.safetensors: tensor {} has {} bytes for shape of {} elements",
                             name, end - begin, elements));
    }
    ++tensors;
  }
  if (tensors == 0) return Bad("model.safetensors holds no tensors");
  return absl::OkStatus();
}

std::optional<absl::Status> HfCheckpointValidator::ValidateEarly(
    const std::filesystem::path& dir, const registry::ArrivingFiles& files) {
  const auto config = files.find("config.json");
  const auto weights = files.find("model.safetensors");
  if (config == files.end() || !config->second.complete || weights == files.end() ||
      !registry::LengthPrefixedHeaderArrived(dir / "model.safetensors", weights->second,
                                             kMaxHeaderBytes)) {
    return std::nullopt;
  }
  early_verdicts_.fetch_add(1);
  return Validate(dir);
}

}  // namespace tessera::testing
