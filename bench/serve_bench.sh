#!/usr/bin/env bash
# Served throughput vs the engine alone (docs/performance.md): the same image file through
#   1. the engine alone: bench/classify_bench (decode + preprocess on THREADS threads, forward
#      on THREADS engine threads, batches of BATCH), and
#   2. the whole stack: wrk (CONNECTIONS connections) -> tessera serve (HTTP, JSON, routing) ->
#      one replica (HTTP over a unix socket, base64, dynamic batcher with max_batch_size BATCH,
#      same THREADS) -> engine,
# in ROUNDS alternating rounds (this machine is shared and noisy: both see the same background),
# and prints the median images/s of each, the median of the rounds' served / engine ratios, and
# wrk's p50/p99 latency. Served images/s: the slope of the answers over a window that starts
# WARMUP_SECONDS into the load (bench/predict.lua).
#
#   bench/serve_bench.sh [BUILD_DIR]                 (default: build)
#   MODELS="vit-base-16" ROUNDS=5 SECONDS_PER_RUN=15 WARMUP_SECONDS=6 CONNECTIONS=16 bench/serve_bench.sh
#
# Models come from bench/make_bench_models.py (random-weight ViT-B/16 and ViT-Tiny/16) plus the
# vendored fashion-vit; IMAGE defaults to the vendored COCO photo (640x480 PNG). The load
# generator, the server and the replica share the machine's cores: on a 2-core host that is part
# of what the ratio measures.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
models="${MODELS:-vit-base-16 vit-tiny-16 fashion-vit}"
rounds="${ROUNDS:-5}"
seconds="${SECONDS_PER_RUN:-15}"
connections="${CONNECTIONS:-16}"
threads="${THREADS:-2}"
batch="${BATCH:-8}"
warmup="${WARMUP_SECONDS:-6}"  # load before the counting window: the pipeline fills up
image="${IMAGE:-data/images/photos/coco-000000039769-cats.png}"
py=.venv/bin/python

cmake --build "$build" --target tessera classify_bench >/dev/null
OMP_WAIT_POLICY=PASSIVE "$py" bench/make_bench_models.py --out "$build/bench-models" >/dev/null
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/install-deps.sh)"; exit 1; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$build/src/cli/tessera" serve --data-dir "$work/data" --listen 127.0.0.1:0 --log-level warn \
  >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
url=""
for _ in $(seq 100); do
  url="$(grep -oE 'http://[0-9.]+:[0-9]+' "$work/serve.out" | head -1 || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/serve.err"; exit 1; }
# Every route needs a key: the admin key the first start wrote (wrk's scripts and the deploy
# helper read it from the environment).
export TESSERA_API_KEY="$(cat "$work/data/admin.key")"

"$py" -c 'import base64,json,sys; print(json.dumps({"instances": [{"b64": base64.b64encode(open(sys.argv[1], "rb").read()).decode()}]}))' \
  "$image" >"$work/body.json"
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
load() {  # SECONDS URL -> wrk's report; throughput counted in a window after WARMUP seconds
  local duration=$((warmup + $1 + 1))
  BODY_FILE="$work/body.json" WINDOW_START_S="$warmup" WINDOW_SECONDS="$1" \
    wrk -t1 -c"$connections" -d"${duration}s" --timeout 60s --latency -s bench/predict.lua "$2"
}

results=()
for model in $models; do
  dir="$build/bench-models/$model"
  [ "$model" = fashion-vit ] && dir="data/models/fashion-vit"
  dir="$(cd "$dir" && pwd)"
  read -r endpoint deployed < <("$py" bench/serve_bench_deploy.py --url "$url" --model-dir "$dir" \
    --name "$model" --machine-type "tessera-cpu-$threads" --max-batch-size "$batch")
  [ -n "$deployed" ] || exit 1
  target="$url/v1/$endpoint:predict"
  load 3 "$target" >/dev/null  # first requests: the replica's first batches
  engine=() served=() ratios=() p50=() p99=() errors=0
  for round in $(seq "$rounds"); do
    line="$("$build/bench/classify_bench" --model "$dir" --image "$image" --threads "$threads" \
      --batch "$batch" --seconds "$seconds")"
    engine+=("$(sed -E 's/.*images_per_s=([0-9.]+).*/\1/' <<<"$line")")
    load "$seconds" "$target" >"$work/wrk.txt"
    served+=("$(awk '/^Window:/ {sub("/s", "", $NF); print $NF}' "$work/wrk.txt")")
    p50+=("$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")")
    p99+=("$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")")
    # Non-2xx answers plus wrk's socket errors (connect, read, write, timeout).
    errors=$((errors + $(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10}
      END {print n + 0}' "$work/wrk.txt")))
    ratios+=("$("$py" -c "print(${served[-1]} / ${engine[-1]})")")
    echo "round $round $model engine_images_per_s=${engine[-1]} served_images_per_s=${served[-1]}" \
      "ratio=${ratios[-1]} p50=${p50[-1]} p99=${p99[-1]}"
  done
  e="$(echo "${engine[*]}" | median)"
  s="$(echo "${served[*]}" | median)"
  r="$(echo "${ratios[*]}" | median)"
  results+=("$(printf '%-12s %10.2f %10.2f %7.3f %10s %10s %7s' "$model" "$e" "$s" "$r" \
    "${p50[$((rounds / 2))]}" "${p99[$((rounds / 2))]}" "$errors")")
  # Undeploy, so the next model has the cores to itself.
  "$py" bench/serve_bench_deploy.py --url "$url" --undeploy "$endpoint" "$deployed"
done

echo
echo "image $image, $threads engine threads, batch $batch, $connections connections," \
  "$rounds rounds of ${seconds}s; medians over rounds (latency: the middle round's)." \
  "ratio: the median of each round's served / engine (a round's two runs are a minute apart and" \
  "see the same background load; medians of each side alone drift apart on a noisy host)"
printf '%-12s %10s %10s %7s %10s %10s %7s\n' model engine/s served/s ratio p50 p99 errors
printf '%s\n' "${results[@]}"
