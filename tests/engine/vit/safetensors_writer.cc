#include "engine/vit/safetensors_writer.h"

#include <unistd.h>

#include <fstream>

#include "engine/vit/safetensors.h"
#include "gtest/gtest.h"

namespace tessera::testing {

std::vector<RawTensor> ReadAllTensors(const std::filesystem::path& path) {
  auto file = engine::SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  std::vector<RawTensor> out;
  if (!file.ok()) return out;
  for (const auto& t : (*file)->header().tensors()) {
    auto bytes = (*file)->Bytes(t);
    out.push_back({t.name, engine::DtypeName(t.dtype), t.shape,
                   std::vector<uint8_t>(bytes.begin(), bytes.end())});
  }
  return out;
}

void WriteSafetensors(const std::filesystem::path& path, const std::vector<RawTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint8_t> data;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  WriteRawSafetensors(path, text, data);
}

void WriteRawSafetensors(const std::filesystem::path& path, const std::string& header,
                         const std::vector<uint8_t>& data,
                         std::optional<uint64_t> declared_length) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  uint64_t n = declared_length.value_or(header.size());
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::filesystem::path FreshDir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                              ("tessera-vit-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::filesystem::path CopyCheckpoint(const std::filesystem::path& src, const std::string& name) {
  std::filesystem::path dir = FreshDir(name);
  for (const auto& entry : std::filesystem::directory_iterator(src)) {
    if (entry.is_regular_file()) {
      std::filesystem::copy_file(entry.path(), dir / entry.path().filename());
      std::filesystem::permissions(
          dir / entry.path().filename(),
          std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    }
  }
  return dir;
}

nlohmann::json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

void WriteJson(const std::filesystem::path& path, const nlohmann::json& json) {
  std::ofstream out(path, std::ios::trunc);
  out << json.dump(2);
}

}  // namespace tessera::testing
