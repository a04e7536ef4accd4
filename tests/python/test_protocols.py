"""TF Serving REST and KServe v2 (REST and gRPC) against a real `tessera serve`, with real clients.

TF Serving: plain `requests`, as TF Serving's REST API documentation uses it. KServe v2: the
official Triton clients from PyPI, tritonclient.http (binary tensor extension by default) and
tritonclient.grpc. Expected labels and confidences come from `tessera classify` on the same
files (the engine alone), so the whole serving path must be lossless.

Setup: fashion-vit uploaded as model id "fashion" (version 1, then version 2 with alias
"candidate"), one endpoint with version 1 at 100% and version 2 at 0%. Authentication is on:
`requests` sends the admin key in its session, tritonclient through a client plugin (how its
users add headers to every call, HTTP and gRPC), and the raw gRPC stub as call metadata.

Environment: TESSERA_BINARY and TESSERA_SOURCE_DIR, set by CTest (tests/python/CMakeLists.txt).
"""
import base64
import json
import os
import pathlib
import subprocess
import tempfile
import time

import numpy as np
import pytest
import requests
import grpc
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient._plugin import InferenceServerClientPlugin
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from tessera_process import Serve

SOURCE = pathlib.Path(os.environ["TESSERA_SOURCE_DIR"])
BINARY = os.environ["TESSERA_BINARY"]
# Every call of this module sends the server's admin key (set by the fixture).
HTTP = requests.Session()


class BearerKey(InferenceServerClientPlugin):
    """Adds "Authorization: Bearer <key>" to every tritonclient request (HTTP and gRPC)."""

    def __init__(self, key):
        self._key = key

    def __call__(self, request):
        request.headers["authorization"] = f"Bearer {self._key}"


def http_client(server):
    client = httpclient.InferenceServerClient(server["url"].removeprefix("http://"))
    client.register_plugin(BearerKey(server["key"]))
    return client


def grpc_client(server):
    client = grpcclient.InferenceServerClient(server["grpc"])
    client.register_plugin(BearerKey(server["key"]))
    return client
MODEL_DIR = SOURCE / "data" / "models" / "fashion-vit"
IMAGES = sorted((SOURCE / "data" / "images" / "fashion").glob("*.png"))
PARENT = "projects/p/locations/us-central1"
IMAGE_URI = "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest"


def classify(paths, top_k):
    """`tessera classify`'s top-k (label, confidence) per file: the engine's own answer."""
    out = subprocess.run([BINARY, "classify", "--model", str(MODEL_DIR), "--top-k", str(top_k),
                          *map(str, paths)], check=True, capture_output=True, text=True).stdout
    return [[(p["label"], p["confidence"]) for p in r["predictions"]] for r in json.loads(out)]


def wait_operation(url, op):
    while not op.get("done"):
        op = HTTP.post(f"{url}/v1/{op['name']}:wait?timeout=30s", json={}).json()
    assert "error" not in op, op
    return op.get("response", {})


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(tmp, grpc=True)
        url = serve.url
        HTTP.headers["Authorization"] = f"Bearer {serve.admin_key}"

        def upload(body):
            op = HTTP.post(f"{url}/v1/{PARENT}/models:upload", json=body).json()
            return wait_operation(url, op)

        model = {"displayName": "fashion-vit", "artifactUri": str(MODEL_DIR),
                 "containerSpec": {"imageUri": IMAGE_URI}}
        v1 = upload({"modelId": "fashion", "model": model})
        upload({"parentModel": v1["model"], "model": {**model, "versionAliases": ["candidate"]}})
        endpoint = wait_operation(url, HTTP.post(f"{url}/v1/{PARENT}/endpoints",
                                                 json={"displayName": "e"}).json())["name"]
        for version, split in (("1", {"0": 100}), ("2", None)):
            body = {"deployedModel": {"model": f"{v1['model']}@{version}"}}
            if split:
                body["trafficSplit"] = split
            wait_operation(url, HTTP.post(f"{url}/v1/{endpoint}:deployModel", json=body).json())
        yield {"url": url, "grpc": serve.grpc, "key": serve.admin_key}
        assert serve.stop() == 0, serve.log()[-4000:]


def b64(path):
    return base64.b64encode(path.read_bytes()).decode()


