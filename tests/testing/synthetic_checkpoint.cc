#include "testing/synthetic_checkpoint.h"

#include <stdlib.h>

#include <fstream>
#include <random>
#include <vector>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::testing {

void WriteTinyCheckpoint(const std::filesystem::path& dir, uint32_t seed, int64_t weights_bytes) {
  std::filesystem::create_directories(dir);
  nlohmann::json config = {{"model_type", "vit"},
                           {"architectures", {"ViTForImageClassification"}},
                           {"hidden_size", 8},
                           {"seed", seed}};
  std::ofstream(dir / "config.json") << config.dump(2);
  std::ofstream(dir / "preprocessor_config.json")
      << R"({"do_resize": true, "size": {"height": 32, "width": 32}})";
  int64_t n = std::max<int64_t>(weights_bytes / 8, 1);  // two tensors of n floats
  nlohmann::json header = {
      {"a.weight", {{"dtype", "F32"}, {"shape", {n}}, {"data_offsets", {0, n * 4}}}},
      {"b.bias", {{"dtype", "F32"}, {"shape", {n}}, {"data_offsets", {n * 4, n * 8}}}}};
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
  out << h;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> data(static_cast<size_t>(2 * n));
  for (auto& v : data) v = dist(rng);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size() * 4));
}

void CorruptSafetensorsHeader(const std::filesystem::path& dir) {
  std::ofstream out(dir / "model.safetensors", std::ios::binary | std::ios::trunc);
  uint64_t len = 1 << 20;  // far more than the file holds
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
  out << R"({"a": {"dtype": "F32"}})";
}

ScopedTempDir::ScopedTempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "tessera-test-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ec;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path_, ec);
}

}  // namespace tessera::testing
