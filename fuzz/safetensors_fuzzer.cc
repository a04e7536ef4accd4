// A safetensors file as an upload brings it: the header through ReadSafetensorsHeader (what
// intake validation calls) and the whole file through SafetensorsFile::Open + ReadF32 (what the
// replica loads). Accepted headers must describe only bytes inside the data region; reading every
// float tensor then must stay inside the mapping (ASan reports any read past it).
#include <vector>

#include "engine/vit/safetensors.h"
#include "fuzz_util.h"

namespace engine = tessera::engine;
using tessera::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path =
      tessera::fuzz::WriteScratchFile("model.safetensors", tessera::fuzz::AsView(data, size));
  absl::StatusOr<engine::SafetensorsHeader> header = engine::ReadSafetensorsHeader(path);
  absl::StatusOr<std::unique_ptr<engine::SafetensorsFile>> file =
      engine::SafetensorsFile::Open(path);
  Require(header.ok() == file.ok(), "ReadSafetensorsHeader and Open disagree");
  if (!header.ok()) {
    Require(absl::IsInvalidArgument(header.status()), "an error other than INVALID_ARGUMENT");
    return 0;
  }
  Require(8 + header->header_size() + header->data_size() == size, "sizes do not add up");
  for (const engine::TensorInfo& tensor : header->tensors()) {
    Require(tensor.begin <= tensor.end && tensor.end <= header->data_size(),
            "a tensor outside the data region");
    Require(tensor.end - tensor.begin ==
                static_cast<uint64_t>(tensor.num_elements()) * engine::DtypeSize(tensor.dtype),
            "a byte range that is not shape x dtype size");
    Require(header->Find(tensor.name) == &tensor, "Find does not return the tensor");
    (void)tensor.ShapeString();
  }
  const engine::SafetensorsFile& f = **file;
  for (const engine::TensorInfo& tensor : f.header().tensors()) {
    Require(f.Bytes(tensor).size() == tensor.end - tensor.begin, "Bytes() size");
    if (!engine::IsFloatWeightDtype(tensor.dtype) || tensor.num_elements() > (1 << 20)) continue;
    std::vector<float> out(static_cast<size_t>(tensor.num_elements()));
    Require(f.ReadF32(tensor, out).ok(), "ReadF32 refused a valid float tensor");
    (void)f.DirectF32(tensor);
  }
  return 0;
}
