"""TLS on a real `tessera serve --tls-cert --tls-key` with a self-signed certificate made here
(openssl), through the clients users have: curl with --cacert, the official Vertex SDK trusting
the certificate through REQUESTS_CA_BUNDLE, tritonclient gRPC with SSL and tritonclient HTTP,
and the `tessera` CLI with --ca-cert. Both listeners speak only TLS; a plain-HTTP listener that
is not loopback logs a warning once keys are in use.

Environment: TESSERA_BINARY and TESSERA_SOURCE_DIR (set by CTest).
"""
import base64
import os
import pathlib
import re
import ssl
import subprocess
import tempfile
import time

import pytest
import requests

from tessera_process import BINARY, Serve, key_session

SOURCE = pathlib.Path(os.environ["TESSERA_SOURCE_DIR"])
MODEL_DIR = SOURCE / "data" / "models" / "fashion-vit"
IMAGES = sorted((SOURCE / "data" / "images" / "fashion").glob("*.png"))[:2]
PARENT = "projects/tls/locations/us-central1"
IMAGE_URI = "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest"


def make_certificate(folder):
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def tls():
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_certificate(pathlib.Path(tmp))
        serve = Serve(tmp, "--tls-cert", str(cert), "--tls-key", str(key), "--header-timeout-s",
                      "2", grpc=True)
        assert serve.url.startswith("https://127.0.0.1:"), serve.url
        yield {"serve": serve, "cert": cert, "url": serve.url, "key": serve.admin_key}
        assert serve.stop() == 0, serve.log()[-4000:]


def test_curl_with_the_certificate(tls):
    url, key, cert = tls["url"], tls["key"], tls["cert"]
    with tempfile.NamedTemporaryFile("w", suffix=".hdr") as header:
        header.write(f"Authorization: Bearer {key}\n")
        header.flush()
        ok = subprocess.run(["curl", "-sS", "--cacert", str(cert), "-H", f"@{header.name}",
                             "-w", "\n%{http_code}", f"{url}/v1/{PARENT}/models"],
                            capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "200", ok.stdout
    # Without trusting it: curl refuses the certificate (exit 60).
    untrusted = subprocess.run(["curl", "-sS", f"{url}/v2/health/live"], capture_output=True)
    assert untrusted.returncode == 60, untrusted
    # Plain HTTP to the TLS port gets no HTTP answer.
    plain = subprocess.run(["curl", "-sS", "-m", "10", url.replace("https://", "http://") +
                            "/v2/health/live"], capture_output=True, text=True)
    assert plain.returncode != 0 and "200" not in plain.stdout


def test_the_vertex_sdk_over_tls(tls, monkeypatch):
    from google.api_core.client_options import ClientOptions
    from google.cloud import aiplatform_v1
    from google.oauth2.credentials import Credentials
    from google.protobuf import json_format, struct_pb2

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls["cert"]))
    kwargs = dict(client_options=ClientOptions(api_endpoint=tls["url"]),
                  credentials=Credentials(token=tls["key"]), transport="rest")
    models = aiplatform_v1.ModelServiceClient(**kwargs)
    endpoints = aiplatform_v1.EndpointServiceClient(**kwargs)
    uploaded = models.upload_model(parent=PARENT, model=aiplatform_v1.Model(
        display_name="fashion", artifact_uri=str(MODEL_DIR),
        container_spec=aiplatform_v1.ModelContainerSpec(image_uri=IMAGE_URI))).result(timeout=120)
    endpoint = endpoints.create_endpoint(
        parent=PARENT, endpoint=aiplatform_v1.Endpoint(display_name="tls")).result(timeout=60)
    endpoints.deploy_model(endpoint=endpoint.name, deployed_model=aiplatform_v1.DeployedModel(
        model=uploaded.model, dedicated_resources=aiplatform_v1.DedicatedResources(
            machine_spec=aiplatform_v1.MachineSpec(machine_type="tessera-cpu-1"),
            min_replica_count=1, max_replica_count=1)), traffic_split={"0": 100}).result(timeout=300)
    predictions = aiplatform_v1.PredictionServiceClient(**kwargs)
    instances = [json_format.ParseDict({"string_input": {"b64": base64.b64encode(
        p.read_bytes()).decode()}}, struct_pb2.Value()) for p in IMAGES]
    response = predictions.predict(endpoint=endpoint.name, instances=instances)
    assert len(response.predictions) == len(IMAGES)
    tls["model_id"] = uploaded.model.rsplit("/", 1)[1]


