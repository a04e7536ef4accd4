#include "engine/kernels/dnnl_runtime.h"

#include <omp.h>
#include <sched.h>

#include <cstdlib>

#include "fmt/format.h"

namespace tessera::engine::kernels {

int DefaultThreadCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return omp_get_num_procs();
}

void SetThreads(int num_threads) {
  omp_set_num_threads(num_threads > 0 ? num_threads : DefaultThreadCount());
}

absl::Status DnnlError(const dnnl::error& e, const std::string& what) {
  std::string message = fmt::format("oneDNN failed to {}: {} (status {})", what, e.what(),
                                    static_cast<int>(e.status));
  if (e.status == dnnl_out_of_memory) return absl::ResourceExhaustedError(message);
  if (e.status == dnnl_unimplemented) return absl::UnimplementedError(message);
  return absl::InternalError(message);
}

void DnnlRuntime::FreeDeleter::operator()(void* p) const { std::free(p); }

absl::StatusOr<std::unique_ptr<DnnlRuntime>> DnnlRuntime::Create() {
  std::unique_ptr<DnnlRuntime> runtime(new DnnlRuntime());
  try {
    runtime->engine_ = dnnl::engine(dnnl::engine::kind::cpu, 0);
    runtime->stream_ = dnnl::stream(runtime->engine_);
  } catch (const dnnl::error& e) {
    return DnnlError(e, "create the CPU engine");
  }
  return runtime;
}

namespace {

// Grows `buffer` (64-byte aligned) to at least `bytes`; its contents are not kept. Kernels bind
// it at every run, never keep its address.
template <typename Buffer>
absl::Status Grow(Buffer& buffer, size_t& size, size_t bytes, const char* what) {
  if (bytes <= size) return absl::OkStatus();
  constexpr size_t kAlign = 64;
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* grown = std::aligned_alloc(kAlign, rounded);
  // On failure the old buffer stays: the primitives already made still fit in it.
  if (grown == nullptr) {
    return absl::ResourceExhaustedError(fmt::format("cannot allocate a {}-byte {}", rounded, what));
  }
  buffer.reset(grown);
  size = rounded;
  return absl::OkStatus();
}

}  // namespace

absl::Status DnnlRuntime::ReserveScratchpad(size_t bytes) {
  return Grow(scratchpad_, scratchpad_bytes_, bytes, "oneDNN scratchpad");
}

absl::Status DnnlRuntime::ReserveStaging(size_t bytes) {
  return Grow(staging_, staging_bytes_, bytes, "staging buffer");
}

absl::Status DnnlRuntime::ReserveResultStaging(size_t bytes) {
  return Grow(result_staging_, result_staging_bytes_, bytes, "result staging buffer");
}

dnnl::primitive_attr UserScratchpadAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

absl::Status Execute(const dnnl::primitive& primitive, const dnnl::stream& stream,
                     std::span<const dnnl_exec_arg_t> args, const char* what) {
  dnnl_status_t status = dnnl_primitive_execute(primitive.get(), stream.get(),
                                                static_cast<int>(args.size()), args.data());
  if (status == dnnl_success) status = dnnl_stream_wait(stream.get());
  if (status != dnnl_success) {
    return absl::InternalError(
        fmt::format("oneDNN failed to execute {} (status {})", what, static_cast<int>(status)));
  }
  return absl::OkStatus();
}

}  // namespace tessera::engine::kernels
