"""Traces of a real `tessera serve --otlp-endpoint`: W3C traceparent in (REST header, gRPC
metadata), OTLP/HTTP JSON spans out to a collector this test runs (an HTTP server that keeps what
it is sent, as an OpenTelemetry collector's OTLP/HTTP receiver would), and the trace propagated
to the replica.

Checked: a predict that arrives with a sampled traceparent yields a server span whose parent is
the client's span, a replica call span under it and queue/preprocess/inference spans under that,
all in the client's trace and inside the server span's time; a request without one starts a trace
of its own; an unsampled one exports nothing; a gRPC infer is traced the same way.

Environment: TESSERA_BINARY and TESSERA_SOURCE_DIR, set by CTest (tests/python/CMakeLists.txt).
"""
import base64
import http.server
import json
import os
import pathlib
import tempfile
import threading
import time

import numpy as np
import pytest
import tritonclient.grpc

from tessera_process import Serve, deploy_fashion

SOURCE = pathlib.Path(os.environ["TESSERA_SOURCE_DIR"])
IMAGE = sorted((SOURCE / "data" / "images" / "fashion").glob("*.png"))[0]
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class Collector:
    """Keeps every span POSTed to /v1/traces (OTLP/HTTP, JSON encoding)."""

    def __init__(self):
        self.spans = []
        self.lock = threading.Lock()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert self.path == "/v1/traces", self.path
                assert self.headers["Content-Type"] == "application/json"
                with collector.lock:
                    for resource in body["resourceSpans"]:
                        service = resource["resource"]["attributes"][0]["value"]["stringValue"]
                        for scope in resource["scopeSpans"]:
                            for span in scope["spans"]:
                                collector.spans.append({**span, "service": service})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def trace(self, trace_id, count, timeout=15):
        """The spans of `trace_id`, once there are `count` of them (the exporter sends each second)."""
        deadline = time.time() + timeout
        while True:
            with self.lock:
                found = [s for s in self.spans if s["traceId"] == trace_id]
            if len(found) >= count or time.time() > deadline:
                return found
            time.sleep(0.1)

    def stop(self):
        self.server.shutdown()




@pytest.fixture(scope="module")
def setup():
    collector = Collector()
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(tmp, "--otlp-endpoint", collector.url, grpc=True)
        http_session = serve.session()
        url = serve.url
        (endpoint,) = deploy_fashion(serve, http_session)
        yield {"serve": serve, "http": http_session, "url": url, "endpoint": endpoint,
               "collector": collector}
        assert serve.stop() == 0, serve.log()[-4000:]
    collector.stop()


def predict(setup, headers):
    body = {"instances": [{"string_input": {"b64": base64.b64encode(IMAGE.read_bytes()).decode()}}]}
    r = setup["http"].post(f"{setup['url']}/v1/{setup['endpoint']}:predict", json=body,
                           headers=headers)
    assert r.status_code == 200, r.text
    return r


def by_name(spans):
    return {s["name"]: s for s in spans}


def test_a_sampled_predict_continues_the_clients_trace(setup):
    predict(setup, {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
                    "X-Request-Id": "traced-1"})
    spans = by_name(setup["collector"].trace(CLIENT_TRACE, 5))
    assert set(spans) == {"predict vertex", "replica 1-0", "queue", "preprocess", "inference"}, spans
    server, call = spans["predict vertex"], spans["replica 1-0"]
    assert server["parentSpanId"] == CLIENT_SPAN and server["kind"] == 2
    assert server["service"] == "tessera"
    attributes = {a["key"]: a["value"]["stringValue"] for a in server["attributes"]}
    assert attributes["http.response.status_code"] == "200"
    assert attributes["tessera.request_id"] == "traced-1"
    assert attributes["tessera.endpoint"] == setup["endpoint"]
    assert call["parentSpanId"] == server["spanId"] and call["kind"] == 3
    for stage in ("queue", "preprocess", "inference"):
        assert spans[stage]["parentSpanId"] == call["spanId"]
    # Inside one another in time.
    start, end = int(server["startTimeUnixNano"]), int(server["endTimeUnixNano"])
    assert start <= int(call["startTimeUnixNano"]) <= int(call["endTimeUnixNano"]) <= end
    for stage in ("queue", "preprocess", "inference"):
        s = spans[stage]
        assert int(call["startTimeUnixNano"]) <= int(s["startTimeUnixNano"]) <= int(
            s["endTimeUnixNano"]) <= int(call["endTimeUnixNano"])
    assert int(spans["inference"]["endTimeUnixNano"]) - int(spans["inference"]["startTimeUnixNano"]) > 0


def test_a_request_without_traceparent_starts_a_trace_and_an_unsampled_one_exports_nothing(setup):
    collector = setup["collector"]
    unsampled = "0af7651916cd43dd8448eb211c80319c"
    predict(setup, {"traceparent": f"00-{unsampled}-b7ad6b7169203331-00"})
    before = len(collector.spans)
    predict(setup, {"X-Request-Id": "untraced-client"})

    def roots():
        with collector.lock:
            return [s for s in collector.spans
                    if s["name"] == "predict vertex" and "parentSpanId" not in s
                    and any(a["value"]["stringValue"] == "untraced-client" for a in s["attributes"])]
    deadline = time.time() + 15
    while not roots() and time.time() < deadline:
        time.sleep(0.1)
    (root,) = roots()
    assert len(collector.trace(root["traceId"], 5)) == 5
    assert collector.trace(unsampled, 1, timeout=2) == []
    assert len(collector.spans) > before


def test_a_grpc_infer_is_traced_from_its_metadata(setup):
    trace = "5bf92f3577b34da6a3ce929d0e0e4737"
    client = tritonclient.grpc.InferenceServerClient(setup["serve"].grpc)
    tensor = tritonclient.grpc.InferInput("string_input", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([IMAGE.read_bytes()], dtype=np.object_))
    client.infer("fashion", [tensor], headers={
        "authorization": f"Bearer {setup['serve'].admin_key}",
        "traceparent": f"00-{trace}-{CLIENT_SPAN}-01"})
    spans = by_name(setup["collector"].trace(trace, 5))
    assert spans["predict kserve_v2_grpc"]["parentSpanId"] == CLIENT_SPAN
    assert spans["replica 1-0"]["parentSpanId"] == spans["predict kserve_v2_grpc"]["spanId"]
