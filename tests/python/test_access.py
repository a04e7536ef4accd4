"""Authentication, tenants, quotas and rate limits on a real `tessera serve`, as users drive them:
`requests` (curl's view), the `tessera` CLI, tritonclient.

- Keys: the first start's admin key, create / list / update / revoke / expire through the API and
  the CLI, a revoked or expired key refused on its very next request, a restart keeping keys,
  `--reset-admin-key`, and no secret in any log or listing.
- Tenants: two projects with the same model id; each key lists and resolves only its own.
- Quotas: deploys and endpoints over a project quota are refused 429 naming the quota.
- Rate limits (measured): a client at 3x a 20 req/s key limit gets 20 +- 10% through, one that
  honours Retry-After makes steady progress, another key on the same endpoint is unaffected;
  an endpoint limit holds for every caller and protocol.
- `--auth=none`: a Warning on every response, no keys.

Environment: TESSERA_BINARY and TESSERA_SOURCE_DIR (set by CTest).
"""
import base64
import json
import os
import pathlib
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from tessera_process import BINARY, Serve, key_session

SOURCE = pathlib.Path(os.environ["TESSERA_SOURCE_DIR"])
MODEL_DIR = SOURCE / "data" / "models" / "fashion-vit"
IMAGE = SOURCE / "data" / "images" / "fashion" / "0018-bag.png"
IMAGE_URI = "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def loc(project):
    return f"/v1/projects/{project}/locations/us-central1"


def wait(serve, http, response):
    assert response.status_code == 200, response.text
    op = response.json()
    while not op.get("done"):
        op = http.post(f"{serve.url}/v1/{op['name']}:wait?timeout=30s", json={}).json()
    assert "error" not in op, op
    return op.get("response", {})


def upload(serve, http, project, model_id, parent=None):
    body = {"model": {"displayName": model_id, "artifactUri": str(MODEL_DIR),
                      "containerSpec": {"imageUri": IMAGE_URI}}}
    if parent:
        body["parentModel"] = parent
    else:
        body["modelId"] = model_id
    return wait(serve, http, http.post(f"{serve.url}{loc(project)}/models:upload", json=body))


def endpoint(serve, http, project, endpoint_id):
    r = http.post(f"{serve.url}{loc(project)}/endpoints?endpointId={endpoint_id}",
                  json={"displayName": endpoint_id})
    return wait(serve, http, r)["name"]


def deploy(serve, http, endpoint_name, model, replicas=1, machine="tessera-cpu-1"):
    body = {"deployedModel": {"model": model, "dedicatedResources": {
        "machineSpec": {"machineType": machine}, "minReplicaCount": 1,
        "maxReplicaCount": replicas}}}
    return http.post(f"{serve.url}/v1/{endpoint_name}:deployModel", json=body)


def predict_body():
    return {"instances": [{"string_input": {"b64": base64.b64encode(IMAGE.read_bytes()).decode()}}]}


def cli(serve, *args, key=None, env=None):
    environment = dict(os.environ, TESSERA_SERVER=serve.url,
                       TESSERA_DATA_DIR=str(serve.data))  # the CLI finds admin.key there
    environment.pop("TESSERA_API_KEY", None)
    if key is not None:
        environment["TESSERA_API_KEY"] = key
    environment.update(env or {})
    return subprocess.run([BINARY, *args], capture_output=True, text=True, env=environment,
                          timeout=300)


def audit_lines(serve):
    """Mutations and 403s (audit.jsonl), then 401s (unauthenticated.jsonl)."""
    lines = []
    for name in ("audit.jsonl", "unauthenticated.jsonl"):
        path = serve.data / "audit" / name
        assert path.stat().st_mode & 0o777 == 0o600, name
        lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


@pytest.fixture()
def serve():
    with tempfile.TemporaryDirectory() as tmp:
        server = Serve(tmp)
        yield server
        assert server.stop() == 0, server.log()[-4000:]


