"""Request/response logging (Vertex's Endpoint.predictRequestResponseLoggingConfig) on a real
`tessera serve`: set with the official SDK's update_endpoint and with the CLI; the sample is the
requests whose id hashes below the rate (computed here independently, and the same on a rerun);
images replaced by the sha256 of their bytes unless the endpoint stores them; files rotated with
a disk cap; bad configurations refused by name.

Environment: TESSERA_BINARY and TESSERA_SOURCE_DIR, set by CTest (tests/python/CMakeLists.txt).
"""
import base64
import hashlib
import json
import os
import pathlib
import subprocess
import tempfile
import time

import pytest
from google.api_core.client_options import ClientOptions
from google.cloud import aiplatform_v1
from google.oauth2.credentials import Credentials
from google.protobuf import field_mask_pb2

from tessera_process import Serve, deploy_fashion, wait_operation

SOURCE = pathlib.Path(os.environ["TESSERA_SOURCE_DIR"])
BINARY = os.environ["TESSERA_BINARY"]
IMAGE = sorted((SOURCE / "data" / "images" / "fashion").glob("*.png"))[0]
PHOTO = max((SOURCE / "data" / "images" / "photos").iterdir(), key=lambda p: p.stat().st_size)


def sampled(request_id, rate):
    """The server's rule, written again: FNV-1a 64 of the id, MurmurHash3's 64-bit finalizer,
    the top 53 bits as a fraction."""
    mask = (1 << 64) - 1
    h = 14695981039346656037
    for byte in request_id.encode():
        h = ((h ^ byte) * 1099511628211) & mask
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & mask
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & mask
    h ^= h >> 33
    return (h >> 11) / float(1 << 53) < rate




@pytest.fixture(scope="module")
def setup():
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(tmp, "--payload-log-max-file-mib", "1", "--payload-log-max-files", "2",
                      env={"TESSERA_TIME_SERIES_RESOLUTION_MS": "500"})
        http = serve.session()
        url = serve.url
        (endpoint,) = deploy_fashion(serve, http)
        yield {"serve": serve, "http": http, "url": url, "endpoint": endpoint}
        assert serve.stop() == 0, serve.log()[-4000:]


def folder(setup):
    (found,) = (setup["serve"].data / "payload-logs").iterdir()
    return found


def logged(setup, timeout=10):
    """Every line of the endpoint's files, oldest first, once their count stops growing."""
    previous, deadline = -1, time.time() + timeout
    while True:
        base = setup["serve"].data / "payload-logs"
        # requests.jsonl.1 is older than requests.jsonl.
        files = sorted(folder(setup).glob("requests.jsonl*"), reverse=True) if any(
            base.iterdir()) else []
        lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
        if len(lines) == previous or time.time() > deadline:
            return lines
        previous = len(lines)
        time.sleep(0.5)


def predict(setup, request_id, image=IMAGE):
    body = {"instances": [{"string_input": {"b64": base64.b64encode(image.read_bytes()).decode()}}]}
    r = setup["http"].post(f"{setup['url']}/v1/{setup['endpoint']}:predict", json=body,
                           headers={"X-Request-Id": request_id})
    assert r.status_code == 200, r.text


def cli(setup, *args):
    environment = dict(os.environ, TESSERA_SERVER=setup["url"],
                       TESSERA_DATA_DIR=str(setup["serve"].data))
    environment.pop("TESSERA_API_KEY", None)
    return subprocess.run([BINARY, *args], capture_output=True, text=True, env=environment,
                          timeout=120)