def assert_matches(got, expected):
    """got/expected: per image, [(label, confidence), ...]."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert [label for label, _ in g] == [label for label, _ in e]
        np.testing.assert_allclose([c for _, c in g], [c for _, c in e], atol=1e-5)


# --- TF Serving REST, with requests -----------------------------------------------------------

def test_tf_serving_row_and_columnar_predict(server):
    url, images = server["url"], IMAGES[:4]
    expected = classify(images, 1)
    rows = HTTP.post(f"{url}/v1/models/fashion:predict",
                         json={"instances": [{"b64": b64(p)} for p in images]})
    assert rows.status_code == 200, rows.text
    assert_matches([[(p["label"], p["confidence"])] for p in rows.json()["predictions"]], expected)

    named = HTTP.post(f"{url}/v1/models/fashion/versions/2:predict", json={
        "signature_name": "serving_default",
        "instances": [{"string_input": {"b64": b64(p)}} for p in images]})
    assert named.status_code == 200, named.text
    assert len(named.json()["predictions"]) == 4

    columnar = HTTP.post(f"{url}/v1/models/fashion/labels/candidate:predict",
                             json={"inputs": {"string_input": [{"b64": b64(p)} for p in images]}})
    assert columnar.status_code == 200, columnar.text
    outputs = columnar.json()["outputs"]
    assert_matches([[(l, c)] for l, c in zip(outputs["label"], outputs["confidence"])], expected)

    top3 = HTTP.post(f"{url}/v1/models/fashion:predict", json={
        "instances": [{"b64": b64(images[0])}], "parameters": {"top_k": 3}}).json()
    p = top3["predictions"][0]
    assert_matches([list(zip(p["labels"], p["confidences"]))], classify(images[:1], 3))


def test_tf_serving_status_and_metadata(server):
    url = server["url"]
    status = HTTP.get(f"{url}/v1/models/fashion").json()
    assert [(v["version"], v["state"]) for v in status["model_version_status"]] == [
        ("1", "AVAILABLE"), ("2", "AVAILABLE")]
    one = HTTP.get(f"{url}/v1/models/fashion/labels/candidate").json()
    assert [v["version"] for v in one["model_version_status"]] == ["2"]
    # The display name works too while it names one model.
    assert HTTP.get(f"{url}/v1/models/fashion-vit/versions/1").status_code == 200

    meta = HTTP.get(f"{url}/v1/models/fashion/metadata").json()
    assert meta["model_spec"] == {"name": "fashion", "signature_name": "", "version": "2"}
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["string_input"]["dtype"] == "DT_STRING"
    assert set(sig["outputs"]) == {"label", "confidence"}


@pytest.mark.parametrize("path,body,status,needle", [
    ("/v1/models/nope:predict", {"instances": []}, 404, "no deployed model named"),
    ("/v1/models/fashion/versions/9:predict", {"instances": [{"b64": "aGk="}]}, 404,
     "version 9 of model"),
    ("/v1/models/fashion/labels/nope:predict", {"instances": []}, 404, "no version labelled"),
    ("/v1/models/fashion/versions/x:predict", {"instances": []}, 400, "not a version number"),
    ("/v1/models/fashion:predict", {"instances": [], "inputs": []}, 400, "exactly one of"),
    ("/v1/models/fashion:predict", {"signature_name": "other", "instances": []}, 400,
     "signature_name"),
    ("/v1/models/fashion:predict", {"inputs": {"image_bytes": []}}, 400, "unknown input"),
    ("/v1/models/fashion:predict", {"instances": {"b64": "aGk="}}, 400, "must be a list"),
    ("/v1/models/fashion:predict", {"instances": [{"b64": "!!!"}]}, 400, "base64"),
    ("/v1/models/fashion:predict", {"instances": [{"b64": "aGVsbG8="}]}, 400, "instance 0"),
    ("/v1/models/fashion:predict", "not json", 400, "not valid JSON"),
    ("/v1/models/fashion:predict", "{\"instances\": " + "[" * 1000 + "]" * 1000 + "}", 400,
     "JSON nesting deeper than 32"),
])
def test_tf_serving_bad_requests(server, path, body, status, needle):
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    r = HTTP.post(server["url"] + path, **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"], r.text  # TF Serving's error shape: a string


# --- KServe v2 REST, with tritonclient.http -----------------------------------------------------

def bytes_input(module, name, paths, binary=True):
    tensor = module.InferInput(name, [len(paths)], "BYTES")
    data = np.array([p.read_bytes() for p in paths], dtype=np.object_)
    if module is httpclient:
        tensor.set_data_from_numpy(data, binary_data=binary)
    else:
        tensor.set_data_from_numpy(data)
    return tensor


def rows_of(result):
    labels = result.as_numpy("label")
    confidences = result.as_numpy("confidence")
    assert labels.shape == confidences.shape
    text = lambda label: label.decode() if isinstance(label, bytes) else label  # binary / JSON
    return [[(text(l), float(c)) for l, c in zip(lr, cr)] for lr, cr in zip(labels, confidences)]


def test_kserve_http_with_tritonclient(server):
    client = http_client(server)
    assert client.is_server_live() and client.is_server_ready()
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    assert client.is_model_ready("fashion") and client.is_model_ready("fashion", "1")
    assert not client.is_model_ready("nope")
    meta = client.get_model_metadata("fashion")
    assert meta["versions"] == ["1", "2"]
    assert meta["inputs"] == [{"name": "string_input", "datatype": "BYTES", "shape": [-1]}]

    images = IMAGES
    expected = classify(images, 1)
    # Binary request and binary outputs (tritonclient's defaults).
    result = client.infer("fashion", [bytes_input(httpclient, "string_input", images)])
    assert result.get_response()["model_version"] == "2"
    assert_matches(rows_of(result), expected)
    # JSON outputs, top_k 3, a pinned version, a request id.
    outputs = [httpclient.InferRequestedOutput("label", binary_data=False),
               httpclient.InferRequestedOutput("confidence", binary_data=False)]
    result = client.infer("fashion", [bytes_input(httpclient, "string_input", images[:2])],
                          model_version="1", outputs=outputs, request_id="req-7",
                          parameters={"top_k": 3})
    response = result.get_response()
    assert response["id"] == "req-7" and response["model_version"] == "1"
    assert response["outputs"][0]["shape"] == [2, 3]
    assert_matches(rows_of(result), classify(images[:2], 3))


def test_kserve_http_plain_json(server):
    """A JSON-only client (curl): BYTES elements are the base64 of each image."""
    body = {"inputs": [{"name": "string_input", "datatype": "BYTES", "shape": [2, 1],
                        "data": [[b64(IMAGES[0])], [b64(IMAGES[1])]]}]}
    r = HTTP.post(f"{server['url']}/v2/models/fashion/versions/1/infer", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    assert outputs["label"]["datatype"] == "BYTES" and outputs["label"]["shape"] == [2, 1]
    got = [[(l, c)] for l, c in zip(outputs["label"]["data"], outputs["confidence"]["data"])]
    assert_matches(got, classify(IMAGES[:2], 1))


def test_kserve_http_bad_requests(server):
    client = http_client(server)
    cases = [
        (lambda: client.infer("nope", [bytes_input(httpclient, "string_input", IMAGES[:1])]),
         "no deployed model named"),
        (lambda: client.infer("fashion", [bytes_input(httpclient, "image", IMAGES[:1])]),
         "unknown input"),
        (lambda: client.infer("fashion", [httpclient.InferInput("string_input", [1], "FP32")
                                          .set_data_from_numpy(np.zeros(1, np.float32))]),
         "must be BYTES"),
        (lambda: client.infer("fashion", [bytes_input(httpclient, "string_input", IMAGES[:1])],
                              outputs=[httpclient.InferRequestedOutput("logits")]),
         "unknown output"),
    ]
    for call, needle in cases:
        with pytest.raises(InferenceServerException) as error:
            call()
        assert needle in str(error.value)
    # Not an image: the replica's message, and the model keeps serving.
    not_image = httpclient.InferInput("string_input", [1], "BYTES")
    not_image.set_data_from_numpy(np.array([b"hello"], dtype=np.object_))
    with pytest.raises(InferenceServerException, match="instance 0"):
        client.infer("fashion", [not_image])
    # Truncated binary data, sent by hand: a clear 400.
    header = json.dumps({"inputs": [{"name": "string_input", "datatype": "BYTES", "shape": [1],
                                     "parameters": {"binary_data_size": 10}}]}).encode()
    r = HTTP.post(f"{server['url']}/v2/models/fashion/infer", data=header + b"\x05\x00",
                      headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 400 and "binary_data_size" in r.json()["error"], r.text
    assert client.is_model_ready("fashion")


# --- KServe v2 gRPC, with tritonclient.grpc -----------------------------------------------------

def test_kserve_grpc_with_tritonclient(server):
    client = grpc_client(server)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("fashion", "2")
    meta = client.get_model_metadata("fashion", as_json=True)
    assert meta["versions"] == ["1", "2"] and meta["platform"] == "tessera_vit"

    expected = classify(IMAGES, 1)
    result = client.infer("fashion", [bytes_input(grpcclient, "string_input", IMAGES)])
    assert result.get_response().model_version == "2"
    assert_matches(rows_of(result), expected)
    result = client.infer("fashion", [bytes_input(grpcclient, "string_input", IMAGES[:1])],
                          model_version="1", parameters={"top_k": 2})
    assert_matches(rows_of(result), classify(IMAGES[:1], 2))

    with pytest.raises(InferenceServerException, match="no deployed model named"):
        client.infer("nope", [bytes_input(grpcclient, "string_input", IMAGES[:1])])
    with pytest.raises(InferenceServerException, match="unknown input"):
        client.infer("fashion", [bytes_input(grpcclient, "pixels", IMAGES[:1])])
    with pytest.raises(InferenceServerException, match="INVALID_ARGUMENT|instance 0"):
        not_image = grpcclient.InferInput("string_input", [1], "BYTES")
        not_image.set_data_from_numpy(np.array([b"hello"], dtype=np.object_))
        client.infer("fashion", [not_image])
    assert client.is_model_ready("fashion")

    # Declared sizes the bytes cannot back (issue 14), sent as raw protobuf: tritonclient itself
    # refuses to build them. 400-class errors, and the server keeps serving.
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(server["grpc"]))
    for shape, needle in [([10**18], "hold at most 0"),
                          ([2**62, 4], "more elements than an int64 counts"),
                          ([-3], "negative dimension")]:
        request = service_pb2.ModelInferRequest(model_name="fashion")
        tensor = request.inputs.add(name="string_input", datatype="BYTES")
        tensor.shape.extend(shape)
        request.raw_input_contents.append(b"")
        with pytest.raises(grpc.RpcError) as error:
            stub.ModelInfer(request, timeout=60,
                            metadata=[("authorization", f"Bearer {server['key']}")])
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value
        assert needle in error.value.details(), error.value.details()
    assert client.is_model_ready("fashion")
