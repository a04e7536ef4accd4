"""Structured logs of a real `tessera serve --log-format json`: every line one JSON object, one
access line per request carrying the request id the client sent (and got back), the id on the
lines logged while the request was handled, the replica's lines in JSON too, and the log level
changed at run time through PUT /v1/logging (an admin key for every project).

Environment: TESSERA_BINARY and TESSERA_SOURCE_DIR, set by CTest (tests/python/CMakeLists.txt).
"""
import base64
import json
import os
import pathlib
import tempfile
import time

import pytest
import requests

from tessera_process import PARENT, Serve, deploy_fashion, key_session

SOURCE = pathlib.Path(os.environ["TESSERA_SOURCE_DIR"])
IMAGE = sorted((SOURCE / "data" / "images" / "fashion").glob("*.png"))[0]




def lines(serve):
    """Every log line, parsed; a line that is not one JSON object fails the test."""
    out = []
    for text in serve.log().splitlines():
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {text!r}")
        assert isinstance(record, dict), text
        out.append(record)
    return out


def eventually(predicate, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    return predicate()


@pytest.fixture(scope="module")
def setup():
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(tmp, "--log-format", "json")
        http = serve.session()
        url = serve.url
        (endpoint,) = deploy_fashion(serve, http)
        yield {"serve": serve, "http": http, "url": url, "endpoint": endpoint}
        assert serve.stop() == 0, serve.log()[-4000:]


def test_every_line_is_json_and_replicas_log_json_too(setup):
    records = lines(setup["serve"])
    assert {"time", "level", "process", "msg"} <= set(records[0])
    assert any(r["msg"].startswith("engine: instruction set") for r in records)
    # The replica's own JSON lines are logged again as lines of the server's, at their own level
    # with their message after the replica's id (not as JSON inside a message).
    replica = [r for r in records if r["msg"].startswith("replica 1-0: ")]
    assert any("replica ready" in r["msg"] for r in replica), replica[-5:]
    assert not [r for r in replica if r["msg"].removeprefix("replica 1-0: ").startswith("{")]


def test_one_access_line_per_request_with_the_clients_request_id(setup):
    http, url, endpoint, serve = setup["http"], setup["url"], setup["endpoint"], setup["serve"]
    body = {"instances": [{"string_input": {"b64": base64.b64encode(IMAGE.read_bytes()).decode()}}]}
    r = http.post(f"{url}/v1/{endpoint}:predict", json=body, headers={"X-Request-Id": "trace-me-1"})
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"] == "trace-me-1"
    bad = http.post(f"{url}/v1/{endpoint}:predict", headers={"X-Request-Id": "trace-me-2"},
                    json={"instances": [{"string_input": {"b64": "%%%"}}]})
    assert bad.status_code == 400

    def access(request_id):
        return [r for r in lines(serve) if r["msg"] == "access" and r.get("requestId") == request_id]

    good = eventually(lambda: access("trace-me-1"))
    assert len(good) == 1, good
    assert good[0]["method"] == "POST"
    assert good[0]["path"] == f"/v1/{endpoint}:predict"
    assert good[0]["status"] == "200"
    assert float(good[0]["durationMs"]) > 0 and int(good[0]["bytes"]) > 0
    assert good[0]["remote"].startswith("127.0.0.1")
    failed = eventually(lambda: access("trace-me-2"))
    assert len(failed) == 1 and failed[0]["status"] == "400", failed
    # A request without an id gets one, and its access line has it.
    plain = http.get(f"{url}/v1/{PARENT}/endpoints")
    generated = plain.headers["X-Request-Id"]
    assert len(generated) == 32
    assert len(eventually(lambda: access(generated))) == 1


def test_log_level_changes_at_run_time(setup):
    http, url, serve = setup["http"], setup["url"], setup["serve"]
    assert http.get(f"{url}/v1/logging").json() == {"level": "info"}
    assert not [r for r in lines(serve) if r["level"] == "debug"]
    r = http.put(f"{url}/v1/logging", json={"level": "debug"})
    assert r.status_code == 200 and r.json() == {"level": "debug"}, r.text
    # The listener logs what it refuses at debug: a header over 64 KiB is refused with 431.
    r = http.get(f"{url}/v1/{PARENT}/endpoints", headers={"X-Big": "x" * 70000})
    assert r.status_code == 431, r.status_code
    # The listener's refusals have their access line too.
    assert eventually(lambda: [r for r in lines(serve) if r["msg"] == "access"
                               and r.get("status") == "431"])
    assert eventually(lambda: [r for r in lines(serve) if r["level"] == "debug"])
    for bad in ({"level": "loud"}, {"level": 3}, {}, {"level": "info", "extra": 1}):
        r = http.put(f"{url}/v1/logging", json=bad)
        assert r.status_code == 400, (bad, r.text)
    assert http.put(f"{url}/v1/logging", data="not json").status_code == 400
    viewer = serve.create_key("viewer", ["*"])
    assert key_session(viewer).get(f"{url}/v1/logging").status_code == 403
    admin_of_p = serve.create_key("admin", ["p"])
    assert key_session(admin_of_p).put(f"{url}/v1/logging", json={"level": "info"}).status_code == 403
    assert requests.get(f"{url}/v1/logging").status_code == 401
    assert http.put(f"{url}/v1/logging", json={"level": "info"}).json() == {"level": "info"}
