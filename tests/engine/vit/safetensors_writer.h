// Test helpers that write (possibly broken) safetensors files and checkpoint folders.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace tessera::testing {

struct RawTensor {
  std::string name;
  std::string dtype;  // "F32", ...
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Every tensor of a (valid) safetensors file, in header order.
std::vector<RawTensor> ReadAllTensors(const std::filesystem::path& path);
// Writes a valid file holding `tensors` back to back.
void WriteSafetensors(const std::filesystem::path& path, const std::vector<RawTensor>& tensors);
// Writes an 8-byte length (`declared_length`, default the header's size), the header text and
// `data` — whatever they are.
void WriteRawSafetensors(const std::filesystem::path& path, const std::string& header,
                         const std::vector<uint8_t>& data,
                         std::optional<uint64_t> declared_length = std::nullopt);

// A fresh, empty folder under the test temp dir.
std::filesystem::path FreshDir(const std::string& name);
// Copies the files of checkpoint folder `src` into FreshDir(name).
std::filesystem::path CopyCheckpoint(const std::filesystem::path& src, const std::string& name);

nlohmann::json ReadJson(const std::filesystem::path& path);
void WriteJson(const std::filesystem::path& path, const nlohmann::json& json);

}  // namespace tessera::testing
