#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, generates fixtures, runs CTest (unit, golden,
# end-to-end and Python compatibility tests), then the unit tests again under ASan + UBSan.
#   scripts/test.sh            everything
#   SKIP_ASAN=1 scripts/test.sh  skip the sanitizer pass (local iteration)
#   SKIP_FUZZ=1 scripts/test.sh  skip the fuzz smoke run (scripts/fuzz.sh, after the sanitizer pass)
#   FUZZ_SECONDS=60 scripts/test.sh  seconds per fuzz target (default 20)
#   CTEST_ARGS="-R engine" scripts/test.sh   pass a filter to both ctest runs
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${JOBS:-$(nproc)}"

./scripts/install-deps.sh

echo "== build (Release) =="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"

echo "== fixtures =="
./scripts/make-fixtures.sh build/fixtures

echo "== tests =="
(cd build && ctest -j "$JOBS" --output-on-failure ${CTEST_ARGS:-})

if [ -z "${SKIP_ASAN:-}" ]; then
  echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DTESSERA_SANITIZE=ON \
    -DTESSERA_BUILD_BENCH=OFF -DTESSERA_BUILD_E2E_TESTS=OFF -DTESSERA_FIXTURES_DIR="$PWD/build/fixtures" >/dev/null
  cmake --build build-asan -j "$JOBS"
  # OpenMP's runtime keeps thread pools alive at exit, which LeakSanitizer misreports.
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     LSAN_OPTIONS=suppressions="$PWD/../tests/lsan.supp" \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest -j "$JOBS" -L unit --output-on-failure ${CTEST_ARGS:-})
fi
if [ -z "${SKIP_FUZZ:-}" ]; then
  echo "== fuzz smoke run (libFuzzer, ASan + UBSan) =="
  JOBS="$JOBS" ./scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi
echo "== all tests passed =="
