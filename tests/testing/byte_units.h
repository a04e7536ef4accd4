// Byte sizes the tests write host and machine memory in.
#pragma once

#include <cstdint>

namespace tessera::testing {

inline constexpr int64_t kMiB = int64_t{1} << 20;
inline constexpr int64_t kGiB = int64_t{1} << 30;

}  // namespace tessera::testing