def test_the_first_start_writes_one_admin_key_and_a_restart_keeps_it(serve):
    key_file = serve.data / "admin.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    lines = key_file.read_text().splitlines()
    assert lines == [serve.admin_key] and serve.admin_key.startswith("tsk_")
    assert "wrote an admin key for every project to" in serve.log()
    assert serve.stop() == 0
    again = Serve(serve.tmp)  # same data dir
    try:
        assert (serve.data / "admin.key").read_text().strip() == serve.admin_key
        assert again.session().get(f"{again.url}{loc('p')}/models").status_code == 200
        # --reset-admin-key: a new admin key in admin.key; the old one stays valid until revoked.
        assert again.stop() == 0
        reset = Serve(serve.tmp, "--reset-admin-key")
        try:
            assert reset.admin_key != serve.admin_key
            for key in (reset.admin_key, serve.admin_key):
                assert reset.session(key).get(f"{reset.url}/v1/keys").status_code == 200
        finally:
            reset.stop()
    finally:
        again.stop()
    serve.proc = again.proc  # the fixture's stop() finds it stopped


def test_key_lifecycle_through_the_api_and_the_cli(serve):
    admin = serve.session()
    url = serve.url
    # The CLI creates a key: the secret alone on stdout.
    made = cli(serve, "keys", "create", "--role", "deployer", "--projects", "team-a",
               "--display-name", "ci deployer")
    assert made.returncode == 0, made.stderr
    deployer = made.stdout.strip()
    deployer_id = deployer[:20]
    assert deployer.startswith("tsk_") and len(deployer) == 64
    assert "it is shown only now" in made.stderr
    as_deployer = key_session(deployer)
    assert as_deployer.get(f"{url}{loc('team-a')}/models").status_code == 200
    assert as_deployer.get(f"{url}{loc('team-b')}/models").status_code == 403
    assert as_deployer.get(f"{url}/v1/keys").status_code == 403  # keys are the admin's

    # Listed (API and CLI) without any secret.
    listed = admin.get(f"{url}/v1/keys").json()["keys"]
    assert {k["keyId"] for k in listed} >= {deployer_id, serve.admin_key[:20]}
    assert all("keyString" not in k for k in listed)
    table = cli(serve, "keys", "list")
    assert table.returncode == 0 and deployer_id in table.stdout and "ci deployer" in table.stdout
    assert deployer not in table.stdout and serve.admin_key not in table.stdout

    # Update: a rate limit through the CLI, read back through the API.
    updated = cli(serve, "keys", "update", deployer_id, "--rate-limit", "5", "--burst", "7")
    assert updated.returncode == 0, updated.stderr
    assert admin.get(f"{url}/v1/keys/{deployer_id}").json()["rateLimit"] == {
        "requestsPerSecond": 5, "burst": 7}

    # Revoked: refused on the very next request, no restart.
    revoked = cli(serve, "keys", "revoke", deployer_id)
    assert revoked.returncode == 0, revoked.stderr
    r = as_deployer.get(f"{url}{loc('team-a')}/models")
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="tessera"'
    assert admin.get(f"{url}/v1/keys/{deployer_id}").json()["state"] == "REVOKED"
    assert deployer_id not in {k["keyId"] for k in admin.get(f"{url}/v1/keys").json()["keys"]}
    assert deployer_id in {k["keyId"] for k in
                           admin.get(f"{url}/v1/keys?showRevoked=true").json()["keys"]}
    # The CLI with that key says why and where it looked.
    refused = cli(serve, "models", "list", "--project", "team-a", key=deployer)
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr
    assert "revoked" in refused.stderr and "TESSERA_API_KEY" in refused.stderr

    # Expired: a 2 s key works, then fails.
    short = admin.post(f"{url}/v1/keys", json={"role": "viewer", "projects": ["team-a"],
                                               "ttl": "2s"}).json()
    as_short = key_session(short["keyString"])
    assert as_short.get(f"{url}{loc('team-a')}/models").status_code == 200
    time.sleep(2.2)
    r = as_short.get(f"{url}{loc('team-a')}/models")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]

    # Both header forms; a project admin manages its own project's keys only.
    team_admin = admin.post(f"{url}/v1/keys", json={"role": "admin", "projects": ["team-a"]})
    team_admin = team_admin.json()["keyString"]
    as_header = requests.get(f"{url}/v1/keys", headers={"x-api-key": team_admin})
    assert as_header.status_code == 200
    assert {tuple(k["projects"]) for k in as_header.json()["keys"]} == {("team-a",)}
    refused = requests.post(f"{url}/v1/keys", headers={"x-api-key": team_admin},
                            json={"role": "viewer", "projects": ["team-b"]})
    assert refused.status_code == 403

    # Mutations and refusals are in the audit log; no secret is anywhere.
    lines = audit_lines(serve)
    assert any(l["method"] == "POST" and l["resource"] == "/v1/keys" and l["status"] == 200
               for l in lines)
    assert any(l["status"] == 401 for l in lines) and any(l["status"] == 403 for l in lines)
    everything = (serve.log() + json.dumps(lines) + table.stdout + table.stderr + refused.text)
    for secret in (serve.admin_key, deployer, short["keyString"], team_admin):
        for start in range(21, 64 - 11, 4):  # no 11 characters of a secret, anywhere
            assert secret[start:start + 11] not in everything

    # The CLI offers this machine's admin key only to a server on this machine.
    remote = cli(serve, "models", "list", "--server", "http://tessera-test.invalid:9")
    assert remote.returncode == 1
    assert "not sending this machine's admin key" in remote.stderr, remote.stderr
    # A whole key given where a key id is expected never goes into a URL.
    got = cli(serve, "keys", "get", team_admin)
    assert got.returncode == 0 and team_admin[:20] in got.stdout, got.stderr
    assert team_admin[21:32] not in serve.log() + json.dumps(audit_lines(serve))


