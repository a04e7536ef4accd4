#!/usr/bin/env python3
"""Kill loop: kill -9 `tessera serve` at random moments under control-plane and predict load,
restart it on the same data dir, and check after every restart that nothing was lost or left.

Each round: start `tessera serve` on the data dir, check the state the previous kill left (below),
then run load -- uploads (folder and .tar.gz), endpoint creation, deploys, undeploys, version,
model and endpoint deletes, and Vertex predict traffic -- and kill -9 the server at a random
moment (sometimes during its own startup, while replicas are still loading). After the last round
the server is restarted once more, checked, and stopped with SIGTERM.

Checked after every kill (before and after the restart):
  - no `tessera replica` of the killed server outlives it (/proc, by the data dir in the command
    line; they die through PR_SET_PDEATHSIG);
  - `PRAGMA integrity_check` and `PRAGMA foreign_key_check` of DATA_DIR/tessera.db pass;
  - every operation the client started is done, with a response or an error that has a code and
    a message; one interrupted by the kill says "interrupted by a server restart"; an operation
    seen done before the kill reads back the same; no operation of the location is not done;
  - no orphaned artifact: every blob is referenced by a model version and every referenced blob
    exists; artifacts/tmp, models/.staging and uploads are empty; every version folder belongs to
    a version; no temporary packed-weight file of a dead process; no socket in run/ that no
    deployed model of the registry owns;
  - no half deployment: every deployed model is DEPLOYED, traffic splits name deployed models
    only and sum to 100 (or are empty on an endpoint without deployed models), and every deployed
    model gets a ready replica within --ready-timeout;
  - predictions are correct: every endpoint with traffic answers every image of
    data/images/fashion with the label `tessera classify` gives. Predictions answered 200 during
    the load must be correct too.

Usage:
  scripts/kill_loop.py --rounds 50 --seed 1 [--binary build/src/cli/tessera]
Exit status 0 when every round passed, 1 on any violation (each printed), 2 on a setup error.
Only the standard library is used.
"""
import argparse
import base64
import http.client
import json
import os
import pathlib
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

PARENT = "projects/p/locations/us-central1"
IMAGE_URI = "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest"
MAX_MODELS = 4
MAX_ENDPOINTS = 3
MAX_DEPLOYED_PER_ENDPOINT = 2


class Violations:
    def __init__(self):
        self.items = []
        self.lock = threading.Lock()

    def add(self, round_no, text):
        with self.lock:
            self.items.append((round_no, text))
        print(f"  VIOLATION (round {round_no}): {text}", flush=True)


class Client:
    """JSON over HTTP/1.1 with a fresh connection per call (the server may die at any moment)."""

    def __init__(self, port, key, timeout=30.0):
        self.port = port
        self.key = key  # the admin key: every route but the health probes needs one
        self.timeout = timeout

    def call(self, method, path, body=None, timeout=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout or self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
            headers["Authorization"] = f"Bearer {self.key}"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = {"_raw": raw[:200].decode(errors="replace")}
            return resp.status, parsed
        finally:
            conn.close()

    def get(self, path):
        return self.call("GET", path)

    def list_all(self, path, key):
        items, token = [], ""
        while True:
            sep = "&" if "?" in path else "?"
            status, body = self.get(f"{path}{sep}pageSize=1000" + (f"&pageToken={token}" if token else ""))
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body}")
            items += body.get(key, [])
            token = body.get("nextPageToken", "")
            if not token:
                return items


