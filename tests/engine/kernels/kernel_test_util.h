// What the kernel tests share: random inputs, the relative error they are judged by, and a
// fixture that gives each thread count its own oneDNN runtime and random stream.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "engine/kernels/dnnl_runtime.h"
#include "gtest/gtest.h"

namespace tessera::engine::kernels::kernel_test {

inline std::vector<float> Random(std::mt19937& rng, size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline int Uniform(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

// Worst |got - ref| / (1 + |ref|); NaN fails.
inline double RelativeError(std::span<const float> got, std::span<const float> ref) {
  EXPECT_EQ(got.size(), ref.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    const double e = std::fabs(double{got[i]} - ref[i]) / (1.0 + std::fabs(double{ref[i]}));
    if (!(e <= worst)) worst = e;  // NaN -> worst = NaN -> fails
  }
  return worst;
}

// Parameterized by the OpenMP thread count; kSeed separates the suites' random streams.
template <unsigned kSeed>
class ThreadsFixture : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    SetThreads(GetParam());
    auto runtime = DnnlRuntime::Create();
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = std::move(*runtime);
  }
  std::unique_ptr<DnnlRuntime> runtime_;
  std::mt19937 rng_{kSeed + static_cast<unsigned>(GetParam())};
};

}  // namespace tessera::engine::kernels::kernel_test
