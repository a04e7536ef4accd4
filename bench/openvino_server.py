"""A peer a user would otherwise pick: OpenVINO behind FastAPI/uvicorn, serving the same Vertex
`:predict` shape as Tessera, with the checkpoint's own preprocessing (transformers'
ViTImageProcessor from preprocessor_config.json) and labels (config.json). One uvicorn worker;
decode, preprocessing and inference run in its thread pool (an infer request per thread), on
OpenVINO's THROUGHPUT hint.

  .venv/bin/python bench/openvino_server.py --model-dir build/bench-models/vit-base-16 \
      --port 18090 --precision bf16 --threads 2
  POST /v1/endpoints/openvino:predict  {"instances": [{"string_input": {"b64": "..."}}]}
"""
import argparse
import base64
import io
import json
import os
import threading

import numpy as np
import openvino as ov
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from PIL import Image
from transformers import ViTImageProcessor


def build_app(model_dir, precision, threads):
    processor = ViTImageProcessor.from_pretrained(model_dir)
    labels = json.load(open(os.path.join(model_dir, "config.json")))["id2label"]
    core = ov.Core()
    compiled = core.compile_model(os.path.join(model_dir, "model.onnx"), "CPU", {
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "THROUGHPUT",
        "INFERENCE_PRECISION_HINT": precision,
    })
    local = threading.local()  # one infer request per thread-pool thread, made on first use
    app = FastAPI()

    def classify(image_bytes):
        image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
        pixels = processor(images=image, return_tensors="np")["pixel_values"]
        if not hasattr(local, "request"):
            local.request = compiled.create_infer_request()
        logits = local.request.infer({0: pixels})[0][0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        best = int(p.argmax())
        return {"label": labels[str(best)], "confidence": float(p[best])}

    @app.post("/v1/endpoints/openvino:predict")
    async def predict(request: Request):
        try:
            body = await request.json()
            images = [base64.b64decode(i["string_input"]["b64"]) for i in body["instances"]]
        except Exception as e:  # a bad request is the client's, as on Tessera
            raise HTTPException(status_code=400, detail=str(e))
        predictions = [await run_in_threadpool(classify, image) for image in images]
        return {"predictions": predictions, "deployedModelId": "openvino"}

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    uvicorn.run(build_app(args.model_dir, args.precision, args.threads), host="127.0.0.1",
                port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
