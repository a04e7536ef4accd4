#!/usr/bin/env bash
# Served throughput vs the engine alone (docs/performance.md): the same image file through
#   1. the engine alone: bench/classify_bench (decode + preprocess + forward, batches of BATCH,
#      THREADS engine threads), and
#   2. the whole stack: wrk -> tessera serve (HTTP, JSON, routing) -> one replica (HTTP over a
#      unix socket, base64, dynamic batcher with max_batch_size BATCH, same THREADS) -> engine,
# and prints images/s of each, the ratio served / engine, and wrk's p50/p99 latency.
#
#   bench/serve_bench.sh [BUILD_DIR]                 (default: build)
#   MODELS="vit-base-16" SECONDS_PER_RUN=20 CONNECTIONS=16 bench/serve_bench.sh
#
# Models come from bench/make_bench_models.py (random-weight ViT-B/16 and ViT-Tiny/16) plus the
# vendored fashion-vit; IMAGE defaults to the vendored COCO photo (640x480 PNG). The load
# generator, the server and the replica share this machine's cores with nothing else: on a
# 2-core host that is part of what the ratio measures.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
models="${MODELS:-vit-base-16 vit-tiny-16 fashion-vit}"
seconds="${SECONDS_PER_RUN:-20}"
connections="${CONNECTIONS:-16}"
threads="${THREADS:-2}"
batch="${BATCH:-8}"
image="${IMAGE:-data/images/photos/coco-000000039769-cats.png}"

cmake --build "$build" --target tessera classify_bench >/dev/null
OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/make_bench_models.py --out "$build/bench-models" >/dev/null
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

py() { .venv/bin/python -c "$@"; }
call() {  # METHOD PATH [BODY] -> body
  curl -sS --fail-with-body -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
    "$url/v1/$2"
}
wait_op() {
  local op="$1"
  while [ "$(py 'import json,sys; print(json.load(sys.stdin).get("done", False))' <<<"$op")" != True ]; do
    op="$(call POST "$(py 'import json,sys; print(json.load(sys.stdin)["name"])' <<<"$op"):wait?timeout=30s" '{}')"
  done
  py 'import json,sys; d=json.load(sys.stdin); assert "error" not in d, d; print(json.dumps(d["response"]))' <<<"$op"
}

parent="projects/bench/locations/local"
py 'import base64,json,sys; print(json.dumps({"instances": [{"b64": base64.b64encode(open(sys.argv[1], "rb").read()).decode()}]}))' \
  "$image" >"$work/body.json"
results=()
for model in $models; do
  dir="$build/bench-models/$model"
  [ "$model" = fashion-vit ] && dir="data/models/fashion-vit"
  dir="$(cd "$dir" && pwd)"
  engine_line="$("$build/bench/classify_bench" --model "$dir" --image "$image" --threads "$threads" \
    --batch "$batch" --seconds "$seconds")"
  engine_ips="$(sed -E 's/.*images_per_s=([0-9.]+).*/\1/' <<<"$engine_line")"

  uploaded="$(wait_op "$(call POST "$parent/models:upload" "{\"model\": {\"displayName\": \"$model\",
    \"artifactUri\": \"$dir\", \"containerSpec\": {\"imageUri\": \"tessera/vit\"}}}")")"
  model_name="$(py 'import json,sys; print(json.load(sys.stdin)["model"])' <<<"$uploaded")"
  endpoint="$(wait_op "$(call POST "$parent/endpoints" '{"displayName": "bench"}')" |
    py 'import json,sys; print(json.load(sys.stdin)["name"])')"
  deployed="$(wait_op "$(call POST "$endpoint:deployModel" "{\"deployedModel\": {\"model\": \"$model_name\",
    \"dedicatedResources\": {\"machineSpec\": {\"machineType\": \"tessera-cpu-$threads\"},
      \"minReplicaCount\": 1, \"maxReplicaCount\": 1},
    \"batching\": {\"maxBatchSize\": $batch, \"maxQueueDelayUs\": 2000, \"maxQueueSize\": 256}},
    \"trafficSplit\": {\"0\": 100}}")" |
    py 'import json,sys; print(json.load(sys.stdin)["deployedModel"]["id"])')"
  # Warm up, then the timed run.
  BODY_FILE="$work/body.json" wrk -t1 -c"$connections" -d3s -s bench/predict.lua \
    "$url/v1/$endpoint:predict" >/dev/null
  BODY_FILE="$work/body.json" wrk -t1 -c"$connections" -d"${seconds}s" --latency \
    -s bench/predict.lua "$url/v1/$endpoint:predict" >"$work/wrk.txt"
  served_ips="$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")"
  p50="$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")"
  p99="$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")"
  errors="$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")"
  echo "$engine_line"
  echo "served $model connections=$connections images_per_s=$served_ips p50=$p50 p99=$p99 non_2xx=${errors:-0}"
  results+=("$(printf '%-12s %10.2f %10.2f %7.3f %9s %9s %7s' "$model" "$engine_ips" "$served_ips" \
    "$(py "print($served_ips / $engine_ips)")" "$p50" "$p99" "${errors:-0}")")
  # Undeploy, so the next model has the cores to itself.
  wait_op "$(call POST "$endpoint:undeployModel" "{\"deployedModelId\": \"$deployed\"}")" >/dev/null
done

echo
echo "image $image, $threads engine threads, batch $batch, $connections connections, ${seconds}s per run"
printf '%-12s %10s %10s %7s %9s %9s %7s\n' model engine/s served/s ratio p50 p99 errors
printf '%s\n' "${results[@]}"
