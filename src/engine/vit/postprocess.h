// Post-processing of one image's logits: softmax probabilities and the top-k classes.
// Contract: pure functions, no shared state, safe from any thread.
#pragma once

#include <span>
#include <vector>

namespace tessera::engine {

struct ClassScore {
  int class_index = 0;
  float probability = 0.f;
};

// probabilities[i] = exp(logits[i] - max) / sum_j exp(logits[j] - max), computed in double so a
// large spread of logits neither overflows nor loses the small classes. Sizes must match.
void Softmax(std::span<const float> logits, std::span<float> probabilities);

// The k most probable classes, most probable first; ties keep the lower class index first (as
// torch.topk does on CPU for equal values). k is clamped to [0, logits.size()].
std::vector<ClassScore> TopK(std::span<const float> logits, int k);

}  // namespace tessera::engine
