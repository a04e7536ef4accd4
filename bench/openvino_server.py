"""A peer a user would otherwise pick: OpenVINO behind FastAPI/uvicorn, serving the same Vertex
`:predict` shape as Tessera, with the checkpoint's own preprocessing (transformers'
ViTImageProcessor from preprocessor_config.json) and labels (config.json). One uvicorn worker;
decode, preprocessing and inference run in its thread pool (an infer request per thread), on
OpenVINO's THROUGHPUT hint.

  .venv/bin/python bench/openvino_server.py --model-dir build/bench-models/vit-base-16 \
      --port 18090 --precision bf16 --threads 2
  POST /v1/endpoints/openvino:predict  {"instances": [{"string_input": {"b64": "..."}}]}
"""
import base64
import os
import threading

import openvino as ov
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from transformers import ViTImageProcessor

from vit_peer import classify, load_labels, server_arguments


def build_app(model_dir, precision, threads):
    processor = ViTImageProcessor.from_pretrained(model_dir)
    labels = load_labels(model_dir)
    core = ov.Core()
    compiled = core.compile_model(os.path.join(model_dir, "model.onnx"), "CPU", {
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "THROUGHPUT",
        "INFERENCE_PRECISION_HINT": precision,
    })
    local = threading.local()  # one infer request per thread-pool thread, made on first use
    app = FastAPI()

    def classify_here(image_bytes):
        if not hasattr(local, "request"):
            local.request = compiled.create_infer_request()
        return classify(image_bytes, processor, local.request, labels)

    @app.post("/v1/endpoints/openvino:predict")
    async def predict(request: Request):
        try:
            body = await request.json()
            images = [base64.b64decode(i["string_input"]["b64"]) for i in body["instances"]]
        except Exception as e:  # a bad request is the client's, as on Tessera
            raise HTTPException(status_code=400, detail=str(e))
        predictions = [await run_in_threadpool(classify_here, image) for image in images]
        return {"predictions": predictions, "deployedModelId": "openvino"}

    return app


def main():
    args = server_arguments(__doc__, default_port=18090)
    uvicorn.run(build_app(args.model_dir, args.precision, args.threads), host="127.0.0.1",
                port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
