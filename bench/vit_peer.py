"""What the peer servers (openvino_server.py, kserve_server.py) share: their command line and the
classification of one image as a user's own server would do it -- decode with Pillow, the
checkpoint's ViTImageProcessor, one OpenVINO inference, softmax, the top-1 label from config.json."""
import argparse
import io
import json
import os

import numpy as np
from PIL import Image


def server_arguments(doc, default_port):
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def load_labels(model_dir):
    return json.load(open(os.path.join(model_dir, "config.json")))["id2label"]


def classify(image_bytes, processor, request, labels):
    """{"label", "confidence"} of the image's top-1 class; `request` is an OpenVINO infer request."""
    image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    pixels = processor(images=image, return_tensors="np")["pixel_values"]
    logits = request.infer({0: pixels})[0][0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    best = int(p.argmax())
    return {"label": labels[str(best)], "confidence": float(p[best])}
