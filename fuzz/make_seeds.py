#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets to fuzz/corpus/<target>/ (committed; re-run after
changing this script). Seeds are small valid and near-valid inputs: real request bodies, tiny
images made from data/images, the fashion-vit config files, a small safetensors file, tar
archives. Deterministic: the same script writes the same bytes.

Needs Pillow with JPEG and WebP support (the test venv has it): .venv/bin/python fuzz/make_seeds.py
"""
import base64
import gzip
import io
import json
import struct
import tarfile
import zlib
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
FASHION = ROOT / "data" / "models" / "fashion-vit"
IMAGES = ROOT / "data" / "images" / "fashion"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / name).write_bytes(data)


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def tiny_images():
    """name -> encoded bytes: every format and pixel layout the decoder handles."""
    src = Image.open(sorted(IMAGES.glob("*.png"))[0])  # 28x28 grayscale
    small = src.resize((12, 12))
    rgb = small.convert("RGB")
    out = {}

    def save(name, image, fmt, **kw):
        buf = io.BytesIO()
        image.save(buf, fmt, **kw)
        out[name] = buf.getvalue()

    out["fashion.png"] = sorted(IMAGES.glob("*.png"))[0].read_bytes()
    save("gray.png", small, "PNG")
    save("rgb.png", rgb, "PNG")
    save("rgba.png", rgb.convert("RGBA"), "PNG")
    save("la.png", small.convert("LA"), "PNG")
    save("palette.png", rgb.convert("P"), "PNG", transparency=0)
    save("bilevel.png", small.convert("1"), "PNG")
    save("interlaced.png", rgb, "PNG", interlace=1)
    save("gray16.png", small.convert("I;16"), "PNG")
    save("baseline.jpg", rgb, "JPEG", quality=80)
    save("gray.jpg", small, "JPEG", quality=80)
    save("progressive.jpg", rgb, "JPEG", quality=80, progressive=True)
    save("cmyk.jpg", rgb.convert("CMYK"), "JPEG", quality=80)
    save("subsampled.jpg", rgb, "JPEG", quality=60, subsampling=2)
    save("lossy.webp", rgb, "WEBP", quality=60)
    save("lossless.webp", rgb, "WEBP", lossless=True)
    save("alpha.webp", rgb.convert("RGBA"), "WEBP", quality=60)
    return out


def png_declaring(width, height):
    """A tiny PNG whose header declares width x height (one short IDAT): the pixel limits must
    refuse it before allocating."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def image_seeds():
    for name, data in tiny_images().items():
        write("image_decode_fuzzer", name, data)
    write("image_decode_fuzzer", "huge-declared.png", png_declaring(65535, 65535))
    write("image_decode_fuzzer", "wide-declared.png", png_declaring(9000, 1))
    jpg = tiny_images()["baseline.jpg"]
    write("image_decode_fuzzer", "truncated.jpg", jpg[: len(jpg) // 2])


def safetensors_file(tensors):
    """tensors: name -> (dtype, shape, raw bytes)."""
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    f32 = struct.pack("<6f", 0.5, -1, 2, 3.25, 0, 1e-3)
    f16 = struct.pack("<4H", 0x3C00, 0xC000, 0x7BFF, 0x0001)
    write("safetensors_fuzzer", "small.safetensors", safetensors_file({
        "vit.embeddings.cls_token": ("F32", [1, 1, 6], f32),
        "classifier.bias": ("F16", [4], f16),
        "classifier.weight": ("BF16", [2, 2], f16),
        "scalar": ("I64", [], struct.pack("<q", 7)),
        "empty": ("U8", [0], b""),
    }))
    # The real fashion-vit header, with a data region cut to nothing (refused: offsets past it).
    raw = (FASHION / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    write("safetensors_fuzzer", "fashion-header-only.safetensors", raw[: 8 + n])


def config_seeds():
    config = json.loads((FASHION / "config.json").read_text())
    write("vit_config_fuzzer", "fashion-config.json", (FASHION / "config.json").read_bytes())
    deit = dict(config, architectures=["DeiTForImageClassificationWithTeacher"], model_type="deit",
                image_size=[32, 48], patch_size=[4, 8], hidden_act="gelu_new")
    write("vit_config_fuzzer", "deit-config.json", dumps(deit))
    no_labels = {k: v for k, v in config.items() if k not in ("id2label", "label2id")}
    write("vit_config_fuzzer", "num-labels-config.json", dumps(dict(no_labels, num_labels=3)))

    write("preprocess_config_fuzzer", "fashion-preprocessor.json",
          (FASHION / "preprocessor_config.json").read_bytes())
    write("preprocess_config_fuzzer", "deit-preprocessor.json", dumps({
        "image_processor_type": "DeiTImageProcessor", "size": {"height": 40, "width": 40},
        "crop_size": {"height": 32, "width": 32}, "do_center_crop": True, "resample": 3,
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}))
    write("preprocess_config_fuzzer", "shortest-edge-preprocessor.json", dumps({
        "feature_extractor_type": "ViTFeatureExtractor", "size": {"shortest_edge": 36},
        "crop_size": 32, "do_center_crop": True, "resample": 1}))


def tar_bytes(entries, gz=False):
    """entries: (name, kind, payload) with kind file|dir|symlink|hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind in ("symlink", "hardlink"):
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    data = buf.getvalue().rstrip(b"\0")  # keep the seeds small; the end blocks are optional
    data += b"\0" * (-len(data) % 512)
    return gzip.compress(data, mtime=0) if gz else data


def tar_seeds():
    model = [("model", "dir", None), ("model/config.json", "file", b'{"a":1}\n'),
             ("model/preprocessor_config.json", "file", b"{}\n")]
    write("tar_extract_fuzzer", "model.tar", tar_bytes(model))
    write("tar_extract_fuzzer", "model.tar.gz", tar_bytes(model, gz=True))
    write("tar_extract_fuzzer", "symlink.tar", tar_bytes([("link", "symlink", "/etc/passwd")]))
    write("tar_extract_fuzzer", "hardlink.tar", tar_bytes([("a", "file", b"x"), ("b", "hardlink", "a")]))
    write("tar_extract_fuzzer", "dotdot.tar", tar_bytes([("../escape", "file", b"x")]))
    write("tar_extract_fuzzer", "duplicate.tar", tar_bytes([("a", "file", b"x"), ("./a", "file", b"y")]))
    write("tar_extract_fuzzer", "file-then-child.tar", tar_bytes([("a", "file", b"x"), ("a/b", "file", b"y")]))


def b64(data):
    return base64.b64encode(data).decode()


def request_seeds():
    png = b64(tiny_images()["gray.png"])
    for name, text in {
        "plain": "SGVsbG8sIFRlc3NlcmEh", "padded": "YQ==", "urlsafe": "-_-_", "wrapped": "SGVs\nbG8=\r\n",
        "bad-char": "SGV$bG8=", "bad-length": "SGVsb", "png": png,
    }.items():
        write("base64_fuzzer", name, text)

    for i, name in enumerate([
        "projects/p/locations/us-central1", "projects/my-proj/locations/europe-west4/models/123",
        "projects/p/locations/l/models/fashion@prod", "projects/p/locations/l/models/7@-",
        "projects/p/locations/l/endpoints/42", "projects/p/locations/l/operations/9",
        "projects/../locations/l/models/1", "projects/p/locations/l/models/a/b", "fashion-vit_2",
    ]):
        write("resource_name_fuzzer", f"name{i}", name)

    instance = {"b64": png}
    replica = {
        "bare": {"instances": [png]},
        "keyed": {"instances": [{"string_input": instance}], "parameters": {"top_k": 2}},
        "b64": {"instances": [instance, instance], "parameters": {"confidenceThreshold": 0.1, "topK": 3}},
        "input-key": {"instances": [{"image": instance}], "inputKey": "image"},
        "pinned": {"instances": [instance], "parameters": {"deployedModelId": "1"}},
    }
    for name, body in replica.items():
        write("replica_predict_codec_fuzzer", name, dumps(body))
    write("replica_predict_codec_fuzzer", "query", "3\n\n0.25\n")

    columnar = {"inputs": {"string_input": [instance]}}
    kserve = {"inputs": [{"name": "string_input", "shape": [1], "datatype": "BYTES", "data": [png]}],
              "parameters": {"top_k": 2}, "outputs": [{"name": "label"}, {"name": "confidence"}]}
    image = tiny_images()["gray.png"]
    binary_header = dumps({"inputs": [{"name": "string_input", "shape": [1, 1], "datatype": "BYTES",
                                       "parameters": {"binary_data_size": 4 + len(image)}}],
                           "outputs": [{"name": "confidence", "parameters": {"binary_data": True}}]})
    binary_body = binary_header.encode() + struct.pack("<I", len(image)) + image
    prefix = bytes([1]) + struct.pack("<H", len(binary_header))
    write("kserve_infer_fuzzer", "json", b"\0\0\0" + dumps(kserve).encode())
    write("kserve_infer_fuzzer", "binary", prefix + binary_body)

    # predict_router_fuzzer: byte 0 picks the route (see the target).
    router = {
        "vertex": (0, {"instances": [instance], "parameters": {"topK": 2}}),
        "vertex-pinned": (1, {"instances": [instance], "parameters": {"deployedModelId": "1"}}),
        "raw": (2, {"instances": [png]}),
        "tf-row": (3, {"signature_name": "serving_default", "instances": [{"string_input": instance}]}),
        "tf-columnar": (4, columnar),
        "tf-columnar-b64": (4, {"inputs": instance, "parameters": {"top_k": 2}}),
        "kserve-json": (5, kserve),
    }
    for name, (route, body) in router.items():
        write("predict_router_fuzzer", name, bytes([route]) + dumps(body).encode())
    write("predict_router_fuzzer", "kserve-binary", bytes([6]) + struct.pack("<H", len(binary_header)) + binary_body)


def control_plane_seeds():
    parent = "projects/p/locations/us-central1"
    bodies = {
        "upload": (0, {"model": {"displayName": "fashion", "artifactUri": "/data/models/fashion-vit",
                                 "containerSpec": {"imageUri": "tessera/vit"}, "versionAliases": ["prod"],
                                 "labels": {"team": "vision"}},
                       "parentModel": parent + "/models/7", "modelId": "fashion"}),
        "aliases": (1, {"versionAliases": ["prod", "-old"]}),
        "endpoint": (2, {"displayName": "e", "description": "d", "labels": {"a": "b"},
                         "trafficSplit": {"1": 60, "2": 40}, "etag": "x"}),
        "deploy": (3, {"deployedModel": {
            "model": parent + "/models/7@2", "displayName": "v2",
            "dedicatedResources": {"machineSpec": {"machineType": "n1-standard-4"}, "minReplicaCount": 1,
                                   "maxReplicaCount": 3, "autoscalingMetricSpecs": [{
                                       "metricName": "aiplatform.googleapis.com/prediction/online/cpu/utilization",
                                       "target": 60}]},
            "tessera": {"precision": "bf16", "inputKey": "string_input",
                        "batching": {"maxBatchSize": 16, "maxQueueDelayUs": 2000, "maxQueueSize": 256}}},
            "trafficSplit": {"0": 50, "1": 50}}),
        "deploy-automatic": (3, {"deployedModel": {"model": parent + "/models/7",
                                                   "automaticResources": {"minReplicaCount": 1}}}),
        "undeploy": (4, {"deployedModelId": "2", "trafficSplit": {"1": 100}}),
        "rate-limit": (6, {"requestsPerSecond": 20, "burst": 40}),
        "rate-limit-default-burst": (6, {"requestsPerSecond": 0.5}),
        "quota": (7, {"endpoints": 5, "deployedModels": 10, "replicas": -1, "cpuCores": 64}),
    }
    for name, (selector, body) in bodies.items():
        write("control_plane_codec_fuzzer", name, bytes([selector]) + dumps(body).encode())
    write("control_plane_codec_fuzzer", "query",
          bytes([5]) + b'updateMask=displayName,labels&pageSize=10&pageToken=abc&filter=labels.k="v" AND display_name="x"')


def credential_seeds():
    """First byte: which values (split on newlines) are Authorization (bit set) or x-api-key."""
    key = "tsk_0123456789abcdef_" + "A" * 43
    seeds = {
        "bearer": (0b1, f"Bearer {key}"),
        "bearer-lowercase-spaces": (0b1, f"  bearer   {key}  "),
        "api-key": (0b0, key),
        "both-same": (0b01, f"Bearer {key}\n{key}"),
        "both-different": (0b01, f"Bearer {key}\n{key[:-1]}B"),
        "basic": (0b1, "Basic dXNlcjpwYXNz"),
        "two-authorization": (0b11, f"Bearer {key}\nBearer {key}"),
        "empty-bearer": (0b1, "Bearer "),
        "short": (0b0, "tsk_0123"),
    }
    for name, (routing, text) in seeds.items():
        write("credential_fuzzer", name, bytes([routing]) + text.encode())


def main():
    # Regression seeds (inputs that once crashed a target, named regression-*) are kept.
    for old in CORPUS.glob("*/*"):
        if not old.name.startswith("regression-"):
            old.unlink()
    image_seeds()
    safetensors_seeds()
    config_seeds()
    tar_seeds()
    request_seeds()
    control_plane_seeds()
    credential_seeds()
    for folder in sorted(CORPUS.iterdir()):
        files = list(folder.iterdir())
        print(f"{folder.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
