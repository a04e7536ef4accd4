#!/usr/bin/env python3
"""Times a model through ONNX Runtime the way bench/engine_bench times Tessera: same input batch
(inputs.bin from make_bench_models.py), same batch sizes, intra-op threads fixed.

  .venv/bin/python bench/ort_bench.py --model-dir build/bench-models/vit-base-16 \
      --inputs build/bench-models/inputs.bin --threads 2 --batches 1,4,8 --seconds 5

--int8 times ONNX Runtime's own int8 instead: the export quantized with
onnxruntime.quantization.quantize_dynamic (weights int8 per channel, activations quantized per call:
what Tessera's int8 does), made once beside model.onnx as model-int8.onnx.

Prints one line per batch size (median and best of the per-run times):
  ort[-int8] <model> batch=<N> images_per_s=<median> ms_per_image=<median> best_images_per_s=<x> iterations=<n>
"""
import os

import numpy as np
import onnxruntime as ort

from bench_timing import peer_arguments, result_line, time_runs


def main():
    parser = peer_arguments(__doc__)
    parser.add_argument("--int8", action="store_true", help="dynamic int8 quantization")
    args = parser.parse_args()
    model = os.path.join(args.model_dir, "model.onnx")
    if args.int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = os.path.join(args.model_dir, "model-int8.onnx")
        if not os.path.exists(quantized):
            quantize_dynamic(model, quantized + ".tmp", weight_type=QuantType.QInt8,
                             per_channel=True)
            os.replace(quantized + ".tmp", quantized)
        model = quantized

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model, opts,
                                   providers=["CPUExecutionProvider"])
    name = os.path.basename(os.path.normpath(args.model_dir))
    all_inputs = np.fromfile(args.inputs, dtype=np.float32).reshape(-1, 3, 224, 224)
    for batch in [int(b) for b in args.batches.split(",")]:
        x = np.ascontiguousarray(all_inputs[:batch])
        median, best, n = time_runs(lambda: session.run(None, {"pixel_values": x}), args.seconds,
                                    args.min_iters)
        runner = "ort-int8" if args.int8 else "ort"
        print(result_line(runner, name, batch, median, best, n), flush=True)


if __name__ == "__main__":
    main()
