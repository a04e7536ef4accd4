#!/usr/bin/env python3
"""Times OpenVINO's int8 the way bench/engine_bench times Tessera's: the same ONNX export and input
batch (make_bench_models.py), the same batch sizes and thread count. The model is quantized by
NNCF's post-training quantization (nncf.quantize, transformer mode: int8 weights per channel,
int8 activations with static scales calibrated on the input batch's images) -- what OpenVINO's
documentation tells a user to do for int8. Runs in its own venv (bench/requirements-nncf.txt:
NNCF cannot import Debian's torch); bench/run_engine_bench.sh makes it.

  build/nncf-venv/bin/python bench/openvino_int8_bench.py --model-dir build/bench-models/vit-base-16 \\
      --inputs build/bench-models/inputs.bin --threads 2 --batches 1,8 --seconds 5

Prints one line per batch size, as openvino_bench.py:
  openvino-int8 <model> batch=<N> images_per_s=<median> ms_per_image=<median>
      best_images_per_s=<x> iterations=<n> calibration_images=<n> execution_precision=<what
      OpenVINO runs the layers NNCF left unquantized in: its default, bf16 on AVX-512 BF16 / AMX>
"""
import os

import nncf
import numpy as np
import openvino as ov

from bench_timing import peer_arguments
from openvino_bench import time_batches


def main():
    parser = peer_arguments(__doc__)
    args = parser.parse_args()

    core = ov.Core()
    all_inputs = np.fromfile(args.inputs, dtype=np.float32).reshape(-1, 3, 224, 224)
    name = os.path.basename(os.path.normpath(args.model_dir))
    model = core.read_model(os.path.join(args.model_dir, "model.onnx"))
    model.reshape({model.inputs[0]: [1, 3, 224, 224]})
    calibration = [np.ascontiguousarray(all_inputs[i:i + 1]) for i in range(len(all_inputs))]
    quantized = nncf.quantize(model, nncf.Dataset(calibration), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(calibration))
    time_batches(core, quantized, "openvino-int8", name, all_inputs, args,
                 suffix=f" calibration_images={len(calibration)}")


if __name__ == "__main__":
    main()
