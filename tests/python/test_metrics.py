"""Metrics through a real Prometheus (Debian's `prometheus`) scraping a real `tessera serve`.

Tessera runs with --metrics-listen (GET /metrics without a key on a listener of its own), fashion-vit
deployed on one endpoint; a second endpoint has a rate limit of 1 request/s. Known traffic goes in
(good and bad Vertex predicts, TF Serving predicts, a predict for an endpoint that does not exist,
requests beyond the rate limit); then Prometheus' HTTP query API must show exactly those counts,
latency quantiles that agree with what the client measured, the replica's state, memory, CPU and
engine, and the same numbers must reach the console's time-series API. /metrics on the main port
needs a key for every project.

Environment: TESSERA_BINARY and TESSERA_SOURCE_DIR, set by CTest (tests/python/CMakeLists.txt).
"""
import base64
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

import numpy as np
import pytest
import requests
import tritonclient.grpc

from tessera_process import PARENT, Serve, deploy_fashion, key_session

SOURCE = pathlib.Path(os.environ["TESSERA_SOURCE_DIR"])
IMAGES = sorted((SOURCE / "data" / "images" / "fashion").glob("*.png"))
GOOD, BAD, TF, LIMITED = 20, 5, 3, 3
# What endpoint "e" answers: the Vertex predicts, then TF Serving's and the one gRPC infer (the
# limited endpoint has no token left by then).
SERVED_BY_E = GOOD + BAD + TF + 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




class Prometheus:
    """A Prometheus server scraping `target` (host:port, path /metrics) every second."""

    def __init__(self, tmp, target):
        binary = shutil.which("prometheus")
        assert binary, "prometheus is not installed: run scripts/install-deps.sh"
        self.port = free_port()
        config = pathlib.Path(tmp) / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: tessera\n"
            f"    static_configs:\n      - targets: ['{target}']\n")
        self.log_path = pathlib.Path(tmp) / "prometheus.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self._log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            assert self.proc.poll() is None, self.log_path.read_text()
            time.sleep(0.2)
        raise AssertionError("prometheus did not become ready: " + self.log_path.read_text())

    def query(self, promql):
        """The instant vector as [(labels, float value)]."""
        r = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "success", body
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]

    def value(self, promql):
        """The single value of `promql`, None while it has no sample."""
        result = self.query(promql)
        assert len(result) <= 1, result
        return result[0][1] if result else None

    def eventually(self, promql, expected, timeout=30):
        """Polls until `promql` equals `expected` (a scrape or two later); returns the last value."""
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            value = self.value(promql)
            if value == expected:
                return value
            time.sleep(0.5)
        return value

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self._log.close()


def b64(path):
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def setup():
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(tmp, grpc=True, metrics=True,
                      env={"TESSERA_TIME_SERIES_RESOLUTION_MS": "1000"})
        http = serve.session()
        url = serve.url
        endpoints = deploy_fashion(serve, http, endpoints=("e", "limited"))
        r = http.patch(f"{url}/v1/{endpoints[1]}/rateLimit",
                       json={"requestsPerSecond": 0.01, "burst": 1})
        assert r.status_code == 200, r.text
        prometheus = Prometheus(tmp, serve.metrics_url.removeprefix("http://").removesuffix(
            "/metrics"))
        yield {"serve": serve, "http": http, "url": url, "endpoint": endpoints[0],
               "limited": endpoints[1], "prometheus": prometheus}
        prometheus.stop()
        assert serve.stop() == 0, serve.log()[-4000:]