def test_tritonclient_grpc_and_http_over_tls(tls):
    import numpy as np
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    model_id = tls.get("model_id")
    assert model_id, "test_the_vertex_sdk_over_tls deploys the model first"
    metadata = [("authorization", f"Bearer {tls['key']}")]
    client = grpcclient.InferenceServerClient(tls["serve"].grpc, ssl=True,
                                              root_certificates=str(tls["cert"]))
    assert client.is_server_live()
    headers = dict(metadata)
    assert client.get_model_metadata(model_id, headers=headers).versions == ["1"]
    images = grpcclient.InferInput("string_input", [len(IMAGES)], "BYTES")
    images.set_data_from_numpy(np.array([p.read_bytes() for p in IMAGES], dtype=np.object_))
    result = client.infer(model_id, [images], headers=headers)
    assert result.as_numpy("label").shape == (len(IMAGES), 1)
    # A plaintext gRPC channel to the TLS port fails.
    plain = grpcclient.InferenceServerClient(tls["serve"].grpc)
    with pytest.raises(Exception):
        plain.is_server_live(client_timeout=10)

    context = ssl.create_default_context(cafile=str(tls["cert"]))
    http = httpclient.InferenceServerClient(tls["url"].removeprefix("https://"), ssl=True,
                                            ssl_context_factory=lambda: context)
    assert http.is_model_ready(model_id, headers=headers)


def assert_unfinished_handshakes_are_cut_off(address):
    """A connection that says nothing, or half a TLS ClientHello, is closed by the server after
    --header-timeout-s (2 s here), not held."""
    import socket
    host, port = address.split(":")
    for opening in (b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
        start = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(opening)
            assert s.recv(1024) == b""  # closed by the server
        assert 1.0 <= time.monotonic() - start < 10, time.monotonic() - start


def test_a_client_that_never_finishes_its_handshake_is_cut_off(tls):
    """The TLS handshake counts against --header-timeout-s: an idle peer holds no descriptor."""
    assert_unfinished_handshakes_are_cut_off(tls["url"].removeprefix("https://"))


def test_a_grpc_client_that_never_finishes_its_handshake_is_cut_off(tls):
    """The gRPC port has the same handshake deadline as the HTTP one."""
    assert_unfinished_handshakes_are_cut_off(tls["serve"].grpc)


def test_the_cli_with_a_ca_certificate(tls):
    env = dict(os.environ, TESSERA_API_KEY=tls["key"], TESSERA_DATA_DIR="/nonexistent")
    listed = subprocess.run([BINARY, "models", "list", "--server", tls["url"], "--project", "tls",
                             "--ca-cert", str(tls["cert"])], capture_output=True, text=True, env=env)
    assert listed.returncode == 0, listed.stderr
    untrusted = subprocess.run([BINARY, "models", "list", "--server", tls["url"], "--project",
                                "tls"], capture_output=True, text=True, env=env)
    assert untrusted.returncode == 1 and "certificate" in untrusted.stderr.lower(), untrusted.stderr


def test_a_plain_http_listener_beyond_loopback_logs_a_warning():
    with tempfile.TemporaryDirectory() as tmp:
        log = pathlib.Path(tmp) / "serve.log"
        with open(log, "w") as err:
            proc = subprocess.Popen([BINARY, "serve", "--listen", "0.0.0.0:0", "--data-dir",
                                     f"{tmp}/data"], stdout=subprocess.PIPE, stderr=err, text=True)
            line = proc.stdout.readline()
            assert "serving on http://0.0.0.0:" in line, line
            proc.terminate()
            assert proc.wait(timeout=60) == 0
        assert "clear text" in log.read_text()
        # Half a TLS configuration is refused by name.
        half = subprocess.run([BINARY, "serve", "--data-dir", f"{tmp}/data2", "--tls-cert",
                               str(log)], capture_output=True, text=True, timeout=60)
        assert half.returncode != 0 and "--tls-key" in half.stderr
