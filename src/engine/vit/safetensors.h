// Reading Hugging Face safetensors files: an 8-byte little-endian header length N, N bytes of
// JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}, then the
// data region the offsets index.
//
// Contract: every offset, shape and dtype is validated before any tensor byte is touched, so a
// corrupt or hostile file yields an error naming the file and the tensor, never an out-of-bounds
// read. ReadSafetensorsHeader reads only the header (cheap: for validating an upload);
// SafetensorsFile maps the whole file read-only (no copy) for loading. Both are immutable after
// creation and safe to read from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tessera::engine {

// Every dtype the safetensors format defines. The engine computes with F32 and converts F16 and
// BF16 at load; the others are parsed (so their byte ranges are checked) and refused when used.
enum class TensorDtype {
  kBool,
  kU8,
  kI8,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64,
  kF8E4M3,
  kF8E5M2
};

const char* DtypeName(TensorDtype dtype);  // "F32", ...
size_t DtypeSize(TensorDtype dtype);       // bytes per element
// True for the dtypes the engine loads as weights: F32, F16, BF16.
bool IsFloatWeightDtype(TensorDtype dtype);

struct TensorInfo {
  std::string name;
  TensorDtype dtype = TensorDtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data region, end exclusive
  uint64_t end = 0;

  int64_t num_elements() const;     // product of shape (1 for a scalar)
  std::string ShapeString() const;  // "[768, 3, 16, 16]"
};

// The validated header of one file.
class SafetensorsHeader {
 public:
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorInfo* Find(const std::string& name) const;
  uint64_t header_size() const { return header_size_; }  // N
  uint64_t data_size() const { return data_size_; }      // bytes after the header

 private:
  friend absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(std::string_view, uint64_t,
                                                                  const std::string&);
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  uint64_t header_size_ = 0;
  uint64_t data_size_ = 0;
};

// Largest header accepted (the safetensors library's own limit).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Parses the JSON header (without the 8-byte length) of a file whose data region holds
// `data_size` bytes, checking every tensor: known dtype, non-negative shape, byte range equal to
// shape x dtype size and inside the data region, no two tensors overlapping. `source` names the
// file in errors.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(std::string_view header_json,
                                                         uint64_t data_size,
                                                         const std::string& source);

// Reads and validates only the header of `path` (8 + N bytes), not the tensor data.
absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::filesystem::path& path);

// A safetensors file mapped read-only into memory.
class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }

  // The raw bytes of `tensor` (one of header().tensors()), inside the mapping.
  std::span<const uint8_t> Bytes(const TensorInfo& tensor) const;
  // The tensor's values as float when it is F32 and suitably aligned in the mapping (no copy),
  // else an empty span.
  std::span<const float> DirectF32(const TensorInfo& tensor) const;
  // Converts an F32, F16 or BF16 tensor to float into `out` (exactly num_elements() values).
  absl::Status ReadF32(const TensorInfo& tensor, std::span<float> out) const;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  SafetensorsHeader header_;
  const uint8_t* mapping_ = nullptr;  // the whole file; owned (munmap in the destructor)
  size_t mapping_size_ = 0;
  const uint8_t* data_ = nullptr;  // mapping_ + 8 + N
};

// Conversions used by ReadF32 (exposed for tests): IEEE half and bfloat16 bit patterns to float.
float HalfToFloat(uint16_t bits);
float BFloat16ToFloat(uint16_t bits);

}  // namespace tessera::engine