def answer_to_header(serve, extra_headers=b""):
    """The response head to an upload's header (a 50 MB body announced, none sent)."""
    import socket
    host, port = serve.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"POST /v1/projects/p/locations/l/models:upload HTTP/1.1\r\nHost: x\r\n" +
                  extra_headers +
                  b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            assert chunk, answer
            answer += chunk
    return answer.split(b"\r\n\r\n")[0].decode()


def test_an_upload_without_a_key_is_refused_before_its_body(serve):
    """A request with a body and no valid key gets its 401 as soon as its header is in: the
    server never reads (or budgets memory for) the body."""
    head = answer_to_header(serve)
    assert head.startswith("HTTP/1.1 401"), head
    assert 'WWW-Authenticate: Bearer realm="tessera"' in head, head
    assert any(l["status"] == 401 and l["resource"].endswith("models:upload")
               for l in audit_lines(serve))
    # A valid key without the right to upload is refused there too, with the route's 403.
    viewer = serve.create_key("viewer", ["p"])
    head = answer_to_header(serve, b"x-api-key: " + viewer.encode() + b"\r\n")
    assert head.startswith("HTTP/1.1 403"), head
    assert any(l["status"] == 403 and l.get("keyId") == viewer[:20] for l in audit_lines(serve))
    # A key whose limit has no token left gets its 429 there as well, with Retry-After.
    limited = serve.create_key("deployer", ["p"],
                               rateLimit={"requestsPerSecond": 0.01, "burst": 1})
    assert key_session(limited).get(f"{serve.url}/v1/projects/p/locations/l/models",
                                    timeout=30).status_code == 200
    head = answer_to_header(serve, b"x-api-key: " + limited.encode() + b"\r\n")
    assert head.startswith("HTTP/1.1 429"), head
    retry_after = [l for l in head.split("\r\n") if l.lower().startswith("retry-after:")]
    assert retry_after and 90 <= int(retry_after[0].split(":")[1]) <= 100, head


def test_the_data_dir_is_closed_to_other_users():
    """It holds the registry, the artifacts, the pepper and admin.key: serve makes it 0700, also
    when it was made open before."""
    with tempfile.TemporaryDirectory() as tmp:
        data = pathlib.Path(tmp) / "data"
        data.mkdir()
        os.chmod(data, 0o755)
        server = Serve(tmp)
        try:
            assert data.stat().st_mode & 0o777 == 0o700
            assert "mode 755 -> 700" in server.log()
        finally:
            assert server.stop() == 0, server.log()[-4000:]


def replica_requests(http, url, endpoint_name):
    """Requests served so far by the replicas of the endpoint's (one) deployed model."""
    models = http.get(f"{url}/v1/{endpoint_name}/replicas").json()["deployedModels"]
    assert len(models) == 1, models
    return sum(r["requests"] for r in models[0]["replicas"])