@pytest.fixture(scope="module")
def traffic(setup):
    """Sends the known traffic once; returns the client-side latencies of the good predicts."""
    http, url, endpoint = setup["http"], setup["url"], setup["endpoint"]
    latencies = []
    for i in range(GOOD):
        body = {"instances": [{"string_input": {"b64": b64(IMAGES[i % len(IMAGES)])}}]}
        start = time.perf_counter()
        r = http.post(f"{url}/v1/{endpoint}:predict", json=body)
        latencies.append(time.perf_counter() - start)
        assert r.status_code == 200, r.text
    for _ in range(BAD):
        r = http.post(f"{url}/v1/{endpoint}:predict",
                      json={"instances": [{"string_input": {"b64": "not base64!"}}]})
        assert r.status_code == 400, r.text
    r = http.post(f"{url}/v1/{PARENT}/endpoints/no-such-endpoint:predict",
                  json={"instances": [{"b64": b64(IMAGES[0])}]})
    assert r.status_code == 404, r.text
    codes = [http.post(f"{url}/v1/{setup['limited']}:predict",
                       json={"instances": [{"b64": b64(IMAGES[0])}]}).status_code
             for _ in range(LIMITED)]
    assert codes == [200] + [429] * (LIMITED - 1), codes
    # After the limited endpoint's one token is gone: TF Serving picks the endpoint with room.
    for i in range(TF):
        r = http.post(f"{url}/v1/models/fashion:predict",
                      json={"instances": [{"b64": b64(IMAGES[i])}]})
        assert r.status_code == 200, r.text
    # One KServe v2 gRPC infer, with the official client (its per-call headers carry the key).
    client = tritonclient.grpc.InferenceServerClient(setup["serve"].grpc)
    tensor = tritonclient.grpc.InferInput("string_input", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([IMAGES[0].read_bytes()], dtype=np.object_))
    result = client.infer("fashion", [tensor], headers={
        "authorization": f"Bearer {setup['serve'].admin_key}"})
    assert result.as_numpy("label") is not None
    return latencies


def test_request_counts_arrive_exactly(setup, traffic):
    p, endpoint = setup["prometheus"], setup["endpoint"]
    requests_of = f'tessera_predict_requests_total{{endpoint="{endpoint}"'
    assert p.eventually(f'sum({requests_of},protocol="vertex",code="200"}})', GOOD) == GOOD
    assert p.eventually(f'sum({requests_of},protocol="vertex",code="400"}})', BAD) == BAD
    # TF Serving finds the model on either endpoint: count both.
    assert p.eventually('sum(tessera_predict_requests_total{protocol="tfserving",code="200"})',
                        TF) == TF
    assert p.eventually(
        'sum(tessera_predict_requests_total{protocol="kserve_v2_grpc",code="200"})', 1) == 1
    assert p.value('sum(tessera_predict_in_flight{protocol="kserve_v2_grpc"})') == 0
    # A name nobody deployed is counted without an endpoint: clients cannot make series.
    assert p.eventually('sum(tessera_predict_requests_total{endpoint="",code="404"})', 1) == 1
    assert p.eventually(
        f'sum(tessera_predict_requests_total{{endpoint="{setup["limited"]}",code="429"}})',
        LIMITED - 1) == LIMITED - 1
    assert p.eventually('sum(tessera_rate_limited_requests_total{limit="endpoint"})',
                        LIMITED - 1) == LIMITED - 1
    # Every predict that reached a replica and came back 200 has the replica's stage timings.
    answered = GOOD + TF + 2  # + the gRPC one, + the one the limited endpoint let through
    for stage in ("queue", "preprocess", "inference"):
        assert p.eventually(f"sum(tessera_predict_{stage}_seconds_count)", answered) == answered
    # Labels carry the deployed model and the model version.
    series = p.query(f'{requests_of},protocol="vertex",code="200"}}')
    assert series[0][0]["model"] == f"{PARENT}/models/fashion"
    assert series[0][0]["model_version"] == "1"
    assert series[0][0]["deployed_model"] != ""
    assert p.value('sum(tessera_predict_in_flight)') == 0


def test_latency_quantiles_are_plausible(setup, traffic):
    p, endpoint = setup["prometheus"], setup["endpoint"]
    selector = f'endpoint="{endpoint}",protocol="vertex"'
    assert p.eventually(f"sum(tessera_predict_latency_seconds_count{{{selector}}})",
                        GOOD + BAD) == GOOD + BAD
    server_p50 = p.value(
        f"histogram_quantile(0.5, sum by (le) (tessera_predict_latency_seconds_bucket{{{selector}}}))")
    client_p50 = statistics.median(traffic)
    # Half the requests (the bad ones are quick) and sqrt(2)-wide buckets: within a factor of 3
    # of what the client saw, and not past the client's slowest by more than a bucket's width.
    assert client_p50 / 3 <= server_p50 <= max(traffic) * 1.42, (server_p50, client_p50)
    inference_p50 = p.value(
        "histogram_quantile(0.5, sum by (le) (tessera_predict_inference_seconds_bucket))")
    assert 0 < inference_p50 <= server_p50 * 1.5, (inference_p50, server_p50)
    total = p.value(f"sum(tessera_predict_latency_seconds_sum{{{selector}}})")
    assert 0 < total <= sum(traffic) + BAD * 1.0


