#!/usr/bin/env bash
# Tessera's engine against ONNX Runtime and OpenVINO on the same models and inputs
# (docs/performance.md).
#
#   bench/run_engine_bench.sh [BUILD_DIR]        (default: build)
#   ROUNDS=3 SECONDS_PER_BATCH=5 THREADS=2 BATCHES=1,4,8 bench/run_engine_bench.sh build
#   PRECISIONS=fp32,bf16,int8 ...   the precisions to time (default: every one this host runs
#                              natively; the ISA and kernels are printed). Peers per precision:
#                              fp32 ONNX Runtime and OpenVINO, bf16 OpenVINO, int8 ONNX Runtime's
#                              dynamic quantization and OpenVINO's through NNCF (its own venv,
#                              BUILD_DIR/nncf-venv, bench/requirements-nncf.txt).
#   ATTENTION_AB=0              skip timing the attention kernel the engine does not pick (default:
#                              timed -- fp32 with the fused kernel, bf16 / int8 with the separate
#                              one where they ran the fused AMX one -- and its ratio to the default
#                              printed; kernels/attention.h)
#
# 1. makes the random-weight ViT-B/16 and ViT-Tiny/16 checkpoints, their ONNX exports and one
#    shared input batch (bench/make_bench_models.py, into BUILD_DIR/bench-models; skipped when
#    present);
# 2. runs ROUNDS rounds, each timing Tessera (BUILD_DIR/bench/engine_bench) and then ONNX Runtime
#    (bench/ort_bench.py, intra_op_num_threads=THREADS) on every model and batch size, so both see
#    the same background load;
# 3. prints the median images/s of each and the ratio Tessera / ONNX Runtime.
# The machine is shared: expect noise; compare the ratios of one run, not figures across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
rounds="${ROUNDS:-3}"
seconds="${SECONDS_PER_BATCH:-5}"
threads="${THREADS:-2}"
batches="${BATCHES:-1,4,8}"
models_dir="$build/bench-models"
models=(vit-base-16 vit-tiny-16)
precisions="${PRECISIONS:-}"
if [ -z "$precisions" ]; then
  precisions=fp32
  # The others where the host runs them natively (classify refuses them by name elsewhere).
  for p in bf16 int8; do
    if "$build/src/cli/tessera" classify --model data/models/fashion-vit --precision "$p" \
         data/images/fashion/0018-bag.png >/dev/null 2>&1; then
      precisions="$precisions,$p"
    fi
  done
fi

