// Engine benchmark: images/s and ms/image of the ViT forward pass (VitModel::Forward on oneDNN, in
// fp32, bf16 or int8: --precision) per batch size, the machine's measured oneDNN GEMM peak, and the
// fraction of it the model reaches. Prints figures, never pass/fail. See docs/performance.md and
// bench/run_engine_bench.sh (which also runs ONNX Runtime on the same inputs).
//
//   engine_bench --model build/bench-models/vit-base-16 --inputs build/bench-models/inputs.bin
//       --threads 2 --batches 1,4,8 --seconds 5 [--precision bf16] [--attention fused|separate]
//
// Output lines (stable, parsed by run_engine_bench.sh):
//   gemm_peak gflops=<x> shape=<MxKxN> sgemm_gflops=<x> linear_gflops=<x> linear_impl=<impl>
//   gemm_bound precision=<bf16|int8> gflops=<the engine's linear layer in it, 2048^3>
//           shape=<MxKxN> linear_impl=<impl>          (bf16 / int8 runs)
//   isa=<the instruction set the kernels dispatch to>
//   weights <model> precision=<p> weight_bytes=<prepacked weights and embeddings held>
//   tessera[-bf16|-int8][-fused-attention|-separate-attention] <model> batch=<n>
//   images_per_s=<median>
//           ms_per_image=<median>
//           best_images_per_s=<x> gflops=<at the median> peak_fraction=<gflops / fp32 gemm peak>
//           bound_fraction=<gflops / the precision's gemm_bound (fp32: the peak)>
//           iterations=<n> kernel=<oneDNN's kernel for the largest GEMM>
//           attention=<the attention kernel, kernels/attention.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "engine/kernels/dnnl_runtime.h"
#include "engine/kernels/linear.h"
#include "engine/kernels/precision.h"
#include "engine/vit/vit_model.h"
#include "fmt/format.h"

namespace tessera::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Floating-point operations of one image's forward pass as the model is defined (every token
// through every layer): 2 per multiply-add of the GEMMs and attention matmuls. The engine skips
// part of the last layer, but figures are quoted against the full model, like any framework's.
double ModelFlops(const engine::ViTConfig& c) {
  const double t = c.num_tokens(), h = c.hidden_size, i = c.intermediate_size;
  const double patch =
      double(c.num_patches()) * c.num_channels * c.patch_height * c.patch_width * h;
  const double per_layer = t * h * 3 * h + t * t * h * 2 + t * h * h + 2 * t * h * i;
  const double head =
      h * c.num_labels() * (c.architecture == engine::VitArchitecture::kDeiTWithTeacher ? 2 : 1);
  return 2 * (patch + c.num_hidden_layers * per_layer + head);
}

// The best rate (GFLOP/s) of `run`, a problem of `flops`, over `seconds` after two warm-up calls.
template <typename Run>
double BestRate(double flops, double seconds, const Run& run) {
  for (int i = 0; i < 2; ++i) run();
  double best = 0;
  const auto start = Clock::now();
  while (Seconds(start) < seconds) {
    const auto t0 = Clock::now();
    run();
    best = std::max(best, flops / Seconds(t0) / 1e9);
  }
  return best;
}

// The best fp32 GEMM rate oneDNN reaches here on a large square problem: both its BLAS-style
// dnnl_sgemm and the engine's own linear kernel (a 1x1 convolution); the peak is the larger.
double MeasureGemmPeak(double seconds) {
  constexpr int kN = 2048;
  const double flops = 2.0 * kN * kN * kN;
  std::vector<float> a(size_t(kN) * kN, 0.5f), b(size_t(kN) * kN, 0.01f), c(size_t(kN) * kN);
  const double sgemm = BestRate(flops, seconds, [&] {
    dnnl_sgemm('N', 'N', kN, kN, kN, 1.f, a.data(), kN, b.data(), kN, 0.f, c.data(), kN);
  });
  double linear_rate = 0;
  std::string impl = "?";
  auto runtime = engine::kernels::DnnlRuntime::Create();
  if (runtime.ok()) {
    auto linear = engine::kernels::Linear::Create(runtime->get(), {kN, kN}, b, {});
    if (linear.ok() && (*linear)->Prepare(kN).ok()) {
      linear_rate = BestRate(flops, seconds, [&] { (void)(*linear)->Run(kN, a.data(), c.data()); });
      impl = (*linear)->ImplementationName(kN);
    }
  }
  const double peak = std::max(sgemm, linear_rate);
  std::printf(
      "gemm_peak gflops=%.1f shape=%dx%dx%d sgemm_gflops=%.1f linear_gflops=%.1f "
      "linear_impl=%s\n",
      peak, kN, kN, kN, sgemm, linear_rate, impl.c_str());
  std::fflush(stdout);
  return peak;
}