def test_projects_are_tenants_on_every_protocol(serve):
    admin, url = serve.session(), serve.url
    # Both tenants call their model "fashion", version 1; a also serves it on a second endpoint.
    a_model = upload(serve, admin, "a", "fashion")["model"]
    b_model = upload(serve, admin, "b", "fashion")["model"]
    endpoints = {}
    for project, name, model in (("a", "e", a_model), ("a", "e2", a_model), ("b", "e", b_model)):
        endpoints[project, name] = endpoint(serve, admin, project, name)
        wait(serve, admin, deploy(serve, admin, endpoints[project, name], model + "@1"))
    key_a = key_session(serve.create_key("predictor", ["a"]))
    only_a_e = key_session(serve.create_key("predictor", ["a"], endpoints=[endpoints["a", "e"]]))
    viewer_a = key_session(serve.create_key("viewer", ["a"]))
    key_b = key_session(serve.create_key("predictor", ["b"]))
    key_ab = key_session(serve.create_key("predictor", ["a", "b"]))

    # REST lists: a key of a sees none of b's resources and gets 403 on them.
    assert [m["name"] for m in viewer_a.get(f"{url}{loc('a')}/models").json()["models"]] == [a_model]
    assert viewer_a.get(f"{url}{loc('b')}/models").status_code == 403
    assert viewer_a.get(f"{url}/v1/{b_model}").status_code == 403

    # TF Serving and KServe names resolve within the key's projects, and the request goes only
    # to replicas the key reaches: counted on each endpoint's replicas.
    body = {"instances": [{"b64": base64.b64encode(IMAGE.read_bytes()).decode()}]}

    def served(total=None):
        """Requests per endpoint, once the replicas' counters (probed periodically) add up to
        `total`."""
        deadline = time.monotonic() + 30
        while True:
            counts = {k: replica_requests(admin, url, v) for k, v in endpoints.items()}
            if total is None or sum(counts.values()) >= total or time.monotonic() > deadline:
                return counts
            time.sleep(0.1)

    before = served()
    for _ in range(4):
        assert key_b.post(f"{url}/v1/models/fashion:predict", json=body).status_code == 200
    after = served(sum(before.values()) + 4)
    assert after["b", "e"] - before["b", "e"] == 4
    assert after["a", "e"] == before["a", "e"] and after["a", "e2"] == before["a", "e2"]
    for _ in range(6):
        assert only_a_e.post(f"{url}/v1/models/fashion:predict", json=body).status_code == 200
        r = only_a_e.post(f"{url}/v2/models/fashion/infer", json={"inputs": [{
            "name": "string_input", "datatype": "BYTES", "shape": [1],
            "data": [body["instances"][0]["b64"]]}]})
        assert r.status_code == 200, r.text
    final = served(sum(after.values()) + 12)
    assert final["a", "e"] - after["a", "e"] == 12
    assert final["a", "e2"] == after["a", "e2"] and final["b", "e"] == after["b", "e"]
    # Both of a's endpoints for a key of the whole project; a's and b's are ambiguous together.
    for _ in range(10):
        assert key_a.post(f"{url}/v1/models/fashion:predict", json=body).status_code == 200
    assert served(sum(final.values()) + 10)["b", "e"] == final["b", "e"]
    ambiguous = key_ab.get(f"{url}/v1/models/fashion")
    assert ambiguous.status_code == 400 and "ambiguous" in ambiguous.json()["error"]
    assert key_a.get(f"{url}/v2/models/fashion").json()["versions"] == ["1"]
    # A model of another tenant does not exist for the key: 404, as a name nobody uses.
    c_key = key_session(serve.create_key("predictor", ["c"]))
    theirs = c_key.post(f"{url}/v1/models/fashion:predict", json=body)
    nobody = c_key.post(f"{url}/v1/models/nothing:predict", json=body)
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json()["error"] == nobody.json()["error"].replace("nothing", "fashion")

    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    headers = {"Authorization": key_b.headers["Authorization"]}
    assert client.get_model_metadata("fashion", headers=headers)["name"] == "fashion"
    with pytest.raises(InferenceServerException, match="needs an API key"):
        client.get_model_metadata("fashion")


