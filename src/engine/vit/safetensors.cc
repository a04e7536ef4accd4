#include "engine/vit/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "common/status_macros.h"
#include "common/untrusted_json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::engine {
namespace {

struct DtypeEntry {
  const char* name;
  TensorDtype dtype;
  size_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {"BOOL", TensorDtype::kBool, 1},      {"U8", TensorDtype::kU8, 1},
    {"I8", TensorDtype::kI8, 1},          {"I16", TensorDtype::kI16, 2},
    {"U16", TensorDtype::kU16, 2},        {"F16", TensorDtype::kF16, 2},
    {"BF16", TensorDtype::kBF16, 2},      {"I32", TensorDtype::kI32, 4},
    {"U32", TensorDtype::kU32, 4},        {"F32", TensorDtype::kF32, 4},
    {"F64", TensorDtype::kF64, 8},        {"I64", TensorDtype::kI64, 8},
    {"U64", TensorDtype::kU64, 8},        {"F8_E4M3", TensorDtype::kF8E4M3, 1},
    {"F8_E5M2", TensorDtype::kF8E5M2, 1},
};

const DtypeEntry* FindDtype(const std::string& name) {
  for (const auto& entry : kDtypes) {
    if (name == entry.name) return &entry;
  }
  return nullptr;
}

absl::Status Corrupt(const std::string& source, const std::string& message) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", source, message));
}

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

absl::Status ErrnoError(const std::string& what, const std::filesystem::path& path) {
  int err = errno;
  std::string message = fmt::format("{}: {}: {}", path.string(), what, std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  return absl::InvalidArgumentError(message);
}

// Opens `path` and checks its size can hold a header; returns the descriptor and size.
absl::StatusOr<std::pair<int, uint64_t>> OpenChecked(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    absl::Status status = ErrnoError("cannot stat", path);
    ::close(fd);
    return status;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(fmt::format("{}: not a regular file", path.string()));
  }
  if (st.st_size < 8) {
    ::close(fd);
    return Corrupt(path.string(), fmt::format("truncated safetensors file: {} bytes, the 8-byte "
                                              "header length alone needs 8",
                                              st.st_size));
  }
  return std::make_pair(fd, static_cast<uint64_t>(st.st_size));
}

uint64_t ReadLittleEndian64(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// Checks the header length N against the file size.
absl::Status CheckHeaderLength(uint64_t header_size, uint64_t file_size,
                               const std::string& source) {
  if (header_size == 0) return Corrupt(source, "safetensors header length is 0");
  if (header_size > kMaxSafetensorsHeaderBytes) {
    return Corrupt(source, fmt::format("safetensors header length {} exceeds the {}-byte limit "
                                       "(corrupt or not a safetensors file)",
                                       header_size, kMaxSafetensorsHeaderBytes));
  }
  if (header_size > file_size - 8) {
    return Corrupt(source, fmt::format("truncated safetensors file: header length {} but only {} "
                                       "bytes follow it",
                                       header_size, file_size - 8));
  }
  return absl::OkStatus();
}

}  // namespace

const char* DtypeName(TensorDtype dtype) {
  for (const auto& entry : kDtypes) {
    if (entry.dtype == dtype) return entry.name;
  }
  return "?";
}

size_t DtypeSize(TensorDtype dtype) {
  for (const auto& entry : kDtypes) {
    if (entry.dtype == dtype) return entry.size;
  }
  return 0;
}

bool IsFloatWeightDtype(TensorDtype dtype) {
  return dtype == TensorDtype::kF32 || dtype == TensorDtype::kF16 || dtype == TensorDtype::kBF16;
}

int64_t TensorInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // bounded at parse time
  return n;
}

std::string TensorInfo::ShapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

