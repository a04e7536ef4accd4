#include "engine/vit/postprocess.h"

#include <cmath>

#include "gtest/gtest.h"

namespace tessera::engine {
namespace {

TEST(PostprocessTest, SoftmaxIsStableAndNormalized) {
  std::vector<float> logits = {1000.f, 1001.f, -1000.f, 999.f};
  std::vector<float> p(4);
  Softmax(logits, p);
  double sum = 0;
  for (float v : p) {
    EXPECT_TRUE(std::isfinite(v));
    sum += v;
  }
  EXPECT_NEAR(sum, 1.0, 1e-6);
  const double e = std::exp(1.0);
  EXPECT_NEAR(p[1], e / (1 + e + 1 / e), 1e-6);
  EXPECT_EQ(p[2], 0.f);
}

TEST(PostprocessTest, TopKOrdersByProbability) {
  std::vector<float> logits = {0.5f, 3.f, -1.f, 3.f, 2.f};
  auto top = TopK(logits, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].class_index, 1);  // tie with 3: lower index first
  EXPECT_EQ(top[1].class_index, 3);
  EXPECT_EQ(top[2].class_index, 4);
  std::vector<float> p(5);
  Softmax(logits, p);
  for (const auto& s : top) EXPECT_NEAR(s.probability, p[s.class_index], 1e-7);
  EXPECT_EQ(TopK(logits, 1).size(), 1u);
  EXPECT_EQ(TopK(logits, 99).size(), 5u);
  EXPECT_TRUE(TopK(logits, 0).empty());
  EXPECT_TRUE(TopK({}, 3).empty());
}

}  // namespace
}  // namespace tessera::engine
