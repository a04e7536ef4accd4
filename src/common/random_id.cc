#include "common/random_id.h"

#include <cstdint>
#include <random>

#include "fmt/format.h"

namespace tessera {

std::string RandomHexId(int digits) {
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  std::string out;
  while (static_cast<int>(out.size()) < digits) out += fmt::format("{:016x}", generator());
  out.resize(static_cast<size_t>(digits));
  return out;
}

}  // namespace tessera