def test_replica_state_memory_cpu_and_engine(setup, traffic):
    p, endpoint = setup["prometheus"], setup["endpoint"]
    one = f'endpoint="{endpoint}"'
    assert p.eventually(f"tessera_replicas_ready{{{one}}}", 1) == 1
    assert p.value(f"tessera_replicas_desired{{{one}}}") == 1
    assert p.value(f'tessera_replicas{{{one},state="READY"}}') == 1
    assert p.value(f"tessera_replica_resident_memory_bytes{{{one}}}") > 20e6
    assert p.value(f"tessera_replica_proportional_memory_bytes{{{one}}}") > 10e6
    assert p.value(f"tessera_replica_cpu_seconds_total{{{one}}}") > 0
    assert 0 <= p.value(f"tessera_replica_cpu_utilization{{{one}}}") <= 1
    assert p.value(f"tessera_replica_cpu_cores{{{one}}}") >= 1
    assert p.value(f"tessera_model_load_seconds{{{one}}}") > 0
    info = p.query(f"tessera_replica_info{{{one}}}")
    assert len(info) == 1 and info[0][0]["precision"] == "fp32" and info[0][0]["isa"], info
    # Forward passes: the 20 good Vertex predicts and those TF Serving sent here, at batch 1.
    assert p.value(f'tessera_batch_size_bucket{{{one},le="1"}}') >= GOOD
    build = p.query("tessera_build_info")
    assert len(build) == 1 and build[0][0]["version"], build
    # The API listener's own counters; nothing was shed.
    assert p.value("tessera_http_requests_total") >= GOOD + BAD + TF + LIMITED
    assert p.value('tessera_load_shed_requests_total{reason="request_body_budget"}') == 0
    assert p.value('tessera_load_shed_requests_total{reason="connection_limit"}') == 0


def test_time_series_api_shows_the_same_traffic(setup, traffic):
    http, url, endpoint = setup["http"], setup["url"], setup["endpoint"]
    deadline = time.time() + 30
    while True:
        r = http.get(f"{url}/v1/{endpoint}/timeSeries")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["endpoint"] == endpoint and body["resolutionSeconds"] == 1
        (model,) = body["deployedModels"]
        points = model["points"]
        # Requests/s integrate back to the requests this endpoint served, every protocol (about
        # 1 s per point: the recorder's thread wakes a little late, never early).
        seen = sum(pt["requestsPerSecond"] for pt in points)
        if seen >= SERVED_BY_E * 0.9 or time.time() > deadline:
            break
        time.sleep(1)
    assert SERVED_BY_E * 0.9 <= seen <= SERVED_BY_E, points
    assert BAD * 0.9 <= sum(pt["errorsPerSecond"] for pt in points) <= BAD
    busy = [pt for pt in points if pt["requestsPerSecond"] > 0]
    assert all(pt["latencyP50Seconds"] > 0 and pt["latencyP99Seconds"] >= pt["latencyP50Seconds"]
               for pt in busy), busy
    assert points[-1]["replicasReady"] == 1 and points[-1]["replicasDesired"] == 1
    idle = [pt for pt in points if pt["requestsPerSecond"] == 0]
    assert all(pt["latencyP50Seconds"] is None for pt in idle)
    missing = http.get(f"{url}/v1/{PARENT}/endpoints/nope/timeSeries")
    assert missing.status_code == 404, missing.text


def test_metrics_on_the_main_port_need_a_key_for_every_project(setup, traffic):
    serve, url = setup["serve"], setup["url"]
    assert requests.get(f"{url}/metrics").status_code == 401
    viewer = serve.create_key("viewer", ["p"])
    assert key_session(viewer).get(f"{url}/metrics").status_code == 403
    everywhere = serve.create_key("viewer", ["*"])
    r = key_session(everywhere).get(f"{url}/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE tessera_predict_requests_total counter" in r.text
    # The separate listener needs none, and serves nothing else.
    assert requests.get(serve.metrics_url).status_code == 200
    assert requests.get(serve.metrics_url.replace("/metrics", "/v1/keys")).status_code == 404
