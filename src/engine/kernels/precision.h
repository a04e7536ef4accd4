// The arithmetic a model's matrix multiplications run in, and whether this host's CPU runs it
// natively. Dispatch is at run time: one binary serves AVX2-only, AVX-512, AVX-512 BF16/VNNI and
// AMX hosts, and a precision the host would only emulate (oneDNN emulates bf16 on plain AVX-512,
// several times slower than fp32) is refused by name instead of run slowly.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tessera::engine::kernels {

enum class Precision {
  kF32,   // fp32 everywhere
  kBF16,  // GEMM inputs and weights in bfloat16, accumulation and everything else in fp32
  kInt8,  // GEMM weights in int8 per output channel, inputs in uint8 per call (kernels/quantize.h),
          // accumulation in int32, everything else in fp32
};

// Every precision, in the order they are listed to users.
inline constexpr Precision kAllPrecisions[] = {Precision::kF32, Precision::kBF16, Precision::kInt8};

// "fp32", "bf16", "int8".
std::string_view PrecisionName(Precision precision);
// The inverse of PrecisionName; INVALID_ARGUMENT naming the accepted values otherwise.
absl::StatusOr<Precision> ParsePrecision(std::string_view name);

// The instruction set oneDNN dispatches to on this host, e.g. "avx512_core_bf16",
// "avx512_core_amx", "avx2".
std::string HostIsaName();
// OK when this host runs `precision` natively; FAILED_PRECONDITION naming the host's ISA and
// what the precision needs otherwise.
absl::Status CheckHostRuns(Precision precision);
// True when the int8 kernels multiply 8-bit integers straight into 32-bit sums (AVX-512 VNNI or
// AMX). Without it, oneDNN's int8 kernels pair products in 16 bits (vpmaddubsw), which
// saturates unless the weights keep to 7 bits (kernels/quantize.h).
bool HostHasInt8DotProduct();
// For Tessera's own kernels, by the same reading of the host as oneDNN's dispatch (so that
// DNNL_MAX_CPU_ISA caps them too): AVX-512 F/BW/VL/DQ; that plus AVX-512 BF16 (VCVTNEPS2BF16);
// AMX (bf16 and int8 tiles, with AVX-512 BF16).
bool HostHasAvx512();
bool HostHasAvx512Bf16();
bool HostHasAmx();

}  // namespace tessera::engine::kernels
