// The engine alone, end to end, as a replica's work: decode + preprocess (ImageClassifier::
// Preprocess, on THREADS threads, as the replica's io threads do it) + forward + top-1, on batches
// of one encoded image file, at a fixed thread count.
// The reference figure for bench/serve_bench.sh, which sends the same file through the whole
// serving stack. Prints figures, never pass/fail.
//
//   classify_bench --model DIR --image FILE --threads 2 --batch 8 --seconds 10
//
// Output (parsed by serve_bench.sh):
//   engine_classify batch=<n> images_per_s=<median> ms_per_image=<median> iterations=<n>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "engine/image_classifier.h"
#include "engine/kernels/dnnl_runtime.h"

int main(int argc, char** argv) {
  CLI::App app{"The engine alone: decode + preprocess + forward images/s"};
  std::string model_dir, image_path;
  int threads = 2, batch = 8;
  double seconds = 10;
  app.add_option("--model", model_dir, "Checkpoint folder")->required();
  app.add_option("--image", image_path, "An encoded image (JPEG, PNG, WebP)")->required();
  app.add_option("--threads", threads, "Engine threads")->check(CLI::Range(1, 4096));
  app.add_option("--batch", batch, "Images per Classify call")->check(CLI::Range(1, 1024));
  app.add_option("--seconds", seconds, "Minimum timed seconds");
  std::string packed;
  app.add_option("--packed-weights", packed,
                 "Map the packed weights from this file, as replicas do");
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(image_path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  if (bytes.empty()) {
    std::fprintf(stderr, "cannot read %s\n", image_path.c_str());
    return 1;
  }
  tessera::engine::kernels::SetThreads(threads);
  auto classifier = tessera::engine::ImageClassifier::Load(
      model_dir, {.num_threads = threads, .max_batch_size = batch, .packed_weights_path = packed});
  if (!classifier.ok()) {
    std::fprintf(stderr, "%s\n", std::string(classifier.status().message()).c_str());
    return 1;
  }
  tessera::engine::ImageClassifier& engine = **classifier;
  const size_t ppi = engine.pixels_per_image();
  const int labels = engine.info().num_labels;
  std::vector<float> pixels(size_t(batch) * ppi), logits(size_t(batch) * labels);
  // One batch: images preprocessed in parallel (image i on thread i % threads), then one forward.
  auto run_batch = [&]() -> bool {
    std::vector<std::thread> workers;
    std::atomic<bool> ok{true};
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = t; i < batch; i += threads) {
          if (!engine.Preprocess(bytes, std::span<float>(pixels).subspan(i * ppi, ppi)).ok()) {
            ok = false;
          }
        }
      });
    }
    for (std::thread& w : workers) w.join();
    if (!ok || !engine.Forward(pixels, batch, logits).ok()) return false;
    for (int i = 0; i < batch; ++i) {
      (void)engine.TopK(std::span<const float>(logits).subspan(i * labels, labels), 1);
    }
    return true;
  };
  using Clock = std::chrono::steady_clock;
  std::vector<double> times;
  for (int i = 0; i < 2; ++i) run_batch();  // warm up
  const auto start = Clock::now();
  do {
    const auto t0 = Clock::now();
    if (!run_batch()) {
      std::fprintf(stderr, "%s: cannot classify\n", image_path.c_str());
      return 1;
    }
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  } while (std::chrono::duration<double>(Clock::now() - start).count() < seconds ||
           times.size() < 3);
  std::sort(times.begin(), times.end());
  const double images_per_s = batch / times[times.size() / 2];
  std::printf("engine_classify batch=%d images_per_s=%.3f ms_per_image=%.3f iterations=%zu\n",
              batch, images_per_s, 1000.0 / images_per_s, times.size());
  return 0;
}
