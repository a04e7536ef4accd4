#!/usr/bin/env python3
"""Times a model through OpenVINO the way bench/engine_bench times Tessera: the same ONNX export and
input batch (make_bench_models.py), the same batch sizes, a fixed thread count, and an inference
precision (f32, or bf16 -- OpenVINO's default where the CPU has AVX-512 BF16 or AMX).

  .venv/bin/python bench/openvino_bench.py --model-dir build/bench-models/vit-base-16 \
      --inputs build/bench-models/inputs.bin --threads 2 --batches 1,4,8 --seconds 5 --precision bf16

Prints one line per batch size (median and best of the per-run times):
  openvino-<precision> <model> batch=<N> images_per_s=<median> ms_per_image=<median>
      best_images_per_s=<x> iterations=<n> execution_precision=<the compiled model's
      INFERENCE_PRECISION_HINT, read back>
"""
import os

import numpy as np
import openvino as ov

from bench_timing import peer_arguments, result_line, time_runs


def time_batches(core, model, runner, name, all_inputs, args, precision=None, suffix=""):
    """Times `model` at each of args.batches as every OpenVINO runner here is timed (one stream,
    LATENCY hint, args.threads threads; precision: INFERENCE_PRECISION_HINT, None for OpenVINO's
    default) and prints one result line per batch (+ the execution precision and `suffix`)."""
    for batch in [int(b) for b in args.batches.split(",")]:
        model.reshape({model.inputs[0]: [batch, 3, 224, 224]})
        config = {"INFERENCE_NUM_THREADS": args.threads, "NUM_STREAMS": 1,
                  "PERFORMANCE_HINT": "LATENCY"}
        if precision is not None:
            config["INFERENCE_PRECISION_HINT"] = precision
        compiled = core.compile_model(model, "CPU", config)
        used = compiled.get_property("INFERENCE_PRECISION_HINT")
        request = compiled.create_infer_request()
        x = np.ascontiguousarray(all_inputs[:batch])
        median, best, n = time_runs(lambda: request.infer({0: x}), args.seconds, args.min_iters)
        print(result_line(runner, name, batch, median, best, n)
              + f"{suffix} execution_precision={used}", flush=True)


def main():
    parser = peer_arguments(__doc__)
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    args = parser.parse_args()

    core = ov.Core()
    model = core.read_model(os.path.join(args.model_dir, "model.onnx"))
    name = os.path.basename(os.path.normpath(args.model_dir))
    all_inputs = np.fromfile(args.inputs, dtype=np.float32).reshape(-1, 3, 224, 224)
    time_batches(core, model, f"openvino-{args.precision}", name, all_inputs, args,
                 precision=args.precision)


if __name__ == "__main__":
    main()
