#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, generates fixtures, runs CTest (unit, golden,
# end-to-end and Python compatibility tests), then all of them again under ASan + UBSan (clang),
# then a bounded libFuzzer smoke run. A missing fixture, venv or dependency fails the run.
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
# Unity build (sources of a target compiled together): about a fifth less compile time here, where
# CI has 2 cores and no compiler cache; a plain `cmake -B build` (no unity) is what most edits use.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD="${UNITY_BUILD:-ON}" >/dev/null
cmake --build build -j "$JOBS"

echo "== fixtures =="
./scripts/make-fixtures.sh build/fixtures

echo "== tests =="
(cd build && ctest -j "$JOBS" --output-on-failure ${CTEST_ARGS:-})

if [ -z "${SKIP_ASAN:-}" ]; then
  echo "== sanitized build (clang, ASan + UBSan; unit and end-to-end tests, fuzz targets) =="
  # One build for the unit tests, the fuzz targets and `tessera` with the end-to-end tests
  # (scripts/sanitized-build.sh).
  JOBS="$JOBS" ./scripts/sanitized-build.sh
  # OpenMP's runtime keeps thread pools alive at exit, which LeakSanitizer misreports.
  export LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp"
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  echo "== unit tests under ASan + UBSan =="
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     ctest -j "$JOBS" -L unit --output-on-failure ${CTEST_ARGS:-})
  # The end-to-end tests against the sanitized `tessera` (serve, and the replicas it starts as
  # child processes of the same binary). A replica killed on purpose or a crash a test tolerates
  # must still not hide a sanitizer report, so every process writes its report to a file and any
  # file fails the pass. All of them: kill loop, load, and the Python clients included.
  echo "== end-to-end tests against the sanitized binary =="
  logs="$PWD/build-asan/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path="$logs/asan" \
     UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$logs/ubsan" \
     ctest -j "$JOBS" -L e2e --output-on-failure ${CTEST_ARGS:-})
  if compgen -G "$logs/*" >/dev/null; then
    echo "sanitizer reports from end-to-end processes:" >&2
    for f in "$logs"/*; do echo "--- $f" >&2; cat "$f" >&2; done
    exit 1
  fi
fi
if [ -z "${SKIP_FUZZ:-}" ]; then
  echo "== fuzz smoke run (libFuzzer, ASan + UBSan) =="
  JOBS="$JOBS" ./scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi
echo "== all tests passed =="