// The engine's own linear layer in a reduced precision (bf16 or int8) on the same 2048^3 problem:
// the bound that precision's forward pass is quoted against. int8 includes the per-call dynamic
// activation quantization, which the model pays too.
double MeasurePrecisionBound(double seconds, engine::kernels::Precision precision) {
  constexpr int kN = 2048;
  const double flops = 2.0 * kN * kN * kN;
  std::vector<float> a(size_t(kN) * kN, 0.5f), b(size_t(kN) * kN, 0.01f), c(size_t(kN) * kN);
  auto runtime = engine::kernels::DnnlRuntime::Create();
  if (!runtime.ok()) return 0;
  auto linear = engine::kernels::Linear::Create(
      runtime->get(), {.in_features = kN, .out_features = kN, .precision = precision}, b, {});
  if (!linear.ok() || !(*linear)->Prepare(kN).ok()) return 0;
  const double best =
      BestRate(flops, seconds, [&] { (void)(*linear)->Run(kN, a.data(), c.data()); });
  std::printf("gemm_bound precision=%s gflops=%.1f shape=%dx%dx%d linear_impl=%s\n",
              std::string(PrecisionName(precision)).c_str(), best, kN, kN, kN,
              (*linear)->ImplementationName(kN).c_str());
  std::fflush(stdout);
  return best;
}

