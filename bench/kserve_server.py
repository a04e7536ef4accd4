"""A peer a user would otherwise pick: KServe's Python model server (the `kserve` package: what a
KServe InferenceService with a custom predictor runs, here as a plain process) with OpenVINO
inside, serving the same model as Tessera with the checkpoint's own preprocessing (transformers'
ViTImageProcessor) and labels. KServe's v1 protocol has Vertex's body shape:

  build/kserve-venv/bin/python bench/kserve_server.py --model-dir build/bench-models/vit-base-16 \
      --port 18095 --precision f32 --threads 2
  POST /v1/models/vit:predict  {"instances": [{"string_input": {"b64": "..."}}]}
    -> {"predictions": [{"label": ..., "confidence": ...}]}

One model-server worker (KServe's default); decode, preprocessing and inference run on its event
loop thread, one OpenVINO infer request, OpenVINO's LATENCY hint on `--threads` threads (what a
single-worker KServe predictor gets from OpenVINO's defaults).
Runs in its own venv (bench/requirements-kserve.txt): kserve pins its own FastAPI and protobuf.
"""
import base64
import os

import kserve
import openvino as ov
from kserve.errors import InvalidInput
from transformers import ViTImageProcessor

from vit_peer import classify, load_labels, server_arguments


class VitClassifier(kserve.Model):
    def __init__(self, name, model_dir, precision, threads):
        super().__init__(name)
        self.model_dir, self.precision, self.threads = model_dir, precision, threads

    def load(self):
        self.processor = ViTImageProcessor.from_pretrained(self.model_dir)
        self.labels = load_labels(self.model_dir)
        compiled = ov.Core().compile_model(os.path.join(self.model_dir, "model.onnx"), "CPU", {
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": self.precision,
        })
        self.request = compiled.create_infer_request()
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        try:
            images = [base64.b64decode(i["string_input"]["b64"]) for i in payload["instances"]]
        except Exception as e:  # a bad request is the client's, as on Tessera
            raise InvalidInput(str(e))
        return {"predictions": [classify(image, self.processor, self.request, self.labels)
                                for image in images]}


def main():
    args = server_arguments(__doc__, default_port=18095)
    model = VitClassifier("vit", args.model_dir, args.precision, args.threads)
    model.load()
    kserve.ModelServer(http_port=args.port, enable_grpc=False).start([model])


if __name__ == "__main__":
    main()
