// The oneDNN CPU engine and stream the kernels run on, a caller-owned scratchpad shared by every
// primitive, and helpers to execute primitives without exceptions or per-call allocations.
//
// Contract: one DnnlRuntime per model (the kernels of one model share it). Executing is not
// re-entrant: the stream and the scratchpad serve one Forward at a time. oneDNN's exceptions are
// caught here and in the kernels; none leaves the engine layer.
//
// Threads: oneDNN is built on OpenMP here. The thread count of a parallel region is the calling
// thread's OpenMP setting, so SetThreads() must run on the thread that creates and executes the
// primitives (cheap: it only sets a per-thread variable).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kernels/bfloat16.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace tessera::engine::kernels {

// The number of threads used when 0 ("all") is asked for: the CPUs this process may run on.
int DefaultThreadCount();
// Sets the calling thread's OpenMP thread count (0 = DefaultThreadCount()).
void SetThreads(int num_threads);

// Converts a caught oneDNN exception into a Status naming `what` was being done.
absl::Status DnnlError(const dnnl::error& e, const std::string& what);

class DnnlRuntime {
 public:
  static absl::StatusOr<std::unique_ptr<DnnlRuntime>> Create();

  const dnnl::engine& engine() const { return engine_; }
  dnnl::stream& stream() { return stream_; }

  // Grows the shared scratchpad to at least `bytes` (called when a primitive is created; never
  // while executing).
  absl::Status ReserveScratchpad(size_t bytes);
  void* scratchpad() { return scratchpad_.get(); }
  size_t scratchpad_bytes() const { return scratchpad_bytes_; }

  // A buffer for a kernel's converted inputs (fp32 activations as bf16 before a bf16 GEMM),
  // shared like the scratchpad: kernels run one at a time. Grown when primitives are created.
  absl::Status ReserveStaging(size_t bytes);
  void* staging() { return staging_.get(); }
  // A second one, for a kernel's fp32 results before its own epilogue turns them into the
  // output (a GEMM's output before the activation that writes bf16: kernels/linear.h).
  absl::Status ReserveResultStaging(size_t bytes);
  void* result_staging() { return result_staging_.get(); }

 private:
  DnnlRuntime() = default;
  dnnl::engine engine_;
  dnnl::stream stream_;
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, FreeDeleter> scratchpad_;
  size_t scratchpad_bytes_ = 0;
  std::unique_ptr<void, FreeDeleter> staging_;
  size_t staging_bytes_ = 0;
  std::unique_ptr<void, FreeDeleter> result_staging_;
  size_t result_staging_bytes_ = 0;
};

// oneDNN's reference kernels ("ref:any", "ref_int8:any"...): correct, and two to three orders of
// magnitude slower than its JIT ones.
inline bool IsReferenceKernel(std::string_view implementation) {
  return implementation.rfind("ref", 0) == 0;
}

// oneDNN's data type for a buffer of activations of `type`.
inline dnnl::memory::data_type DnnlDataType(ElementType type) {
  return type == ElementType::kBF16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
}

// Attributes every kernel uses: a user-provided scratchpad (so executing allocates no buffers).
dnnl::primitive_attr UserScratchpadAttr();

// Executes `primitive` with `args` on the runtime's stream and waits. `what` names the operation in
// errors. Arguments go straight to oneDNN's C API (no std::unordered_map built here).
absl::Status Execute(const dnnl::primitive& primitive, const dnnl::stream& stream,
                     std::span<const dnnl_exec_arg_t> args, const char* what);
inline absl::Status Execute(const dnnl::primitive& primitive, const dnnl::stream& stream,
                            std::initializer_list<dnnl_exec_arg_t> args, const char* what) {
  return Execute(primitive, stream, std::span<const dnnl_exec_arg_t>(args.begin(), args.size()),
                 what);
}

}  // namespace tessera::engine::kernels
