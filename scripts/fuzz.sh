#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang under ASan + UBSan (build-fuzz/) and runs each
# for SECONDS_PER_TARGET seconds from its committed seed corpus, then prints per target the
# executions, the crashes and the time. Exits non-zero when any target crashed (or failed to run).
#   scripts/fuzz.sh            CI smoke run (25 s per target)
#   scripts/fuzz.sh 600        a long run
#   FUZZ_TARGETS="base64_fuzzer tar_extract_fuzzer" scripts/fuzz.sh 60   some targets only
#   FUZZ_KEEP_GOING=1 scripts/fuzz.sh 600   fork mode: keep fuzzing after a crash, count them all
# New inputs found go to build-fuzz/corpus/<target>/ (not the committed corpus); crashing inputs
# to build-fuzz/crashes/<target>/ (emptied at the start of each run). Reproduce one: build-fuzz/fuzz/<target> <crash file>.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-25}"
JOBS="${JOBS:-$(nproc)}"
BUILD=build-fuzz

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found (scripts/install-deps.sh installs clang)" >&2
  exit 1
fi

echo "== fuzz: build ($BUILD, clang, ASan + UBSan + libFuzzer) =="
build_start=$SECONDS
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
  -DTESSERA_BUILD_FUZZERS=ON -DTESSERA_BUILD_TESTS=OFF -DTESSERA_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target tessera_fuzzers
echo "fuzz: build took $((SECONDS - build_start)) s"

dict_for() {
  case "$1" in
    image_decode_fuzzer) echo fuzz/dict/image.dict ;;
    tar_extract_fuzzer) echo fuzz/dict/tar.dict ;;
    base64_fuzzer | resource_name_fuzzer) echo "" ;;
    *) echo fuzz/dict/json.dict ;;
  esac
}

targets="${FUZZ_TARGETS:-$(cd fuzz/corpus && ls)}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# OpenMP's runtime keeps thread pools alive at exit, which LeakSanitizer misreports.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}"

summary=()
failed=0
for target in $targets; do
  binary="$BUILD/fuzz/$target"
  corpus="$BUILD/corpus/$target"
  crashes="$BUILD/crashes/$target"
  log="$BUILD/logs/$target.log"
  rm -rf "$crashes"  # this run's findings only
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=2560
        -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$crashes/")
  dict="$(dict_for "$target")"
  [ -n "$dict" ] && args+=(-dict="$dict")
  if [ -n "${FUZZ_KEEP_GOING:-}" ]; then
    args+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  fi
  echo "== fuzz: $target (${SECONDS_PER_TARGET} s) =="
  start=$SECONDS
  rc=0
  "$binary" "${args[@]}" "$corpus" "fuzz/corpus/$target" >"$log" 2>&1 || rc=$?
  elapsed=$((SECONDS - start))
  execs="$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)"
  [ -z "$execs" ] && execs="$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)"
  found="$(find "$crashes" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \
           -o -name 'leak-*' \) | wc -l)"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    [ "$found" -eq 0 ] && found=1
    echo "fuzz: $target FAILED (exit $rc); last lines of $log:"
    grep -E 'ERROR|SUMMARY|invariant|uncaught|==[0-9]+==|#[0-9]+ 0x' "$log" | head -20 || true
    ls "$crashes"
  fi
  summary+=("$(printf '%-30s %12s %8s %6s s' "$target" "${execs:-0}" "$found" "$elapsed")")
done

echo "== fuzz: summary (${SECONDS_PER_TARGET} s per target) =="
printf '%-30s %12s %8s %8s\n' target executions crashes time
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: crashes found (inputs under $BUILD/crashes/)" >&2
  exit 1
fi
echo "fuzz: no crashes"
