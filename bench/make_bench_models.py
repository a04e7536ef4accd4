#!/usr/bin/env python3
"""Makes the benchmark models: random-weight ViT-B/16- and ViT-Tiny-shaped Hugging Face checkpoints
(config.json, preprocessor_config.json, model.safetensors) and their ONNX exports (model.onnx,
opset 14), plus one fixed input batch (inputs.bin: float32 [8, 3, 224, 224]) that both the Tessera
benchmark and the ONNX Runtime benchmark read, so both time the same work.

  .venv/bin/python bench/make_bench_models.py --out build/bench-models

Skips a model whose folder is already complete. Run with OMP_WAIT_POLICY=PASSIVE.
"""
import argparse
import os

import numpy as np
import torch
from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

MODELS = {
    # name: ViTConfig kwargs
    "vit-base-16": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=3072, image_size=224, patch_size=16),
    "vit-tiny-16": dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                        intermediate_size=768, image_size=224, patch_size=16),
}
MAX_BATCH = 8


def make_model(out_dir, kwargs):
    torch.manual_seed(0)
    config = ViTConfig(num_labels=1000, hidden_act="gelu", layer_norm_eps=1e-12, **kwargs)
    model = ViTForImageClassification(config).eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    ViTImageProcessor(size={"height": config.image_size, "width": config.image_size}).save_pretrained(out_dir)
    dummy = torch.zeros(1, 3, config.image_size, config.image_size)
    with torch.no_grad():
        torch.onnx.export(
            model, (dummy,), os.path.join(out_dir, "model.onnx"), opset_version=14,
            input_names=["pixel_values"], output_names=["logits"],
            dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name, kwargs in MODELS.items():
        out_dir = os.path.join(args.out, name)
        if all(os.path.exists(os.path.join(out_dir, f)) for f in
               ("config.json", "model.safetensors", "model.onnx", "preprocessor_config.json")):
            print(f"{name}: up to date")
            continue
        print(f"{name}: creating")
        make_model(out_dir, kwargs)
    inputs = os.path.join(args.out, "inputs.bin")
    if not os.path.exists(inputs):
        rng = np.random.default_rng(0)
        rng.uniform(-1, 1, size=(MAX_BATCH, 3, 224, 224)).astype(np.float32).tofile(inputs)


if __name__ == "__main__":
    main()