def test_the_sdk_enables_a_deterministic_sample_with_images_hashed(setup):
    client = aiplatform_v1.EndpointServiceClient(
        client_options=ClientOptions(api_endpoint=setup["url"]),
        credentials=Credentials(token=setup["serve"].admin_key), transport="rest")
    endpoint = client.update_endpoint(
        endpoint=aiplatform_v1.Endpoint(
            name=setup["endpoint"],
            predict_request_response_logging_config=aiplatform_v1.PredictRequestResponseLoggingConfig(
                enabled=True, sampling_rate=0.3)),
        update_mask=field_mask_pb2.FieldMask(paths=["predict_request_response_logging_config"]))
    assert endpoint.predict_request_response_logging_config.enabled
    assert endpoint.predict_request_response_logging_config.sampling_rate == pytest.approx(0.3)
    assert client.get_endpoint(name=setup["endpoint"]).predict_request_response_logging_config.enabled

    ids = [f"sample-{i}" for i in range(60)]
    expected = [i for i in ids if sampled(i, 0.3)]
    assert 5 < len(expected) < 40, expected
    time.sleep(0.3)  # the routing table carries the new config to the predict path
    for request_id in ids:
        predict(setup, request_id)
    lines = logged(setup)
    assert [line["requestId"] for line in lines] == expected
    line = lines[0]
    assert line["endpoint"] == setup["endpoint"] and line["deployedModelId"] == "1"
    assert line["status"] == 200 and line["loggingTime"].endswith("Z")
    image = line["request"]["instances"][0]["string_input"]["b64"]
    assert image == {"sha256": hashlib.sha256(IMAGE.read_bytes()).hexdigest(),
                     "bytes": IMAGE.stat().st_size}
    assert line["response"]["predictions"][0]["label"]
    # A rerun with the same ids samples the same requests.
    for request_id in ids:
        predict(setup, request_id)
    again = logged(setup)
    assert [line["requestId"] for line in again] == expected + expected


def test_the_cli_stores_images_rotates_and_caps_the_disk_then_stops(setup):
    r = cli(setup, "endpoints", "set-logging", setup["endpoint"],
            "--sampling-rate", "1", "--store-images", "--json")
    assert r.returncode == 0, r.stderr
    config = json.loads(r.stdout)["predictRequestResponseLoggingConfig"]
    assert config == {"enabled": True, "samplingRate": 1, "tessera": {"storeImages": True}}
    time.sleep(0.3)
    predict(setup, "whole-image")
    lines = logged(setup)
    assert lines[-1]["requestId"] == "whole-image"
    assert base64.b64decode(lines[-1]["request"]["instances"][0]["string_input"]["b64"]) == \
        IMAGE.read_bytes()
    # Photos of ~100+ KiB each, stored whole: past 1 MiB the file rotates, and only 2 files stay.
    count = max(12, (3 << 20) // PHOTO.stat().st_size)
    for i in range(count):
        predict(setup, f"photo-{i}", PHOTO)
    logged(setup)
    names = sorted(p.name for p in folder(setup).iterdir())
    assert names == ["requests.jsonl", "requests.jsonl.1"], names
    assert all(p.stat().st_size <= (1 << 20) for p in folder(setup).iterdir())
    assert logged(setup)[-1]["requestId"] == f"photo-{count - 1}"
    # Rate 0 stops it.
    assert cli(setup, "endpoints", "set-logging", setup["endpoint"], "--sampling-rate", "0").returncode == 0
    time.sleep(0.3)
    before = len(logged(setup))
    predict(setup, "after-stop")
    assert len(logged(setup)) == before


def test_bad_configurations_are_refused_by_name(setup):
    http, url, endpoint = setup["http"], setup["url"], setup["endpoint"]
    mask = "?updateMask=predictRequestResponseLoggingConfig"
    r = http.patch(f"{url}/v1/{endpoint}{mask}",
                   json={"predictRequestResponseLoggingConfig": {"enabled": True, "samplingRate": 1.5}})
    assert r.status_code == 400 and "samplingRate" in r.text, r.text
    r = http.patch(f"{url}/v1/{endpoint}{mask}", json={"predictRequestResponseLoggingConfig": {
        "enabled": True, "samplingRate": 0.1,
        "bigqueryDestination": {"outputUri": "bq://project.dataset.table"}}})
    assert r.status_code == 400 and "BigQuery" in r.text, r.text
    r = http.patch(f"{url}/v1/{endpoint}{mask}",
                   json={"predictRequestResponseLoggingConfig": {"enabled": True, "sampleRate": 1}})
    assert r.status_code == 400 and "sampleRate" in r.text, r.text
    assert cli(setup, "endpoints", "set-logging", endpoint, "--sampling-rate", "2").returncode != 0


def test_a_deleted_endpoints_logs_go_with_it(setup):
    http, url, endpoint = setup["http"], setup["url"], setup["endpoint"]
    base = setup["serve"].data / "payload-logs"
    assert any(base.iterdir())
    deployed = http.get(f"{url}/v1/{endpoint}").json()["deployedModels"][0]["id"]
    wait_operation(http, url, http.post(f"{url}/v1/{endpoint}:undeployModel",
                                        json={"deployedModelId": deployed}).json())
    wait_operation(http, url, http.delete(f"{url}/v1/{endpoint}").json())
    deadline = time.time() + 10
    while any(base.iterdir()) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(base.iterdir()), list(base.iterdir())
