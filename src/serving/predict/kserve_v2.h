// KServe v2 / Open Inference Protocol: what a Tessera image classifier looks like as tensors,
// shared by the REST (kserve_v2_routes.h) and gRPC (serving/grpc) frontends. Pure functions.
//
// The model (docs/protocols.md):
//   input   <input key> (default "string_input"), BYTES, shape [N] or [N, 1]: encoded images
//           (JPEG, PNG, WebP), one per element
//   outputs "label"      BYTES [N, k]: the k most probable labels, most probable first
//           "confidence" FP32  [N, k]: their probabilities
//   request parameters: "top_k" (int, default 1). "confidence_threshold" is refused here: it
//           makes the rows ragged, which a tensor cannot hold (Vertex :predict has it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "serving/front_door/route_access.h"
#include "serving/predict/classification.h"

namespace tessera::serving::kserve {

// Who may call what, the same on REST and gRPC: the probes need no key (a load balancer checks
// them), the server's metadata any key, model status and metadata any key with the name
// resolved within its reach (model_resolver.h), inference a predictor, deployer or admin key.
inline constexpr RouteAccess kProbeAccess{auth::Action::kPublic, Scope::kGlobal,
                                          ErrorShape::kPlain};
inline constexpr RouteAccess kServerMetadataAccess{auth::Action::kAuthenticated, Scope::kGlobal,
                                                   ErrorShape::kPlain};
inline constexpr RouteAccess kModelMetadataAccess{auth::Action::kAuthenticated, Scope::kModelName,
                                                  ErrorShape::kPlain};
inline constexpr RouteAccess kInferAccess{auth::Action::kPredict, Scope::kModelName,
                                          ErrorShape::kPlain};

inline constexpr char kLabelOutput[] = "label";
inline constexpr char kConfidenceOutput[] = "confidence";
inline constexpr char kPlatform[] = "tessera_vit";

// The input tensor as a request states it (before its data is read).
struct InputSpec {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
};

// The number of elements of a tensor of `shape` (1 for a scalar). INVALID_ARGUMENT for a
// negative dimension or a product that overflows int64.
absl::StatusOr<int64_t> ElementCount(const std::vector<int64_t>& shape);

// INVALID_ARGUMENT unless `spec` is the model's image input; returns the element count N.
// Only a count: callers check it against the data actually present before allocating for it.
absl::StatusOr<size_t> CheckImageInput(const InputSpec& spec, const std::string& input_key);

// The binary BYTES tensor format (4-byte little-endian length, then the bytes, per element).
// SplitBytesTensor refuses an `expected` count that `raw` cannot hold before allocating.
absl::StatusOr<std::vector<std::string>> SplitBytesTensor(std::string_view raw, size_t expected);
std::string JoinBytesTensor(const std::vector<std::string>& elements);

// The output tensors, row-major [N, k].
struct Outputs {
  std::vector<int64_t> shape;  // {N, k}
  std::vector<std::string> labels;
  std::vector<float> confidences;
};
// INTERNAL when the rows have different lengths (they cannot: same model, same top_k).
absl::StatusOr<Outputs> OutputsFrom(const std::vector<Classification>& rows);

// The little-endian bytes of `values` (the raw FP32 tensor format).
std::string Fp32Bytes(const std::vector<float>& values);

// INVALID_ARGUMENT for an output name the model does not have.
absl::Status CheckOutputName(std::string_view name);

// A positive top_k, or INVALID_ARGUMENT naming the value.
absl::StatusOr<int> TopKFrom(int64_t value);

}  // namespace tessera::serving::kserve