[ -x "$build/bench/engine_bench" ] || cmake --build "$build" --target engine_bench
.venv/bin/python -c "import openvino" 2>/dev/null || .venv/bin/pip install -q -r bench/requirements-bench.txt
OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/make_bench_models.py --out "$models_dir"
nncf_python="$build/nncf-venv/bin/python"
if [[ ",$precisions," == *,int8,* ]] && ! "$nncf_python" -c "import nncf" 2>/dev/null; then
  # Without --system-site-packages: NNCF cannot import Debian's torch.
  python3 -m venv "$build/nncf-venv"
  "$build/nncf-venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements-nncf.txt
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "== $rounds round(s), $threads threads, batches $batches, >= ${seconds}s per figure"
for round in $(seq "$rounds"); do
  echo "-- round $round"
  peak_flag=""
  [ "$round" -eq 1 ] || peak_flag="--no-gemm-peak"
  for model in "${models[@]}"; do
    for precision in ${precisions//,/ }; do
      "$build/bench/engine_bench" --model "$models_dir/$model" --inputs "$models_dir/inputs.bin" \
        --threads "$threads" --batches "$batches" --seconds "$seconds" --precision "$precision" \
        $peak_flag | tee -a "$log"
      peak_flag="--no-gemm-peak"
    done
    if [ "${ATTENTION_AB:-1}" != 0 ]; then
      # The attention kernel the engine does not pick, timed too: fp32's fused one, and the
      # separate one for bf16 and int8 where the engine picked the fused AMX one (its line says).
      ab=()
      [[ ",$precisions," == *,fp32,* ]] && ab+=("fp32 fused")
      for p in bf16 int8; do
        grep -q "^tessera-$p $model .*attention=fused" "$log" && ab+=("$p separate")
      done
      for pair in "${ab[@]}"; do
        "$build/bench/engine_bench" --model "$models_dir/$model" --inputs "$models_dir/inputs.bin" \
          --threads "$threads" --batches "$batches" --seconds "$seconds" \
          --precision "${pair% *}" --attention "${pair#* }" --no-gemm-peak | tee -a "$log"
      done
    fi
    .venv/bin/python bench/ort_bench.py --model-dir "$models_dir/$model" \
      --inputs "$models_dir/inputs.bin" --threads "$threads" --batches "$batches" \
      --seconds "$seconds" | tee -a "$log"
    if [[ ",$precisions," == *,int8,* ]]; then
      .venv/bin/python bench/ort_bench.py --model-dir "$models_dir/$model" --int8 \
        --inputs "$models_dir/inputs.bin" --threads "$threads" --batches "$batches" \
        --seconds "$seconds" | tee -a "$log"
      "$nncf_python" bench/openvino_int8_bench.py --model-dir "$models_dir/$model" \
        --inputs "$models_dir/inputs.bin" --threads "$threads" --batches "$batches" \
        --seconds "$seconds" | tee -a "$log"
    fi
    for precision in ${precisions//,/ }; do
      [ "$precision" = int8 ] && continue  # openvino_int8_bench.py, above
      [ "$precision" = fp32 ] && precision=f32
      .venv/bin/python bench/openvino_bench.py --model-dir "$models_dir/$model" \
        --inputs "$models_dir/inputs.bin" --threads "$threads" --batches "$batches" \
        --seconds "$seconds" --precision "$precision" | tee -a "$log"
    done
  done
done

.venv/bin/python - "$log" <<'EOF'
import re, statistics, sys
median, best, peak, bound_fraction = {}, {}, None, {}
for line in open(sys.argv[1]):
    m = re.match(r"(tessera\S*) (\S+) batch=(\d+) .*bound_fraction=([\d.]+)", line)
    if m:
        bound_fraction.setdefault((m[2], int(m[3]), m[1]), []).append(float(m[4]))
    m = re.match(r"(tessera\S*|ort|ort-int8|openvino-f32|openvino-bf16|openvino-int8) (\S+) batch=(\d+) images_per_s=([\d.]+) .*best_images_per_s=([\d.]+)", line)
    if m:
        key = (m[2], int(m[3]), m[1])
        median.setdefault(key, []).append(float(m[4]))
        best.setdefault(key, []).append(float(m[5]))
    m = re.match(r"gemm_peak gflops=([\d.]+)", line)
    if m:
        peak = float(m[1])
flops = {"vit-base-16": 35.14e9, "vit-tiny-16": 2.51e9}  # per image, full model (engine_bench)
nan = float("nan")
print()
print(f"oneDNN GEMM peak (2048^3, measured): {peak} GFLOP/s")
print("images/s: median over rounds of each round's median iteration; 'best': fastest iteration")
print(f"{'model':<12} {'batch':>5} {'tessera':>8} {'ms/img':>7} {'ORT':>8} {'ms/img':>7} {'ratio':>6} "
      f"{'| best: tessera':>15} {'ORT':>8} {'ratio':>6} {'| tessera % of peak':>19}")
for (model, batch) in sorted({(k[0], k[1]) for k in median}):
    t = statistics.median(median.get((model, batch, "tessera"), [nan]))
    o = statistics.median(median.get((model, batch, "ort"), [nan]))
    tb = max(best.get((model, batch, "tessera"), [nan]))
    ob = max(best.get((model, batch, "ort"), [nan]))
    frac = t * flops.get(model, nan) / 1e9 / peak * 100 if peak else nan
    print(f"{model:<12} {batch:>5} {t:>8.2f} {1000 / t:>7.1f} {o:>8.2f} {1000 / o:>7.1f} {t / o:>6.2f} "
          f"{tb:>15.2f} {ob:>8.2f} {tb / ob:>6.2f} {frac:>18.0f}%")
print()
print("images/s (median), by precision: Tessera, the best peer at that precision, their ratio,")
print("and Tessera's speed-up over its own fp32")
peers = {"fp32": ["ort", "openvino-f32"], "bf16": ["openvino-bf16"], "int8": ["ort-int8", "openvino-int8"]}
print("'bound': the share of its precision's GEMM bound (the engine's linear layer in that precision at")
print("2048^3, measured in the same run; fp32: the oneDNN peak) Tessera's forward pass reaches")
print(f"{'model':<12} {'batch':>5} {'prec':>5} {'tessera':>8} {'best peer':>14} {'img/s':>8} "
      f"{'T/peer':>6} {'vs fp32':>7} {'bound':>6}")
for (model, batch) in sorted({(k[0], k[1]) for k in median}):
    get = lambda runner: statistics.median(median.get((model, batch, runner), [nan]))
    for precision, runners in peers.items():
        t = get("tessera" if precision == "fp32" else f"tessera-{precision}")
        if t != t:
            continue
        measured = [(get(r), r) for r in runners if get(r) == get(r)]
        p, name = max(measured) if measured else (nan, "-")
        runner = "tessera" if precision == "fp32" else f"tessera-{precision}"
        if precision == "fp32":  # the peak is measured once per run (the first engine_bench call)
            frac = t * flops.get(model, nan) / 1e9 / peak if peak else nan
        else:  # each bf16 / int8 engine_bench call measures its own bound
            frac = statistics.median(bound_fraction.get((model, batch, runner), [nan]))
        print(f"{model:<12} {batch:>5} {precision:>5} {t:>8.2f} {name:>14} {p:>8.2f} "
              f"{t / p:>6.2f} {t / get('tessera'):>7.2f} {frac * 100 if frac > 0 else nan:>5.0f}%")
ab = sorted({k for k in median if k[2].endswith("-attention")})
if ab:
    print()
    print("images/s (median) with the attention kernel the engine does not pick, against its choice")
    print(f"{'model':<12} {'batch':>5} {'prec':>5} {'kernel':>8} {'img/s':>8} {'default':>8} {'ratio':>6}")
    for (model, batch, runner) in ab:
        m = re.match(r"tessera(?:-(bf16|int8))?-(fused|separate)-attention", runner)
        precision, kernel = m[1] or "fp32", m[2]
        default = "tessera" if precision == "fp32" else f"tessera-{precision}"
        f = statistics.median(median[(model, batch, runner)])
        d = statistics.median(median.get((model, batch, default), [nan]))
        print(f"{model:<12} {batch:>5} {precision:>5} {kernel:>8} {f:>8.2f} {d:>8.2f} {f / d:>6.2f}")
EOF
