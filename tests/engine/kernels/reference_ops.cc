#include "engine/kernels/reference_ops.h"

#include <algorithm>
#include <cmath>

namespace tessera::engine::kernels::reference {

double Activate(Eltwise activation, double x) {
  switch (activation) {
    case Eltwise::kNone:
      return x;
    case Eltwise::kGeluErf:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Eltwise::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case Eltwise::kRelu:
      return x > 0 ? x : 0;
    case Eltwise::kSilu:
      return x / (1.0 + std::exp(-x));
  }
  return x;
}

void Linear(const LinearSpec& spec, int rows, std::span<const float> x, std::span<const float> w,
            std::span<const float> b, std::span<float> y) {
  const int in = spec.in_features, out = spec.out_features;
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < out; ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      for (int i = 0; i < in; ++i) acc += double{x[size_t(r) * in + i]} * w[size_t(o) * in + i];
      acc = Activate(spec.activation, acc);
      float& dst = y[size_t(r) * out + o];
      dst = static_cast<float>(spec.epilogue == LinearEpilogue::kAccumulate ? dst + acc : acc);
    }
  }
}

void LayerNorm(int rows, int features, float eps, std::span<const float> x,
               std::span<const float> gamma, std::span<const float> beta, std::span<float> y) {
  for (int r = 0; r < rows; ++r) {
    const float* row = x.data() + size_t(r) * features;
    double mean = 0, var = 0;
    for (int i = 0; i < features; ++i) mean += row[i];
    mean /= features;
    for (int i = 0; i < features; ++i) var += (row[i] - mean) * (row[i] - mean);
    var /= features;
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int i = 0; i < features; ++i) {
      y[size_t(r) * features + i] = static_cast<float>((row[i] - mean) * inv * gamma[i] + beta[i]);
    }
  }
}

void Attention(const AttentionSpec& s, const float* q, const float* k, const float* v, float* out) {
  std::vector<double> scores(s.num_keys);
  for (int h = 0; h < s.num_heads; ++h) {
    const int64_t off = int64_t{h} * s.head_dim;
    for (int i = 0; i < s.num_queries; ++i) {
      double max = -INFINITY;
      for (int j = 0; j < s.num_keys; ++j) {
        double dot = 0;
        for (int d = 0; d < s.head_dim; ++d) {
          dot += double{q[i * s.q_row_stride + off + d]} * k[j * s.k_row_stride + off + d];
        }
        scores[j] = dot * s.scale;
        max = std::max(max, scores[j]);
      }
      double sum = 0;
      for (double& sc : scores) sum += (sc = std::exp(sc - max));
      for (int d = 0; d < s.head_dim; ++d) {
        double acc = 0;
        for (int j = 0; j < s.num_keys; ++j)
          acc += scores[j] / sum * v[j * s.v_row_stride + off + d];
        out[i * s.out_row_stride + off + d] = static_cast<float>(acc);
      }
    }
  }
}

void PatchConvolution(const PatchGeometry& g, int out_channels, std::span<const float> image,
                      std::span<const float> weight, std::span<const float> bias,
                      std::span<float> out) {
  const int rows = g.patches_per_column(), cols = g.patches_per_row();
  for (int py = 0; py < rows; ++py) {
    for (int px = 0; px < cols; ++px) {
      for (int o = 0; o < out_channels; ++o) {
        double acc = bias[o];
        for (int c = 0; c < g.channels; ++c) {
          for (int ky = 0; ky < g.patch_height; ++ky) {
            for (int kx = 0; kx < g.patch_width; ++kx) {
              const int y = py * g.patch_height + ky, x = px * g.patch_width + kx;
              acc +=
                  double{image[(size_t(c) * g.image_height + y) * g.image_width + x]} *
                  weight[((size_t(o) * g.channels + c) * g.patch_height + ky) * g.patch_width + kx];
            }
          }
        }
        out[(size_t(py) * cols + px) * out_channels + o] = static_cast<float>(acc);
      }
    }
  }
}

}  // namespace tessera::engine::kernels::reference
