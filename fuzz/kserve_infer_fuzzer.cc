// The KServe v2 REST /infer body, JSON and Triton's binary extension (kserve_v2_json.h), and the
// BYTES tensor format. The first three bytes choose the Inference-Header-Content-Length: byte 0
// odd -> present, with the value of bytes 1-2 (little-endian; it may exceed the body, as a
// hostile client's can). An accepted request has images, and its response formats.
#include <optional>

#include "fuzz_util.h"
#include "serving/predict/kserve_v2.h"
#include "serving/predict/kserve_v2_json.h"

namespace kserve = tessera::serving::kserve;
using tessera::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  std::optional<size_t> header_length;
  if (data[0] & 1) header_length = size_t{data[1]} | size_t{data[2]} << 8;
  const std::string_view body = tessera::fuzz::AsView(data + 3, size - 3);

  absl::StatusOr<kserve::RestInferRequest> request =
      kserve::ParseRestInferRequest(body, header_length, "string_input");
  if (request.ok()) {
    Require(!request->images.empty(), "a request without images accepted");
    Require(!request->outputs.empty(), "parsed outputs are empty");
    Require(request->parameters.top_k >= 1, "top_k < 1 accepted");
    std::vector<tessera::serving::Classification> rows(
        request->images.size(), {.labels = {"a"}, .confidences = {0.5f}});
    absl::StatusOr<kserve::Outputs> outputs = kserve::OutputsFrom(rows);
    Require(outputs.ok(), "OutputsFrom refused equal rows");
    kserve::RestInferResponse response =
        kserve::FormatRestInferResponse("m", "1", *request, *outputs);
    Require(!response.header_length || *response.header_length <= response.body.size(),
            "response header length past its body");
  } else {
    Require(absl::IsInvalidArgument(request.status()), "an error other than INVALID_ARGUMENT");
  }

  absl::StatusOr<std::vector<std::string>> elements =
      kserve::SplitBytesTensor(body, /*expected=*/data[1] % 8);
  if (elements.ok()) {
    Require(elements->size() == data[1] % 8u, "SplitBytesTensor returned another count");
    Require(kserve::JoinBytesTensor(*elements) == body, "Join(Split(x)) != x");
  }
  return 0;
}