class Server:
    def __init__(self, binary, data_dir, log_path):
        self.log = open(log_path, "a")
        self.log.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n")
        self.log.flush()
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        line = self.proc.stdout.readline()
        if "tessera serving on http://127.0.0.1:" not in line:
            self.proc.wait(timeout=30)
            raise RuntimeError(f"serve did not start (exit {self.proc.returncode}): {line!r}; "
                               f"see {log_path}")
        self.port = int(line.split("127.0.0.1:")[1].split()[0])
        # Written by the first start (before it listens) and kept across restarts and kills.
        self.key = (pathlib.Path(data_dir) / "admin.key").read_text().strip()
        self.client = Client(self.port, self.key)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def terminate(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()


def replica_processes(data_dir):
    """pid -> ppid of live `tessera replica` processes whose command line names data_dir."""
    found = {}
    needle = str(data_dir)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = pathlib.Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            stat = pathlib.Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state_and_ppid = stat.rsplit(")", 1)[1].split()
        if state_and_ppid[0] == "Z":
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if len(args) >= 2 and args[1] == "replica" and any(needle in a for a in args):
            found[int(entry)] = int(state_and_ppid[1])
    return found


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def operation_ok(op):
    """'' when a done operation is well formed, else what is wrong."""
    if not op.get("done"):
        return "not done"
    if "error" in op:
        err = op["error"]
        if not err.get("code") or not err.get("message"):
            return f"error without code or message: {err}"
    return ""


class Loop:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.binary = str(pathlib.Path(args.binary).resolve())
        self.source = pathlib.Path(args.source_dir).resolve()
        self.model_dir = self.source / "data" / "models" / "fashion-vit"
        self.images = sorted((self.source / "data" / "images" / "fashion").glob("*.png"))
        self.work = pathlib.Path(args.work_dir) if args.work_dir else pathlib.Path(
            tempfile.mkdtemp(prefix="tessera-kill-loop-"))
        self.data_dir = (self.work / "data").resolve()
        self.log_path = self.work / "serve.log"
        self.violations = Violations()
        self.ops = {}  # operation name -> last seen operation JSON (client-started ones)
        self.ops_lock = threading.Lock()
        self.stats = {"kills": 0, "ops_started": 0, "ops_interrupted": 0, "ops_ok": 0,
                      "ops_failed_other": 0, "predicts_ok": 0, "predicts_checked_after": 0,
                      "uploads_ok": 0, "deploys_ok": 0, "undeploys_ok": 0, "deletes_ok": 0}
        self.stats_lock = threading.Lock()

    # ----------------------------------------------------------------------------- setup

    def setup(self):
        if not self.images:
            raise RuntimeError(f"no images in {self.source / 'data/images/fashion'}")
        self.work.mkdir(parents=True, exist_ok=True)
        # Every run starts from an empty data dir (a reused --work-dir must not carry state).
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)
        out = subprocess.run([self.binary, "classify", "--model", str(self.model_dir), "--top-k",
                              "1", *map(str, self.images)], check=True, capture_output=True,
                             text=True).stdout
        self.expected = [r["predictions"][0]["label"] for r in json.loads(out)]
        self.instances = [{"string_input": {"b64": base64.b64encode(p.read_bytes()).decode()}}
                          for p in self.images]
        self.archive = self.work / "fashion-vit.tar.gz"
        with tarfile.open(self.archive, "w:gz") as tar:
            for name in ("config.json", "preprocessor_config.json", "model.safetensors"):
                tar.add(self.model_dir / name, arcname=f"fashion-vit/{name}")

    def bump(self, key, n=1):
        with self.stats_lock:
            self.stats[key] += n

    # ----------------------------------------------------------------------------- load

    def record_op(self, op):
        if isinstance(op, dict) and "/operations/" in op.get("name", ""):
            with self.ops_lock:
                if op["name"] not in self.ops:
                    self.bump("ops_started")
                self.ops[op["name"]] = op

    def predict_ok(self, client, endpoint, round_no, context):
        """Predicts every image on `endpoint`; True when answered 200 (labels checked)."""
        status, body = client.call("POST", f"/v1/{endpoint}:predict",
                                   {"instances": self.instances}, timeout=60)
        if status != 200:
            return False
        got = [p.get("label") for p in body.get("predictions", [])]
        if got != self.expected:
            self.violations.add(round_no, f"{context}: {endpoint} predicted {got}, "
                                          f"`tessera classify` says {self.expected}")
        return True

    def control_action(self, client, rng):
        models = client.list_all(f"/v1/{PARENT}/models", "models")
        endpoints = client.list_all(f"/v1/{PARENT}/endpoints", "endpoints")
        deployed = [(e, dm) for e in endpoints for dm in e.get("deployedModels", [])]
        deployed_models = {dm["model"] for _, dm in deployed}
        roll = rng.random()
        if roll < 0.22 and len(models) < MAX_MODELS or not models:
            uri = str(self.archive if rng.random() < 0.4 else self.model_dir)
            body = {"model": {"displayName": f"m{rng.randrange(1000)}", "artifactUri": uri,
                              "containerSpec": {"imageUri": IMAGE_URI}}}
            if models and rng.random() < 0.4:
                body["parentModel"] = rng.choice(models)["name"]
            return client.call("POST", f"/v1/{PARENT}/models:upload", body)
        if roll < 0.32 and len(endpoints) < MAX_ENDPOINTS or not endpoints:
            return client.call("POST", f"/v1/{PARENT}/endpoints",
                               {"displayName": f"e{rng.randrange(1000)}"})
        if roll < 0.55:
            e = rng.choice(endpoints)
            if len(e.get("deployedModels", [])) >= MAX_DEPLOYED_PER_ENDPOINT:
                return None
            m = rng.choice(models)
            versions = client.list_all(f"/v1/{m['name']}:listVersions", "models")
            v = rng.choice(versions) if versions else m
            body = {"deployedModel": {
                "model": f"{m['name']}@{v.get('versionId', '1')}",
                "dedicatedResources": {"machineSpec": {"machineType": "tessera-cpu-1"},
                                       "minReplicaCount": 1, "maxReplicaCount": 1}}}
            if e.get("deployedModels") and rng.random() < 0.5:
                body["trafficSplit"] = {"0": 100}
            return client.call("POST", f"/v1/{e['name']}:deployModel", body)
        if roll < 0.72 and deployed:
            e, dm = rng.choice(deployed)
            split = dict(e.get("trafficSplit", {}))
            others = [d["id"] for d in e["deployedModels"]
                      if d["id"] != dm["id"] and d.get("tessera", {}).get("state") == "DEPLOYED"]
            body = {"deployedModelId": dm["id"]}
            if split.get(dm["id"]):
                body["trafficSplit"] = {others[0]: 100} if others else {}
            return client.call("POST", f"/v1/{e['name']}:undeployModel", body)
        if roll < 0.82:
            m = rng.choice(models)
            versions = client.list_all(f"/v1/{m['name']}:listVersions", "models")
            free = [v for v in versions if "default" not in v.get("versionAliases", [])
                    and f"{m['name']}" not in deployed_models]
            if free:
                v = rng.choice(free)
                return client.call("DELETE", f"/v1/{m['name']}@{v['versionId']}:deleteVersion")
            return None
        if roll < 0.92:
            free = [m for m in models if m["name"] not in deployed_models]
            if free and len(models) > 1:
                return client.call("DELETE", f"/v1/{rng.choice(free)['name']}")
            return None
        empty = [e for e in endpoints if not e.get("deployedModels")]
        if empty and len(endpoints) > 1:
            return client.call("DELETE", f"/v1/{rng.choice(empty)['name']}")
        return None

    def control_worker(self, client, rng, stop):
        while not stop.is_set():
            try:
                result = self.control_action(client, rng)
                if result is None:
                    continue
                status, body = result
                if status == 200:
                    self.record_op(body)
                    if not body.get("done") and rng.random() < 0.5:
                        done = client.call("POST", f"/v1/{body['name']}:wait?timeout=20s", {},
                                           timeout=30)[1]
                        self.record_op(done)
            except (OSError, http.client.HTTPException, RuntimeError, ValueError, KeyError):
                if stop.wait(0.05):
                    return

    def predict_worker(self, client, round_no, stop):
        while not stop.is_set():
            try:
                endpoints = client.list_all(f"/v1/{PARENT}/endpoints", "endpoints")
                live = [e["name"] for e in endpoints if e.get("trafficSplit")]
                if not live:
                    stop.wait(0.1)
                    continue
                if self.predict_ok(client, random.choice(live), round_no, "during load"):
                    self.bump("predicts_ok")
            except (OSError, http.client.HTTPException, RuntimeError, ValueError, KeyError):
                if stop.wait(0.05):
                    return

    # ----------------------------------------------------------------------------- checks

    def check_after_kill(self, round_no):
        """While the server is down: no replica of it survives; the SQLite file is intact."""
        deadline = time.monotonic() + self.args.orphan_timeout
        left = replica_processes(self.data_dir)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = replica_processes(self.data_dir)
        if left:
            self.violations.add(round_no, f"replica processes outlived the killed server "
                                          f"{self.args.orphan_timeout:.0f} s: {left}")
            for pid in left:  # do not let them disturb the next rounds
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        db = self.data_dir / "tessera.db"
        if not db.exists():
            return
        conn = sqlite3.connect(str(db), timeout=10)
        try:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                self.violations.add(round_no, f"PRAGMA integrity_check: {result[:5]}")
            fk = conn.execute("PRAGMA foreign_key_check").fetchall()
            if fk:
                self.violations.add(round_no, f"PRAGMA foreign_key_check: {fk[:5]}")
        finally:
            conn.close()

    def check_operations(self, client, round_no):
        with self.ops_lock:
            known = dict(self.ops)
        for name, before in known.items():
            status, op = client.get(f"/v1/{name}")
            if status != 200:
                self.violations.add(round_no, f"operation {name} unreadable: {status} {op}")
                continue
            problem = operation_ok(op)
            if problem:
                self.violations.add(round_no, f"operation {name} after restart: {problem}: {op}")
                continue
            if before.get("done") and ("error" in before) != ("error" in op):
                self.violations.add(round_no, f"operation {name} changed after it was done: "
                                              f"{before} -> {op}")
            if not before.get("done"):
                if "error" in op and op["error"].get("code") == 14 and \
                        "interrupted by a server restart" in op["error"]["message"]:
                    self.bump("ops_interrupted")
                elif "error" in op:
                    self.bump("ops_failed_other")
                else:
                    self.bump("ops_ok")
            with self.ops_lock:
                self.ops[name] = op
        running = client.list_all(f"/v1/{PARENT}/operations?filter=done%3Dfalse", "operations")
        if running:
            self.violations.add(round_no, f"{len(running)} operation(s) not done after restart: "
                                          f"{[o['name'] for o in running]}")

    def check_artifacts(self, client, round_no, endpoints):
        models = client.list_all(f"/v1/{PARENT}/models", "models")
        referenced = set()
        version_dirs = set()
        for m in models:
            model_id = m["name"].rsplit("/", 1)[1]
            for v in client.list_all(f"/v1/{m['name']}:listVersions", "models"):
                files = v.get("tessera", {}).get("artifactFiles", [])
                if not files:
                    self.violations.add(round_no, f"{m['name']}@{v['versionId']} has no files")
                referenced |= {f["sha256"] for f in files}
                version_dirs.add(("p", "us-central1", model_id, v["versionId"]))
        blobs_root = self.data_dir / "artifacts" / "blobs" / "sha256"
        blobs = set()
        if blobs_root.exists():
            for p in blobs_root.rglob("*"):
                if p.is_file():
                    blobs.add(p.parent.name + p.name)
        if blobs - referenced:
            self.violations.add(round_no, f"orphaned blobs (no version references them): "
                                          f"{sorted(blobs - referenced)[:5]}")
        if referenced - blobs:
            self.violations.add(round_no, f"referenced blobs missing: {sorted(referenced - blobs)[:5]}")
        for scratch in ("artifacts/tmp", "models/.staging", "uploads"):
            d = self.data_dir / scratch
            if d.exists() and any(d.iterdir()):
                self.violations.add(round_no, f"{scratch} not empty after restart: "
                                              f"{[p.name for p in d.iterdir()][:5]}")
        models_root = self.data_dir / "models"
        if models_root.exists():
            for p in models_root.glob("*/*/*/*"):
                rel = tuple(p.relative_to(models_root).parts)
                if rel[0] == ".staging":
                    continue
                if rel not in version_dirs:
                    self.violations.add(round_no, f"version folder without a version: {p}")
        packed = self.data_dir / "packed"
        if packed.exists():
            for p in packed.iterdir():
                if ".tmp." in p.name:
                    pid = int(p.name.split(".tmp.")[1].split(".")[0])
                    if not pid_alive(pid):
                        self.violations.add(round_no, f"temporary packed file of dead pid: {p}")
        owned = {dm["id"] for e in endpoints for dm in e.get("deployedModels", [])}
        run = self.data_dir / "run"
        if run.exists():
            for p in run.iterdir():
                dm_id = p.name.split("-", 1)[0]
                if dm_id not in owned:
                    self.violations.add(round_no, f"stale {p} (no deployed model {dm_id})")

    def check_deployments(self, client, round_no, endpoints, server_pid):
        for e in endpoints:
            dms = e.get("deployedModels", [])
            ids = {dm["id"] for dm in dms}
            for dm in dms:
                state = dm.get("tessera", {}).get("state")
                if state != "DEPLOYED":
                    self.violations.add(round_no, f"{e['name']} deployed model {dm['id']} is "
                                                  f"{state} after restart")
            split = {k: int(v) for k, v in e.get("trafficSplit", {}).items()}
            if split and (sum(split.values()) != 100 or not set(split) <= ids):
                self.violations.add(round_no, f"{e['name']} split {split} vs deployed {ids}")
            if dms and not split:
                self.violations.add(round_no, f"{e['name']} has deployed models {ids} "
                                              f"but no traffic split")
        # Every deployed model becomes routable: a ready replica within the timeout.
        deadline = time.monotonic() + self.args.ready_timeout
        pending = {(e["name"], dm["id"]) for e in endpoints for dm in e.get("deployedModels", [])}
        while pending and time.monotonic() < deadline:
            for name, dm_id in sorted(pending):
                status, body = client.get(f"/v1/{name}/deployedModels/{dm_id}/replicas")
                if status == 200 and body.get("readyReplicaCount", 0) >= 1:
                    pending.discard((name, dm_id))
            if pending:
                time.sleep(0.2)
        for name, dm_id in sorted(pending):
            status, body = client.get(f"/v1/{name}/deployedModels/{dm_id}/replicas")
            self.violations.add(round_no, f"{name} deployed model {dm_id} has no ready replica "
                                          f"{self.args.ready_timeout:.0f} s after restart: {body}")
        # Replicas are the new server's children only.
        strangers = {pid: ppid for pid, ppid in replica_processes(self.data_dir).items()
                     if ppid != server_pid}
        if strangers:
            self.violations.add(round_no, f"replicas not children of the server: {strangers}")
        for e in endpoints:
            if not e.get("trafficSplit"):
                continue
            ok = False
            for _ in range(3):
                if self.predict_ok(client, e["name"], round_no, "after restart"):
                    ok = True
                    break
                time.sleep(1)
            if ok:
                self.bump("predicts_checked_after")
            else:
                status, body = client.call("POST", f"/v1/{e['name']}:predict",
                                           {"instances": self.instances[:1]}, timeout=60)
                self.violations.add(round_no, f"{e['name']} does not predict after restart: "
                                              f"{status} {body}")

    def check_restarted(self, server, round_no):
        client = server.client
        endpoints = client.list_all(f"/v1/{PARENT}/endpoints", "endpoints")
        self.check_operations(client, round_no)
        self.check_artifacts(client, round_no, endpoints)
        self.check_deployments(client, round_no, endpoints, server.proc.pid)

    # ----------------------------------------------------------------------------- rounds

    def run_round(self, round_no):
        before = len(self.violations.items)
        server = Server(self.binary, self.data_dir, self.log_path)
        killed = False
        try:
            if round_no > 1:
                self.check_restarted(server, round_no - 1)
            if self.rng.random() < 0.1:
                phase, delay = "startup", self.rng.uniform(0.0, 0.5)
                time.sleep(delay)
            else:
                phase, delay = "load", self.rng.uniform(0.2, self.args.max_kill_delay)
                stop = threading.Event()
                threads = [threading.Thread(target=self.control_worker, daemon=True,
                                            args=(server.client, random.Random(self.rng.random()),
                                                  stop))
                           for _ in range(2)]
                threads.append(threading.Thread(target=self.predict_worker, daemon=True,
                                                args=(server.client, round_no, stop)))
                for t in threads:
                    t.start()
                time.sleep(delay)
            server.kill9()
            killed = True
            self.bump("kills")
            if phase == "load":
                stop.set()
                for t in threads:
                    t.join(timeout=90)
        finally:
            if not killed:
                server.kill9()
        self.check_after_kill(round_no)
        return phase, delay, len(self.violations.items) - before

    def run(self):
        self.setup()
        print(f"kill loop: {self.args.rounds} rounds, seed {self.args.seed}, work dir {self.work}",
              flush=True)
        started = time.monotonic()
        for round_no in range(1, self.args.rounds + 1):
            t0 = time.monotonic()
            phase, delay, found = self.run_round(round_no)
            with self.ops_lock:
                running = sum(1 for op in self.ops.values() if not op.get("done"))
            print(f"round {round_no:3d}: kill -9 during {phase} after {delay:.2f} s; "
                  f"{running} client operation(s) unfinished at the kill; "
                  f"{'ok' if not found else f'{found} violation(s) (previous round checked)'}"
                  f" [{time.monotonic() - t0:.1f} s]", flush=True)
        # The last kill's aftermath, then an orderly stop that leaves no replica.
        server = Server(self.binary, self.data_dir, self.log_path)
        try:
            self.check_restarted(server, self.args.rounds)
        finally:
            code = server.terminate()
        if code != 0:
            self.violations.add(self.args.rounds, f"serve exited {code} on SIGTERM")
        left = replica_processes(self.data_dir)
        if left:
            self.violations.add(self.args.rounds, f"replicas left after SIGTERM: {left}")
        s = self.stats
        print(f"summary: {self.args.rounds} rounds, {s['kills']} kills, "
              f"{time.monotonic() - started:.0f} s; operations: {s['ops_started']} started, "
              f"{s['ops_interrupted']} interrupted by a kill (failed UNAVAILABLE), {s['ops_ok']} "
              f"completed after the client last saw them running, {s['ops_failed_other']} failed "
              f"otherwise; predictions: {s['predicts_ok']} correct under load, "
              f"{s['predicts_checked_after']} endpoint checks after restarts; "
              f"violations: {len(self.violations.items)}", flush=True)
        return 1 if self.violations.items else 0


def main():
    here = pathlib.Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--binary", default=os.environ.get("TESSERA_BINARY",
                                                      str(here / "build/src/cli/tessera")))
    p.add_argument("--source-dir", default=os.environ.get("TESSERA_SOURCE_DIR", str(here)))
    p.add_argument("--work-dir", help="where the data dir (emptied first) and serve.log go "
                                      "(default: a new temp folder, kept for inspection)")
    p.add_argument("--max-kill-delay", type=float, default=5.0,
                   help="longest load before the kill, seconds")
    p.add_argument("--ready-timeout", type=float, default=120.0,
                   help="how long a deployed model may take to get a ready replica after restart")
    p.add_argument("--orphan-timeout", type=float, default=10.0,
                   help="how long replicas may outlive a killed server, seconds")
    args = p.parse_args()
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    loop = Loop(args)
    try:
        return loop.run()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        print(f"kill loop: setup error: {e}", file=sys.stderr)
        for pid in replica_processes(loop.data_dir):
            os.kill(pid, signal.SIGKILL)
        return 2


if __name__ == "__main__":
    sys.exit(main())