int Run(const std::vector<std::string>& model_dirs, const std::string& inputs_path, int threads,
        const std::vector<int>& batches, double seconds, bool gemm_peak,
        engine::kernels::Precision precision,
        std::optional<engine::kernels::AttentionKernel> attention) {
  engine::kernels::SetThreads(threads);
  std::printf("isa=%s\n", engine::kernels::HostIsaName().c_str());
  const double peak = gemm_peak ? MeasureGemmPeak(std::min(seconds, 3.0)) : 0;
  const double bound = precision == engine::kernels::Precision::kF32
                           ? peak
                           : MeasurePrecisionBound(std::min(seconds, 3.0), precision);
  std::vector<float> inputs;
  if (!inputs_path.empty()) {
    std::ifstream in(inputs_path, std::ios::binary | std::ios::ate);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", inputs_path.c_str());
      return 1;
    }
    inputs.resize(static_cast<size_t>(in.tellg()) / sizeof(float));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(inputs.data()), inputs.size() * sizeof(float));
  }
  const int max_batch = *std::max_element(batches.begin(), batches.end());
  for (const std::string& dir : model_dirs) {
    auto model = engine::VitModel::Load(dir, {.num_threads = threads,
                                              .max_batch_size = max_batch,
                                              .precision = precision,
                                              .attention = attention});
    if (!model.ok()) {
      std::fprintf(stderr, "%s: %s\n", dir.c_str(), std::string(model.status().message()).c_str());
      return 1;
    }
    const auto& config = (*model)->config();
    const size_t per_image = config.pixels_per_image();
    std::printf("weights %s precision=%s weight_bytes=%zu\n",
                std::filesystem::path(dir).filename().string().c_str(),
                std::string(PrecisionName(precision)).c_str(), (*model)->weight_bytes());
    if (inputs.size() < per_image * max_batch) {
      // No shared input file (or too small): deterministic pseudo-random pixels.
      inputs.resize(per_image * max_batch);
      uint32_t state = 12345;
      for (float& v : inputs) {
        state = state * 1664525u + 1013904223u;
        v = static_cast<float>(state >> 8) / float(1 << 24) * 2.f - 1.f;
      }
    }
    const std::string name = std::filesystem::path(dir).filename().string();
    const double flops = ModelFlops(config);
    std::vector<float> logits(size_t(max_batch) * config.num_labels());
    for (int batch : batches) {
      std::span<const float> pixels(inputs.data(), per_image * batch);
      std::span<float> out(logits.data(), size_t(batch) * config.num_labels());
      if (auto s = (*model)->WarmUp(batch); !s.ok()) {
        std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
        return 1;
      }
      for (int i = 0; i < 2; ++i) (void)(*model)->Forward(pixels, batch, out);  // warm caches
      // Per-iteration times: the median is the typical figure; the best one is what the
      // machine gives without interference (it is shared, so both are printed).
      std::vector<double> times;
      auto start = Clock::now();
      do {
        auto t0 = Clock::now();
        if (auto s = (*model)->Forward(pixels, batch, out); !s.ok()) {
          std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
          return 1;
        }
        times.push_back(Seconds(t0));
      } while (Seconds(start) < seconds || times.size() < 3);
      std::sort(times.begin(), times.end());
      const double median = times[times.size() / 2], best = times.front();
      const double images_per_s = batch / median, best_images_per_s = batch / best;
      const double gflops = images_per_s * flops / 1e9;
      std::string runner = precision == engine::kernels::Precision::kF32
                               ? "tessera"
                               : fmt::format("tessera-{}", PrecisionName(precision));
      // A kernel named on the command line shows in the runner (unset: the engine's choice).
      if (attention.has_value()) {
        runner += fmt::format("-{}-attention", engine::kernels::AttentionKernelName(*attention));
      }
      std::printf(
          "%s %s batch=%d images_per_s=%.3f ms_per_image=%.3f best_images_per_s=%.3f "
          "gflops=%.1f peak_fraction=%.3f bound_fraction=%.3f iterations=%zu kernel=%s "
          "attention=%s\n",
          runner.c_str(), name.c_str(), batch, images_per_s, 1000.0 / images_per_s,
          best_images_per_s, gflops, peak > 0 ? gflops / peak : 0.0,
          bound > 0 ? gflops / bound : 0.0, times.size(), (*model)->GemmKernel(batch).c_str(),
          (*model)->AttentionImplementation().c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) {
  CLI::App app{"Tessera engine benchmark: ViT forward pass images/s per batch size"};
  std::vector<std::string> models;
  std::string inputs;
  int threads = 2;
  std::string batches_text = "1,4,8";
  double seconds = 5;
  bool no_gemm_peak = false;
  std::string precision_name = "fp32";
  std::string attention_name = "auto";
  app.add_option("--model", models, "Checkpoint folder(s)")->required();
  app.add_option("--precision", precision_name, "fp32, bf16 or int8 (the encoder's GEMMs)");
  app.add_option("--attention", attention_name,
                 "fused, separate or auto: the engine's choice (kernels/attention.h)")
      ->check(CLI::IsMember({"auto", "fused", "separate"}));
  app.add_option("--inputs", inputs, "float32 [N, 3, H, W] pixels (bench/make_bench_models.py)");
  app.add_option("--threads", threads, "OpenMP threads")->check(CLI::Range(1, 4096));
  app.add_option("--batches", batches_text, "Comma-separated batch sizes");
  app.add_option("--seconds", seconds, "Minimum timed seconds per batch size");
  app.add_flag(
      "--no-gemm-peak", no_gemm_peak,
      "Skip measuring the fp32 GEMM peak (a bf16 / int8 run still measures its own bound)");
  CLI11_PARSE(app, argc, argv);
  std::vector<int> batches;
  for (size_t start = 0; start <= batches_text.size();) {
    size_t end = batches_text.find(',', start);
    if (end == std::string::npos) end = batches_text.size();
    batches.push_back(std::stoi(batches_text.substr(start, end - start)));
    start = end + 1;
  }
  auto precision = tessera::engine::kernels::ParsePrecision(precision_name);
  if (!precision.ok()) {
    std::fprintf(stderr, "%s\n", std::string(precision.status().message()).c_str());
    return 2;
  }
  std::optional<tessera::engine::kernels::AttentionKernel> attention;
  if (attention_name == "fused") attention = tessera::engine::kernels::AttentionKernel::kFused;
  if (attention_name == "separate") {
    attention = tessera::engine::kernels::AttentionKernel::kSeparate;
  }
  return tessera::bench::Run(models, inputs, threads, batches, seconds, !no_gemm_peak, *precision,
                             attention);
}
