#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, generates fixtures, runs CTest (unit, golden,
# end-to-end and Python compatibility tests), then the unit tests again under ASan + UBSan, then a
# bounded libFuzzer smoke run. A missing fixture, venv or dependency fails the run.
#   scripts/test.sh            everything
#   SANITIZE_E2E=1 scripts/test.sh  also the end-to-end tests against the sanitized binary
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
  echo "== unit tests (and with SANITIZE_E2E=1 end-to-end tests) under ASan + UBSan =="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DTESSERA_SANITIZE=ON \
    -DTESSERA_BUILD_BENCH=OFF -DTESSERA_BUILD_E2E_TESTS="$([ -n "${SANITIZE_E2E:-}" ] && echo ON || echo OFF)" -DTESSERA_FIXTURES_DIR="$PWD/build/fixtures" >/dev/null
  cmake --build build-asan -j "$JOBS"
  # OpenMP's runtime keeps thread pools alive at exit, which LeakSanitizer misreports.
  export LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp"
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     ctest -j "$JOBS" -L unit --output-on-failure ${CTEST_ARGS:-})
  if [ -n "${SANITIZE_E2E:-}" ]; then
    # The end-to-end tests against the sanitized `tessera` (serve, and the replicas it starts as
    # child processes of the same binary). Opt-in for now: this pass has not yet been run through
    # once (docs/reliability.md, "The test command"); the unit pass above always runs. A replica
    # killed on purpose or a crash a test tolerates must still not hide a sanitizer report, so every
    # process writes its report to a file and any file fails the pass. SANITIZE_E2E_EXCLUDE is a
    # CTest -E regex. Left out by default: the load and kill-loop tests (DataPlaneResilienceE2E:
    # their timing margins are for an optimized build) and the two client-compatibility suites
    # (they exercise the same server paths as the C++ e2e tests).
    logs="$PWD/build-asan/sanitizer-logs"
    rm -rf "$logs" && mkdir -p "$logs"
    SANITIZE_E2E_EXCLUDE="${SANITIZE_E2E_EXCLUDE:-^python_(vertex_sdk|protocols)\$|^DataPlaneResilienceE2E\.}"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path="$logs/asan" \
       UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$logs/ubsan" \
       ctest -j "$JOBS" -L e2e -E "$SANITIZE_E2E_EXCLUDE" --output-on-failure ${CTEST_ARGS:-})
    if compgen -G "$logs/*" >/dev/null; then
      echo "sanitizer reports from end-to-end processes:" >&2
      for f in "$logs"/*; do echo "--- $f" >&2; cat "$f" >&2; done
      exit 1
    fi
  fi
fi
if [ -z "${SKIP_FUZZ:-}" ]; then
  echo "== fuzz smoke run (libFuzzer, ASan + UBSan) =="
  JOBS="$JOBS" ./scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi
echo "== all tests passed =="
