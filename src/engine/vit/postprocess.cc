#include "engine/vit/postprocess.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tessera::engine {

void Softmax(std::span<const float> logits, std::span<float> probabilities) {
  if (logits.empty() || probabilities.size() != logits.size()) return;
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(double{v} - max);
  for (size_t i = 0; i < logits.size(); ++i) {
    probabilities[i] = static_cast<float>(std::exp(double{logits[i]} - max) / sum);
  }
}

std::vector<ClassScore> TopK(std::span<const float> logits, int k) {
  const int n = static_cast<int>(logits.size());
  k = std::clamp(k, 0, n);
  if (k == 0) return {};
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto better = [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), better);
  // Probabilities of the chosen classes only: p_i = 1 / sum_j exp(l_j - l_i).
  const float max = logits[order[0]];
  double sum = 0;
  for (float v : logits) sum += std::exp(double{v} - max);
  std::vector<ClassScore> out(k);
  for (int i = 0; i < k; ++i) {
    out[i].class_index = order[i];
    out[i].probability = static_cast<float>(std::exp(double{logits[order[i]]} - max) / sum);
  }
  return out;
}

}  // namespace tessera::engine
