// The GEMM rate of whichever oneDNN this is compiled against, at ViT-B/16's linear-layer shapes:
// fp32, bf16 and int8 (u8 activations x s8 weights, per-channel scales, f32 out) matmuls with
// weights prepacked in the layout the primitive picks, as the engine uses them. Built twice by
// bench/onednn_versions/run.sh -- against Debian's oneDNN 2.6 and PyPI's onednn-devel 3.x -- to
// decide which the engine should use (docs/performance.md). Prints one line per shape:
//   onednn=<version> precision=<p> m=<M> k=<K> n=<N> gflops=<x> impl=<oneDNN's kernel>
// or impl=unsupported where this oneDNN has no kernel for it on this host.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace {

using dnnl::memory;
using Dt = memory::data_type;
using Tag = memory::format_tag;

struct Shape {
  int64_t m, k, n;
};

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Fill(const memory& m, size_t bytes, Dt type) {
  void* data = m.get_data_handle();
  if (type == Dt::f32) {
    std::fill_n(static_cast<float*>(data), bytes / sizeof(float), 1.f);
  } else if (type == Dt::bf16) {
    std::fill_n(static_cast<uint16_t*>(data), bytes / sizeof(uint16_t), uint16_t{0x3F80});
  } else {
    std::fill_n(static_cast<int8_t*>(data), bytes, int8_t{1});
  }
}

dnnl::matmul::primitive_desc MakeMatmul(const dnnl::engine& engine, const Shape& s, Dt src_type,
                                        Dt weight_type) {
  memory::desc src({s.m, s.k}, src_type, Tag::ab);
  memory::desc weights({s.k, s.n}, weight_type, Tag::any);
  memory::desc dst({s.m, s.n}, Dt::f32, Tag::ab);
  dnnl::primitive_attr attr;
  const bool int8 = weight_type == Dt::s8;
#if DNNL_VERSION_MAJOR >= 3
  if (int8) attr.set_scales_mask(DNNL_ARG_WEIGHTS, 1 << 1);
  return dnnl::matmul::primitive_desc(engine, src, weights, dst, attr);
#else
  if (int8) attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), attr, engine);
#endif
}

void Time(const dnnl::engine& engine, dnnl::stream& stream, const char* name, const Shape& s,
          Dt src_type, Dt weight_type, double seconds) {
  const std::string version = std::to_string(DNNL_VERSION_MAJOR) + "." +
                              std::to_string(DNNL_VERSION_MINOR) + "." +
                              std::to_string(DNNL_VERSION_PATCH);
  dnnl::matmul::primitive_desc pd;
  try {
    pd = MakeMatmul(engine, s, src_type, weight_type);
  } catch (const dnnl::error&) {
    std::printf("onednn=%s precision=%s m=%ld k=%ld n=%ld gflops=0 impl=unsupported\n",
                version.c_str(), name, s.m, s.k, s.n);
    return;
  }
  memory src(pd.src_desc(), engine), weights(pd.weights_desc(), engine), dst(pd.dst_desc(), engine);
  memory scales({{s.n}, Dt::f32, Tag::a}, engine);
  // Ones in every type (1.0f, bf16 0x3F80, int8 1): normal numbers, no denormal slow paths.
  Fill(src, pd.src_desc().get_size(), src_type);
  Fill(weights, pd.weights_desc().get_size(), weight_type);
  std::fill_n(static_cast<float*>(scales.get_data_handle()), s.n, 0.01f);
  dnnl::matmul matmul(pd);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
  if (weight_type == Dt::s8) {
#if DNNL_VERSION_MAJOR >= 3
    args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS] = scales;
#else
    args[DNNL_ARG_ATTR_OUTPUT_SCALES] = scales;
#endif
  }
  for (int i = 0; i < 3; ++i) matmul.execute(stream, args);
  stream.wait();
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  do {
    const auto t0 = std::chrono::steady_clock::now();
    matmul.execute(stream, args);
    stream.wait();
    times.push_back(Seconds(t0));
  } while (Seconds(start) < seconds || times.size() < 5);
  std::sort(times.begin(), times.end());
  const double gflops = 2.0 * s.m * s.k * s.n / times[times.size() / 2] / 1e9;
  std::printf("onednn=%s precision=%s m=%ld k=%ld n=%ld gflops=%.1f impl=%s\n", version.c_str(),
              name, s.m, s.k, s.n, gflops, pd.impl_info_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::stod(argv[1]) : 2.0;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  // ViT-B/16's encoder GEMMs (QKV, attention output, MLP in, MLP out) at batch 1 and 8.
  for (int64_t images : {1, 8}) {
    for (const Shape& base : {Shape{197, 768, 2304}, Shape{197, 768, 768}, Shape{197, 768, 3072},
                              Shape{197, 3072, 768}}) {
      const Shape s{base.m * images, base.k, base.n};
      Time(engine, stream, "fp32", s, Dt::f32, Dt::f32, seconds);
      Time(engine, stream, "bf16", s, Dt::bf16, Dt::bf16, seconds);
      Time(engine, stream, "int8", s, Dt::u8, Dt::s8, seconds);
    }
  }
  return 0;
}
