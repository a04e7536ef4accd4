#include "engine/kernels/precision.h"

#include "fmt/format.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace tessera::engine::kernels {
namespace {

// oneDNN's ISA values are nested bit sets: an ISA includes another when it holds all its bits.
bool HostHas(dnnl::cpu_isa isa) {
  const auto host = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto wanted = static_cast<unsigned>(isa);
  return (host & wanted) == wanted;
}

}  // namespace

std::string_view PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kF32:
      return "fp32";
    case Precision::kBF16:
      return "bf16";
    case Precision::kInt8:
      return "int8";
  }
  return "fp32";
}

absl::StatusOr<Precision> ParsePrecision(std::string_view name) {
  std::string names;
  for (Precision p : kAllPrecisions) {
    if (name == PrecisionName(p)) return p;
    names += names.empty() ? "" : ", ";
    names += PrecisionName(p);
  }
  return absl::InvalidArgumentError(
      fmt::format("precision \"{}\" is not one of {}", name.substr(0, 32), names));
}

std::string HostIsaName() {
  using dnnl::cpu_isa;
  // Most capable first.
  for (auto [isa, name] :
       {std::pair{cpu_isa::avx512_core_amx, "avx512_core_amx"},
        std::pair{cpu_isa::avx512_core_bf16, "avx512_core_bf16"},
        std::pair{cpu_isa::avx512_core_vnni, "avx512_core_vnni"},
        std::pair{cpu_isa::avx512_core, "avx512_core"}, std::pair{cpu_isa::avx2_vnni, "avx2_vnni"},
        std::pair{cpu_isa::avx2, "avx2"}, std::pair{cpu_isa::avx, "avx"},
        std::pair{cpu_isa::sse41, "sse41"}}) {
    if (HostHas(isa)) return name;
  }
  return "generic";
}

absl::Status CheckHostRuns(Precision precision) {
  switch (precision) {
    case Precision::kF32:
      return absl::OkStatus();
    case Precision::kBF16:
      // AVX-512 BF16 (dot products of bf16 pairs) or AMX tiles; anything less is emulation.
      if (HostHas(dnnl::cpu_isa::avx512_core_bf16)) return absl::OkStatus();
      return absl::FailedPreconditionError(fmt::format(
          "precision bf16 needs a CPU with AVX-512 BF16 or AMX; this host's is {} (oneDNN "
          "would only emulate bf16, slower than fp32): use fp32",
          HostIsaName()));
    case Precision::kInt8:
      // 256-bit integer SIMD at least: oneDNN's int8 kernels below AVX2 are slower than fp32.
      if (HostHas(dnnl::cpu_isa::avx2)) return absl::OkStatus();
      return absl::FailedPreconditionError(
          fmt::format("precision int8 needs a CPU with AVX2 at least; this host's is {}: use fp32",
                      HostIsaName()));
  }
  return absl::OkStatus();
}

bool HostHasInt8DotProduct() {
  // AMX includes AVX-512 VNNI. AVX-VNNI (avx2_vnni) is left out: oneDNN 2.6's AVX2 int8 kernels,
  // which such a host runs, are not known to use it, and guessing wrong would saturate.
  return HostHas(dnnl::cpu_isa::avx512_core_vnni);
}

bool HostHasAvx512() { return HostHas(dnnl::cpu_isa::avx512_core); }

bool HostHasAvx512Bf16() { return HostHas(dnnl::cpu_isa::avx512_core_bf16); }

bool HostHasAmx() { return HostHas(dnnl::cpu_isa::avx512_core_amx); }

}  // namespace tessera::engine::kernels
