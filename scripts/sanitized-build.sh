#!/usr/bin/env bash
# Configures and builds the one sanitized build, build-asan/: clang, ASan + UBSan, and libFuzzer's
# coverage instrumentation on every library, so the tests (scripts/test.sh runs unit and
# end-to-end tests against it) and the fuzz targets (scripts/fuzz.sh) share its objects instead of
# compiling everything twice. Unity build (UNITY_BUILD=OFF for a plain one).
#   scripts/sanitized-build.sh                     tests, `tessera` and fuzz targets
#   scripts/sanitized-build.sh tessera_fuzzers     the fuzz targets only
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${JOBS:-$(nproc)}"
if ! command -v clang++ >/dev/null; then
  echo "sanitized build: clang++ not found (scripts/install-deps.sh installs clang)" >&2
  exit 1
fi
# The fixtures path is the Release build's (scripts/make-fixtures.sh build/fixtures): the golden
# unit tests read them from there.
cmake -S . -B build-asan -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
  -DCMAKE_UNITY_BUILD="${UNITY_BUILD:-ON}" \
  -DTESSERA_SANITIZE=ON -DTESSERA_BUILD_FUZZERS=ON -DTESSERA_BUILD_BENCH=OFF \
  -DTESSERA_BUILD_E2E_TESTS=ON \
  -DTESSERA_FIXTURES_DIR="$PWD/build/fixtures" >/dev/null
start=$SECONDS
if [ "$#" -gt 0 ]; then cmake --build build-asan -j "$JOBS" --target "$@"; else cmake --build build-asan -j "$JOBS"; fi
echo "sanitized build: $((SECONDS - start)) s"
