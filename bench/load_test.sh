#!/usr/bin/env bash
# The seed's load test (bench/locustfile.py) against Tessera, against OpenVINO behind
# FastAPI/uvicorn (bench/openvino_server.py) and against KServe's Python model server with OpenVINO
# inside (bench/kserve_server.py, its own venv BUILD_DIR/kserve-venv): the same image, users and
# host, one after the other. Prints Locust's table for each (requests, failures, average / median /
# p95 / p99 latency, req/s) and Tessera's throughput and p99 against each peer.
#
#   bench/load_test.sh [BUILD_DIR]          (default: build)
#   USERS=10 LOAD_SECONDS=60 PRECISION=bf16 MODEL=build/bench-models/vit-base-16 bench/load_test.sh
#
# The model defaults to the random-weight ViT-B/16 of bench/make_bench_models.py (made when
# missing). PRECISION is Tessera's (fp32 or bf16); OpenVINO gets the same (f32 or bf16).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
users="${USERS:-10}"
seconds="${LOAD_SECONDS:-60}"  # not SECONDS: bash counts its own time in it
precision="${PRECISION:-fp32}"
model="${MODEL:-$build/bench-models/vit-base-16}"
machine_type="${MACHINE_TYPE:-tessera-cpu-2}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
stop() {  # PID: SIGTERM, then SIGKILL after 10 s (a peer stuck in inference ignores SIGTERM)
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$1" 2>/dev/null || true
}
trap cleanup EXIT

.venv/bin/python -c "import locust, fastapi, uvicorn, openvino" 2>/dev/null ||
  .venv/bin/pip install -q -r bench/requirements-bench.txt
kserve_python="$build/kserve-venv/bin/python"
if ! "$kserve_python" -c "import kserve, openvino, transformers" 2>/dev/null; then
  python3 -m venv "$build/kserve-venv"
  "$build/kserve-venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements-kserve.txt
fi
[ -d "$model" ] || OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/make_bench_models.py --out "$(dirname "$model")"
model="$(cd "$model" && pwd)"
echo "== $users users, ${seconds}s each, precision $precision, $model"

run_locust() {  # NAME URL PATH
  PREDICT_PATH="$3" .venv/bin/locust -f bench/locustfile.py --headless -u "$users" -r "$users" \
    -t "${seconds}s" -H "$2" --csv "$work/$1" --only-summary >/dev/null 2>&1 || true
}

# Tessera: serve, upload, deploy one replica, wait until ready.
"$build/src/cli/tessera" serve --data-dir "$work/data" --listen 127.0.0.1:18080 >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/data/admin.key" ] && break; sleep 0.2; done
export TESSERA_API_KEY="$(cat "$work/data/admin.key")"
# Random weights: their top-1 classes are noise, so the bf16/int8 warm-up check is off here.
read -r endpoint _ < <(.venv/bin/python bench/serve_bench_deploy.py --url http://127.0.0.1:18080 \
  --model-dir "$model" --machine-type "$machine_type" --precision "$precision" \
  --min-precision-agreement 0)
run_locust tessera http://127.0.0.1:18080 "/v1/$endpoint:predict"
stop "${pids[0]}"

# OpenVINO behind FastAPI.
ov_precision="$precision"; [ "$ov_precision" = fp32 ] && ov_precision=f32
.venv/bin/python bench/openvino_server.py --model-dir "$model" --port 18090 \
  --precision "$ov_precision" --threads "$(nproc)" >"$work/openvino.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -s -o /dev/null http://127.0.0.1:18090/docs && break; sleep 0.5; done
unset TESSERA_API_KEY
run_locust openvino http://127.0.0.1:18090 "/v1/endpoints/openvino:predict"
stop "${pids[1]}"

# KServe's model server (one worker, its default), OpenVINO inside.
"$kserve_python" bench/kserve_server.py --model-dir "$model" --port 18095 \
  --precision "$ov_precision" --threads "$(nproc)" >"$work/kserve.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -sf -o /dev/null http://127.0.0.1:18095/v1/models/vit && break; sleep 0.5; done
run_locust kserve http://127.0.0.1:18095 "/v1/models/vit:predict"

.venv/bin/python - "$work" <<'PY'
import csv, sys
rows = {}
for name in ("tessera", "openvino", "kserve"):
    try:
        with open(f"{sys.argv[1]}/{name}_stats.csv") as f:
            rows[name] = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    except (OSError, StopIteration):
        rows[name] = None
print(f"{'server':<10} {'requests':>8} {'failures':>8} {'avg ms':>8} {'median':>8} {'p95':>8} {'p99':>8} {'req/s':>8}")
for name, r in rows.items():
    if r is None:
        print(f"{name:<10} (no result)")
        continue
    print(f"{name:<10} {r['Request Count']:>8} {r['Failure Count']:>8} {float(r['Average Response Time']):>8.0f} "
          f"{r['50%']:>8} {r['95%']:>8} {r['99%']:>8} {float(r['Requests/s']):>8.2f}")
t = rows["tessera"]
for peer in ("openvino", "kserve"):
    o = rows[peer]
    if t and o and float(o["Requests/s"]) > 0:
        print(f"tessera / {peer}: throughput {float(t['Requests/s']) / float(o['Requests/s']):.2f}x, "
              f"p99 {float(t['99%']) / float(o['99%']):.2f}x")
PY
