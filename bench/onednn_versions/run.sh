#!/usr/bin/env bash
# Debian's oneDNN (2.6.3, what the engine links) against PyPI's onednn-devel (3.x) at ViT-B/16's
# GEMM shapes, fp32 / bf16 / int8, on this host (docs/performance.md, "Which oneDNN").
#
#   bench/onednn_versions/run.sh [BUILD_DIR]      (default: build; SECONDS_PER_SHAPE=2)
#
# Builds bench/onednn_versions/gemm_rate.cc twice: against /usr (libdnnl-dev, OpenMP) and against
# PyPI's onednn + onednn-devel installed into BUILD_DIR/onednn-pypi (a venv: the wheel is built for
# TBB threading and the SYCL runtime, and pulls Intel's DPC++ and OpenCL runtimes, ~2 GB), then
# prints both rates per shape and their ratio. The machine is shared: compare ratios of one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build}"
seconds="${SECONDS_PER_SHAPE:-2}"
onednn_version="${ONEDNN_VERSION:-2026.1.0}"
venv="$build/onednn-pypi"
out="$build/onednn-versions"
mkdir -p "$out"

if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install -q --disable-pip-version-check "onednn==$onednn_version" \
  "onednn-devel==$onednn_version"
prefix="$(cd "$venv" && pwd)"

g++ -O2 -std=c++17 bench/onednn_versions/gemm_rate.cc -o "$out/gemm_rate_debian" -ldnnl
g++ -O2 -std=c++17 -I "$prefix/include" bench/onednn_versions/gemm_rate.cc \
  -o "$out/gemm_rate_pypi" -L "$prefix/lib" -ldnnl -Wl,-rpath,"$prefix/lib"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
isa=none
for flag in amx_tile avx512_bf16 avx512_vnni avx512f avx2; do
  if grep -qw "$flag" /proc/cpuinfo; then isa="$flag"; break; fi
done
threads="${THREADS:-2}"
# Both on the same cores: OpenMP (2.6) takes OMP_NUM_THREADS, TBB (3.x) the affinity mask.
cores="0-$((threads - 1))"
echo "best ISA flag: $isa; $threads threads on cores $cores"
OMP_NUM_THREADS="$threads" taskset -c "$cores" "$out/gemm_rate_debian" "$seconds" | tee -a "$log"
# The wheel's CPU engine is a SYCL device: the OpenCL CPU runtime it installed, found through
# its ICD (the .icd file in the wheel names a path from the wheel's build machine); its libraries
# (libsvml, libsycl, libtbb) from the venv.
LD_LIBRARY_PATH="$prefix/lib" OCL_ICD_FILENAMES="$prefix/lib/libintelocl.so" \
  taskset -c "$cores" "$out/gemm_rate_pypi" "$seconds" | grep -v '^onednn_verbose' | tee -a "$log" ||
  echo "PyPI oneDNN failed to run (see above); its column stays empty" >&2

python3 - "$log" <<'PY'
import re, sys
rates, impls = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r"onednn=(\d+)\.\S+ precision=(\S+) m=(\d+) k=(\d+) n=(\d+) gflops=([\d.]+) impl=(\S+)", line)
    if m:
        key = (m[2], int(m[3]), int(m[4]), int(m[5]))
        rates[(m[1], key)] = float(m[6])
        impls[(m[1], key)] = m[7]
print()
print(f"{'precision':<9} {'M x K x N':>17} {'2.x GFLOP/s':>11} {'3.x GFLOP/s':>11} {'3.x/2.x':>7}  kernels (2.x | 3.x)")
for key in sorted({k for _, k in rates}):
    a, b = rates.get(("2", key), 0), rates.get(("3", key), 0)
    ratio = f"{b / a:7.2f}" if a > 0 and b > 0 else "      -"
    print(f"{key[0]:<9} {f'{key[1]}x{key[2]}x{key[3]}':>17} {a:>11.1f} {b:>11.1f} {ratio}  "
          f"{impls.get(('2', key), '-')} | {impls.get(('3', key), '-')}")
PY