def test_quotas_refuse_deploys_and_endpoints_over_them(serve):
    admin, url = serve.session(), serve.url
    model = upload(serve, admin, "q", "fashion")["model"]
    first = endpoint(serve, admin, "q", "first")
    # Only the admin key for every project sets quotas; a project's viewer reads them.
    team_admin = key_session(serve.create_key("admin", ["q"]))
    assert team_admin.patch(f"{url}/v1/projects/q/quotas", json={"replicas": 99}).status_code == 403
    set_quota = cli(serve, "quotas", "set", "--project", "q", "--deployed-models", "1",
                    "--cpu-cores", "2", "--endpoints", "2")
    assert set_quota.returncode == 0, set_quota.stderr
    viewer = key_session(serve.create_key("viewer", ["q"]))
    quota = viewer.get(f"{url}/v1/projects/q/quotas").json()
    assert quota["quota"] == {"endpoints": 2, "deployedModels": 1, "cpuCores": 2}
    assert quota["usage"]["endpoints"] == 1

    # A deploy that would take 4 vCPUs (2 replicas x 2) is over cpuCores.
    r = deploy(serve, admin, first, model, replicas=2, machine="n1-standard-2")
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED" and "cpuCores would be 4" in error["message"]
    info = [d for d in error["details"] if d["@type"] == ERROR_INFO][0]
    assert info["reason"] == "QUOTA_EXCEEDED" and info["metadata"]["quota"] == "cpuCores"
    # Within the quota: one deployed model of one vCPU.
    wait(serve, admin, deploy(serve, admin, first, model))
    second = endpoint(serve, admin, "q", "second")
    r = deploy(serve, admin, second, model)
    assert r.status_code == 429 and "deployedModels would be 2" in r.json()["error"]["message"]
    r = admin.post(f"{url}{loc('q')}/endpoints", json={"displayName": "third"})
    assert r.status_code == 429 and "endpoints would be 3" in r.json()["error"]["message"]
    # Another project is not bound by q's quota; -1 removes a limit.
    wait(serve, admin, admin.post(f"{url}{loc('other')}/endpoints", json={"displayName": "x"}))
    shown = cli(serve, "quotas", "get", "--project", "q")
    assert shown.returncode == 0 and "deployedModels" in shown.stdout, shown.stderr
    assert cli(serve, "quotas", "set", "--project", "q", "--deployed-models", "-1").returncode == 0
    wait(serve, admin, deploy(serve, admin, second, model))