const TensorInfo* SafetensorsHeader::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(std::string_view header_json,
                                                         uint64_t data_size,
                                                         const std::string& source) {
  if (absl::Status limits = CheckJsonLimits(header_json, kArtifactJsonLimits); !limits.ok()) {
    return Corrupt(source, fmt::format("safetensors header: {}", std::string(limits.message())));
  }
  nlohmann::json json = nlohmann::json::parse(header_json.begin(), header_json.end(), nullptr,
                                              /*allow_exceptions=*/false);
  if (json.is_discarded()) return Corrupt(source, "safetensors header is not valid JSON");
  if (!json.is_object()) return Corrupt(source, "safetensors header is not a JSON object");

  SafetensorsHeader header;
  header.header_size_ = header_json.size();
  header.data_size_ = data_size;
  for (const auto& item : json.items()) {
    // Named references, not a structured binding: the lambda below captures the name, which
    // clang (the fuzz build) accepts only from C++20 compilers newer than Debian's clang 14.
    const std::string& name = item.key();
    const nlohmann::json& entry = item.value();
    if (name == "__metadata__") continue;  // free-form string map
    auto tensor_error = [&](const std::string& message) {
      return Corrupt(source, fmt::format("tensor \"{}\": {}", name, message));
    };
    if (!entry.is_object()) return tensor_error("entry is not an object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string()) return tensor_error("missing \"dtype\"");
    if (shape_it == entry.end() || !shape_it->is_array()) return tensor_error("missing \"shape\"");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
        !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
      return tensor_error("\"data_offsets\" must be two non-negative integers [begin, end]");
    }
    TensorInfo info;
    info.name = name;
    const DtypeEntry* dtype = FindDtype(dtype_it->get<std::string>());
    if (dtype == nullptr) {
      return tensor_error(fmt::format("unknown dtype \"{}\"", dtype_it->get<std::string>()));
    }
    info.dtype = dtype->dtype;
    if (shape_it->size() > 8) return tensor_error("more than 8 dimensions");
    // Element count, with overflow refused: any real tensor is far below 2^48 elements.
    constexpr uint64_t kMaxElements = uint64_t{1} << 48;
    uint64_t elements = 1;
    for (const auto& dim : *shape_it) {
      if (!dim.is_number_unsigned()) {
        return tensor_error(fmt::format("shape {} has a non-integer or negative dimension",
                                        JsonPreview(*shape_it)));
      }
      uint64_t d = dim.get<uint64_t>();
      if (d > kMaxElements || (d != 0 && elements > kMaxElements / d)) {
        return tensor_error(fmt::format("shape {} is absurdly large", JsonPreview(*shape_it)));
      }
      elements *= d;
      info.shape.push_back(static_cast<int64_t>(d));
    }
    info.begin = (*offsets_it)[0].get<uint64_t>();
    info.end = (*offsets_it)[1].get<uint64_t>();
    if (info.begin > info.end) {
      return tensor_error(
          fmt::format("data_offsets [{}, {}] end before they begin", info.begin, info.end));
    }
    if (info.end > data_size) {
      return tensor_error(
          fmt::format("data_offsets [{}, {}] reach past the end of the data "
                      "({} bytes; the file is truncated or corrupt)",
                      info.begin, info.end, data_size));
    }
    uint64_t expected_bytes = elements * dtype->size;
    if (info.end - info.begin != expected_bytes) {
      return tensor_error(
          fmt::format("shape {} of {} needs {} bytes but data_offsets [{}, {}] "
                      "hold {}",
                      info.ShapeString(), dtype->name, expected_bytes, info.begin, info.end,
                      info.end - info.begin));
    }
    header.tensors_.push_back(std::move(info));
  }
  // No two tensors may share bytes.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : header.tensors_) {
    if (t.end > t.begin) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      return Corrupt(source, fmt::format("tensors \"{}\" and \"{}\" overlap in the data region",
                                         by_offset[i - 1]->name, by_offset[i]->name));
    }
  }
  for (size_t i = 0; i < header.tensors_.size(); ++i) {
    header.index_.emplace(header.tensors_[i].name, i);
  }
  return header;
}

absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(auto opened, OpenChecked(path));
  auto [fd, file_size] = opened;
  FdCloser closer(fd);
  uint8_t length_bytes[8];
  if (::pread(fd, length_bytes, 8, 0) != 8) return ErrnoError("cannot read", path);
  uint64_t header_size = ReadLittleEndian64(length_bytes);
  RETURN_IF_ERROR(CheckHeaderLength(header_size, file_size, path.string()));
  std::string json(header_size, '\0');
  size_t done = 0;
  while (done < header_size) {
    ssize_t n = ::pread(fd, json.data() + done, header_size - done, static_cast<off_t>(8 + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("cannot read the safetensors header", path);
    done += static_cast<size_t>(n);
  }
  return ParseSafetensorsHeader(json, file_size - 8 - header_size, path.string());
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(
    const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(auto opened, OpenChecked(path));
  auto [fd, file_size] = opened;
  FdCloser closer(fd);
  if (file_size > std::numeric_limits<size_t>::max()) {
    return absl::InvalidArgumentError(fmt::format("{}: file too large to map", path.string()));
  }
  void* mapping = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (mapping == MAP_FAILED) return ErrnoError("cannot mmap", path);
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = static_cast<const uint8_t*>(mapping);
  file->mapping_size_ = file_size;
  uint64_t header_size = ReadLittleEndian64(file->mapping_);
  RETURN_IF_ERROR(CheckHeaderLength(header_size, file_size, path.string()));
  std::string_view json(reinterpret_cast<const char*>(file->mapping_) + 8, header_size);
  ASSIGN_OR_RETURN(file->header_,
                   ParseSafetensorsHeader(json, file_size - 8 - header_size, path.string()));
  file->data_ = file->mapping_ + 8 + header_size;
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(const_cast<uint8_t*>(mapping_), mapping_size_);
}

std::span<const uint8_t> SafetensorsFile::Bytes(const TensorInfo& tensor) const {
  return {data_ + tensor.begin, static_cast<size_t>(tensor.end - tensor.begin)};
}

std::span<const float> SafetensorsFile::DirectF32(const TensorInfo& tensor) const {
  const uint8_t* p = data_ + tensor.begin;
  if (tensor.dtype != TensorDtype::kF32 || reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) {
    return {};
  }
  return {reinterpret_cast<const float*>(p), static_cast<size_t>(tensor.num_elements())};
}

float HalfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t{bits & 0x8000u} << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t out;
  if (exponent == 0x1f) {  // inf / nan
    out = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // zero
    out = sign;
  } else {  // subnormal: renormalize
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    out = sign | (static_cast<uint32_t>(113 - shift) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &out, sizeof f);
  return f;
}

float BFloat16ToFloat(uint16_t bits) {
  uint32_t out = uint32_t{bits} << 16;
  float f;
  std::memcpy(&f, &out, sizeof f);
  return f;
}

absl::Status SafetensorsFile::ReadF32(const TensorInfo& tensor, std::span<float> out) const {
  if (out.size() != static_cast<size_t>(tensor.num_elements())) {
    return absl::InternalError(fmt::format("{}: tensor \"{}\": output holds {} values, tensor {}",
                                           path_.string(), tensor.name, out.size(),
                                           tensor.num_elements()));
  }
  std::span<const uint8_t> bytes = Bytes(tensor);
  switch (tensor.dtype) {
    case TensorDtype::kF32:
      std::memcpy(out.data(), bytes.data(), bytes.size());
      return absl::OkStatus();
    case TensorDtype::kF16:
    case TensorDtype::kBF16: {
      const bool half = tensor.dtype == TensorDtype::kF16;
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, bytes.data() + 2 * i, 2);
        out[i] = half ? HalfToFloat(bits) : BFloat16ToFloat(bits);
      }
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          fmt::format("{}: tensor \"{}\" has dtype {}; the engine loads F32, F16 and BF16 weights",
                      path_.string(), tensor.name, DtypeName(tensor.dtype)));
  }
}

}  // namespace tessera::engine
