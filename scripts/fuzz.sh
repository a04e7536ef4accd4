#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ in the sanitized build (build-asan/, clang, ASan + UBSan;
# scripts/sanitized-build.sh) and runs each for SECONDS_PER_TARGET seconds from its committed seed
# corpus, JOBS targets at a time, then prints per target the executions, the crashes and the time.
# Exits non-zero when any target crashed (or failed to run).
#   scripts/fuzz.sh            CI smoke run (25 s per target)
#   scripts/fuzz.sh 600        a long run
#   FUZZ_TARGETS="base64_fuzzer tar_extract_fuzzer" scripts/fuzz.sh 60   some targets only
#   FUZZ_KEEP_GOING=1 scripts/fuzz.sh 600   fork mode: keep fuzzing after a crash, count them all
# New inputs found go to build-asan/fuzz-corpus/<target>/ (not the committed corpus); crashing
# inputs to build-asan/fuzz-crashes/<target>/ (emptied at the start of each run). Reproduce one:
#   build-asan/fuzz/<target> build-asan/fuzz-crashes/<target>/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-25}"
JOBS="${JOBS:-$(nproc)}"
BUILD=build-asan

echo "== fuzz: build (clang, ASan + UBSan + libFuzzer, $BUILD) =="
JOBS="$JOBS" ./scripts/sanitized-build.sh tessera_fuzzers

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
results="$BUILD/fuzz-results"
rm -rf "$results" && mkdir -p "$results" "$BUILD/fuzz-logs"

# Runs one target; writes "<executions> <crashes> <seconds> <exit status>" to $results/<target>.
fuzz_one() {
  local target="$1"
  local binary="$BUILD/fuzz/$target" corpus="$BUILD/fuzz-corpus/$target"
  local crashes="$BUILD/fuzz-crashes/$target" log="$BUILD/fuzz-logs/$target.log"
  rm -rf "$crashes"  # this run's findings only
  mkdir -p "$corpus" "$crashes"
  local args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=2560
              -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$crashes/")
  local dict
  dict="$(dict_for "$target")"
  [ -n "$dict" ] && args+=(-dict="$dict")
  if [ -n "${FUZZ_KEEP_GOING:-}" ]; then
    args+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  fi
  local start=$SECONDS rc=0
  "$binary" "${args[@]}" "$corpus" "fuzz/corpus/$target" >"$log" 2>&1 || rc=$?
  local execs found
  execs="$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)"
  [ -z "$execs" ] && execs="$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)"
  found="$(find "$crashes" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \
           -o -name 'leak-*' \) | wc -l)"
  echo "${execs:-0} $found $((SECONDS - start)) $rc" >"$results/$target"
}

echo "== fuzz: ${SECONDS_PER_TARGET} s per target, $JOBS at a time =="
running=0
for target in $targets; do
  fuzz_one "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

failed=0
printf '%-30s %12s %8s %8s\n' target executions crashes time
for target in $targets; do
  if [ ! -f "$results/$target" ]; then
    echo "fuzz: $target did not report" >&2
    failed=1
    continue
  fi
  read -r execs found elapsed rc <"$results/$target"
  printf '%-30s %12s %8s %6s s\n' "$target" "$execs" "$found" "$elapsed"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    echo "fuzz: $target FAILED (exit $rc); last lines of $BUILD/fuzz-logs/$target.log:"
    grep -E 'ERROR|SUMMARY|invariant|uncaught|==[0-9]+==|#[0-9]+ 0x' "$BUILD/fuzz-logs/$target.log" | head -20 || true
    ls "$BUILD/fuzz-crashes/$target"
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: crashes found (inputs under $BUILD/fuzz-crashes/)" >&2
  exit 1
fi
echo "fuzz: no crashes"