class Pacer:
    """One client at a fixed offered rate over several threads; counts answers by status."""

    def __init__(self, url, key, rate, seconds, body, threads=4):
        self.url, self.key, self.rate, self.seconds = url, key, rate, seconds
        self.body, self.threads = json.dumps(body), threads
        self.answers = []  # (send time, status, retry_after)
        self.lock = threading.Lock()

    def _run(self, index, start):
        session = key_session(self.key)
        n = 0
        while True:
            at = start + (n * self.threads + index) / self.rate
            if at - start >= self.seconds:
                return
            time.sleep(max(0.0, at - time.monotonic()))
            r = session.post(self.url, data=self.body, timeout=60,
                             headers={"Content-Type": "application/json"})
            with self.lock:
                self.answers.append((at - start, r.status_code, r.headers.get("Retry-After")))
            n += 1

    def run(self):
        start = time.monotonic() + 0.2
        workers = [threading.Thread(target=self._run, args=(i, start)) for i in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return self


def test_rate_limits_hold_and_spare_other_clients(serve):
    admin, url = serve.session(), serve.url
    model = upload(serve, admin, "rl", "fashion")["model"]
    name = endpoint(serve, admin, "rl", "e")
    wait(serve, admin, deploy(serve, admin, name, model))
    target = f"{url}/v1/{name}:predict"
    limited = serve.create_key("predictor", ["rl"],
                               rateLimit={"requestsPerSecond": 20, "burst": 20})
    other = serve.create_key("predictor", ["rl"])

    # A client at 3x its key's 20 req/s, and another key at 5 req/s on the same endpoint.
    flood = Pacer(target, limited, rate=60, seconds=12, body=predict_body())
    calm = Pacer(target, other, rate=5, seconds=12, body=predict_body(), threads=1)
    threads = [threading.Thread(target=p.run) for p in (flood, calm)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = {s for _, s, _ in flood.answers}
    assert statuses <= {200, 429}, statuses
    # After the burst (20 at once), the steady rate: answers sent in [2 s, 12 s).
    steady = [s for t, s, _ in flood.answers if t >= 2.0]
    through = sum(1 for s in steady if s == 200) / 10.0
    print(f"offered {len(flood.answers) / 12:.1f} req/s, through {through:.1f} req/s "
          f"(limit 20), refused {sum(1 for s in steady if s == 429)}")
    assert 18.0 <= through <= 22.0, through
    assert all(ra is not None and int(ra) >= 1 for _, s, ra in flood.answers if s == 429)
    assert [s for _, s, _ in calm.answers] == [200] * len(calm.answers)

    refusal = key_session(limited).post(target, json=predict_body())
    for _ in range(40):
        if refusal.status_code == 429:
            break
        refusal = key_session(limited).post(target, json=predict_body())
    assert refusal.status_code == 429
    error = refusal.json()["error"]
    info = [d for d in error["details"] if d["@type"] == ERROR_INFO][0]
    assert info["reason"] == "RATE_LIMIT_EXCEEDED" and info["metadata"]["limit"] == "key"

    # A client that honours Retry-After is never refused twice in a row and keeps going.
    patient = key_session(serve.create_key("predictor", ["rl"],
                                           rateLimit={"requestsPerSecond": 4, "burst": 4}))
    done, refused_after_wait, start = 0, 0, time.monotonic()
    waited = False
    while time.monotonic() - start < 6:
        r = patient.post(target, json=predict_body())
        if r.status_code == 200:
            done += 1
            waited = False
            continue
        assert r.status_code == 429
        refused_after_wait += waited
        time.sleep(int(r.headers["Retry-After"]))
        waited = True
    assert refused_after_wait == 0
    assert done >= 12, done  # the bucket refills 4 per second of waiting

    # An endpoint limit holds for every key and every protocol that reaches the endpoint.
    set_limit = cli(serve, "endpoints", "rate-limit", name, "--project", "rl", "--rate", "5")
    assert set_limit.returncode == 0, set_limit.stderr
    shared = Pacer(target, other, rate=15, seconds=6, body=predict_body(), threads=2).run()
    steady = [s for t, s, _ in shared.answers if t >= 2.0]
    assert 3 * 4 <= sum(1 for s in steady if s == 200) <= 7 * 4, steady
    refused = [s for s in steady if s == 429]
    assert refused
    tf = key_session(other).post(f"{url}/v1/models/fashion:predict",
                                 json={"instances": [{"b64": predict_body()["instances"][0]
                                                      ["string_input"]["b64"]}]})
    for _ in range(20):
        if tf.status_code == 429:
            break
        tf = key_session(other).post(f"{url}/v1/models/fashion:predict", data=tf.request.body,
                                     headers={"Content-Type": "application/json"})
    assert tf.status_code == 429 and "rate limit of endpoint" in tf.json()["error"]
    assert int(tf.headers["Retry-After"]) >= 1
    assert cli(serve, "endpoints", "rate-limit", name, "--project", "rl", "--clear").returncode == 0
    assert all(key_session(other).post(target, json=predict_body()).status_code == 200
               for _ in range(10))


def test_authentication_off_says_so_on_every_response():
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(tmp, "--auth=none")
        try:
            assert not (serve.data / "admin.key").exists()
            assert "AUTHENTICATION IS OFF" in serve.log()
            for path in ("/v1/projects/p/locations/l/models", "/v2/health/live", "/v2",
                         "/v1/models/none"):
                r = requests.get(serve.url + path)
                assert "authentication is off" in r.headers["Warning"], path
            r = requests.post(f"{serve.url}/v1/keys", json={"role": "viewer", "projects": ["p"]})
            assert r.status_code == 400 and "authentication is off" in r.json()["error"]["message"]
        finally:
            assert serve.stop() == 0
