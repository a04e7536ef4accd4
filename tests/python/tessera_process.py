"""A real `tessera serve` for the Python compatibility tests.

Starts the binary on port 0 in a data dir, reads its start lines (the REST URL, and the gRPC
address when --grpc-listen is given) and the admin key the first start writes to
DATA_DIR/admin.key: authentication is on, as for every user. `key_session` gives a requests
Session that sends a key; `create_key` makes keys of other roles through the admin API.

Environment: TESSERA_BINARY (set by CTest).
"""
import os
import pathlib
import re
import subprocess

import requests

BINARY = os.environ["TESSERA_BINARY"]


class Serve:
    def __init__(self, tmp, *args, grpc=False, metrics=False, env=None):
        self.tmp = pathlib.Path(tmp)
        self.data = self.tmp / "data"
        self.log_path = self.tmp / "serve.log"
        command = [BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data)]
        if grpc:
            command += ["--grpc-listen", "127.0.0.1:0"]
        if metrics:
            command += ["--metrics-listen", "127.0.0.1:0"]
        command += list(args)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                     env={**os.environ, **(env or {})})
        line = self.proc.stdout.readline()
        match = re.search(r"serving on (https?://127\.0\.0\.1:\d+)", line)
        assert match, line + self.log_path.read_text()
        self.url = match.group(1)
        self.grpc = None
        if grpc:
            grpc_line = self.proc.stdout.readline()
            assert "KServe v2 gRPC on 127.0.0.1:" in grpc_line, grpc_line
            self.grpc = "127.0.0.1:" + grpc_line.split("127.0.0.1:")[1].strip()
        self.metrics_url = None
        if metrics:
            metrics_line = self.proc.stdout.readline()
            match = re.search(r"tessera metrics on (http://127\.0\.0\.1:\d+/metrics)", metrics_line)
            assert match, metrics_line
            self.metrics_url = match.group(1)
        key_file = self.data / "admin.key"
        self.admin_key = key_file.read_text().strip() if key_file.exists() else ""

    def session(self, key=None, **kwargs):
        """A requests Session sending `key` (the admin key by default; "" sends none)."""
        return key_session(self.admin_key if key is None else key, **kwargs)

    def create_key(self, role, projects, **fields):
        """A new key's secret, made by the admin key through POST /v1/keys."""
        body = {"role": role, "projects": projects, **fields}
        r = self.session().post(f"{self.url}/v1/keys", json=body, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["keyString"]

    def log(self):
        return self.log_path.read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            code = self.proc.wait(timeout=60)
            self._log.close()
            return code
        self._log.close()
        return self.proc.returncode


def key_session(key, verify=True):
    session = requests.Session()
    if key:
        session.headers["Authorization"] = f"Bearer {key}"
    session.verify = verify
    return session


# A fashion-vit deployment, the way the observability tests start: the vendored checkpoint
# uploaded as model "fashion" in project p, endpoints created and the model deployed on each.
SOURCE = pathlib.Path(os.environ.get("TESSERA_SOURCE_DIR", "."))
FASHION_VIT = SOURCE / "data" / "models" / "fashion-vit"
PARENT = "projects/p/locations/us-central1"
IMAGE_URI = "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest"


def wait_operation(session, url, op):
    """The response of a long-running operation, once done (an error fails the test)."""
    while not op.get("done"):
        op = session.post(f"{url}/v1/{op['name']}:wait?timeout=30s", json={}).json()
    assert "error" not in op, op
    return op.get("response", {})


def deploy_fashion(serve, session, endpoints=("e",)):
    """Uploads fashion-vit as model "fashion", deploys it on new endpoints of those display
    names; returns their resource names."""
    url = serve.url
    op = session.post(f"{url}/v1/{PARENT}/models:upload", json={
        "modelId": "fashion", "model": {"displayName": "fashion-vit",
                                        "artifactUri": str(FASHION_VIT),
                                        "containerSpec": {"imageUri": IMAGE_URI}}}).json()
    model = wait_operation(session, url, op)["model"]
    names = []
    for display_name in endpoints:
        op = session.post(f"{url}/v1/{PARENT}/endpoints", json={"displayName": display_name}).json()
        endpoint = wait_operation(session, url, op)["name"]
        wait_operation(session, url, session.post(f"{url}/v1/{endpoint}:deployModel", json={
            "deployedModel": {"model": model}}).json())
        names.append(endpoint)
    return names
