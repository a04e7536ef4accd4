// A fixed-size float buffer aligned to a cache line, for workspaces the kernels stream through.
// Contract: allocated once (constructor), never resized; move-only; not thread-safe to write.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>

namespace tessera::engine::kernels {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Zero-filled; throws std::bad_alloc like std::vector when memory is exhausted.
  explicit AlignedBuffer(size_t size) : size_(size) {
    if (size == 0) return;
    constexpr size_t kAlign = 64;
    size_t bytes = (size * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    data_.reset(static_cast<float*>(std::aligned_alloc(kAlign, bytes)));
    if (data_ == nullptr) throw std::bad_alloc();
    std::fill(data_.get(), data_.get() + size, 0.f);
  }
  float* data() { return data_.get(); }
  // The buffer as elements of a type no wider than a float (bf16 activations use the same
  // workspace as fp32 ones; one model uses a buffer as one type only).
  template <typename T>
  T* as() {
    static_assert(sizeof(T) <= sizeof(float) && alignof(T) <= alignof(float));
    return reinterpret_cast<T*>(data_.get());
  }
  const float* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<float> span() { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t size_ = 0;
};

}  // namespace tessera::engine::kernels
