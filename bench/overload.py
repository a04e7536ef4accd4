#!/usr/bin/env python3
"""Overload: FACTOR x the sustainable request rate for DURATION seconds on one deployment.

    .venv/bin/python bench/overload.py [--build build] [--duration 60] [--factor 10]
        [--model data/models/fashion-vit] [--image data/images/fashion/0018-bag.png]
        [--serve-arg=--max-inflight-request-mib=64 ...]

Starts `tessera serve` on a temp data dir, uploads and deploys the model (1 replica, n1-standard-2
by default), then
  1. measures the sustainable rate: CONCURRENCY closed-loop wrk connections for CALIBRATE seconds;
  2. offers FACTOR x that rate for DURATION seconds with wrk (bench/overload_flood.lua):
     CONNECTIONS connections, each pausing CONNECTIONS / (FACTOR x rate) between requests; the
     rate it reaches is what is reported (a connection waits for an admitted request's answer);
  3. waits 2 s and measures normal traffic's latency again.
Reports (docs/reliability.md, "Overload"): whether the server and the replica survived (same
pids, no restarts), every status code seen (only 200 and 429/503/504 may appear), whether each 429
had Retry-After, whether every 200 was the right answer, peak RSS of serve + replicas against the
configured admission bounds, and latency before and after the flood. Exit status 1 when any check
fails. Bounded: nothing runs past DURATION + about a minute; every process started is ended.
"""
import argparse
import base64
import http.client
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children(pid):
    """Child processes of any thread of `pid` (the supervisor's threads start the replicas)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return found


class Client:
    """One keep-alive connection; reconnects after errors."""

    def __init__(self, port, key, timeout=60):
        self.port, self.key, self.timeout, self.conn = port, key, timeout, None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                hdrs = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
                hdrs.update(headers or {})
                self.conn.request(method, path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
            except (OSError, http.client.HTTPException) as e:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 1:
                    return 0, {}, str(e).encode()
        return 0, {}, b""


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def closed_loop(port, path, body, clients, seconds):
    """(requests/s, latencies in ms, statuses) of `clients` back-to-back senders."""
    latencies, statuses, lock = [], {}, threading.Lock()
    stop = time.monotonic() + seconds

    def run():
        c = Client(port, os.environ["TESSERA_API_KEY"])
        while time.monotonic() < stop:
            t0 = time.monotonic()
            status, _, _ = c.request("POST", path, body)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append((time.monotonic() - t0) * 1000)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.monotonic() - start), latencies, statuses


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--factor", type=float, default=10)
    ap.add_argument("--calibrate", type=float, default=8)
    # Closed-loop connections that measure the sustainable rate: enough to fill the replica's
    # batches (a rate measured with few clients understates what batching serves), fewer than its
    # queue (128 instances) so that nothing is refused.
    ap.add_argument("--concurrency", type=int, default=64)
    # wrk connects from one address: serve is started with a per-peer cap above this.
    ap.add_argument("--connections", type=int, default=1200)
    ap.add_argument("--model", default=os.path.join(ROOT, "data/models/fashion-vit"))
    ap.add_argument("--image", default=os.path.join(ROOT, "data/images/fashion/0018-bag.png"))
    ap.add_argument("--machine-type", default="n1-standard-2")
    ap.add_argument("--serve-arg", action="append", default=[])
    args = ap.parse_args()

    binary = os.path.join(args.build, "src/cli/tessera")
    # A descriptor per connection in wrk and in serve (children inherit the raised soft limit).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = tempfile.mkdtemp(prefix="tessera-overload-")
    serve = subprocess.Popen(
        [binary, "serve", "--data-dir", os.path.join(work, "data"), "--listen", "127.0.0.1:0",
         "--log-level", "warn", f"--max-connections-per-peer={args.connections + 64}"] + args.serve_arg,
        stdout=subprocess.PIPE, stderr=open(os.path.join(work, "serve.err"), "w"), text=True,
        env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    failures = []
    try:
        line = serve.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not m:
            sys.exit(f"serve did not start: {line}\n" + open(os.path.join(work, "serve.err")).read())
        port = int(m.group(1))
        # The admin key the first start wrote; wrk's flood script reads it from the environment.
        key = open(os.path.join(work, "data", "admin.key")).read().strip()
        os.environ["TESSERA_API_KEY"] = key
        api = Client(port, key)
        loc = "/v1/projects/bench/locations/us-central1"

        def call(method, path, body=None):
            status, _, data = api.request(method, path, json.dumps(body) if body is not None else None)
            return status, json.loads(data or b"{}")

        def wait_op(name, timeout=300):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                _, op = call("GET", "/v1/" + name)
                if op.get("done"):
                    if "error" in op:
                        sys.exit(f"operation failed: {op}")
                    return op.get("response", {})
                time.sleep(0.2)
            sys.exit(f"operation {name} timed out")

        _, op = call("POST", loc + "/models:upload",
                     {"model": {"displayName": "overload", "artifactUri": os.path.abspath(args.model),
                                "containerSpec": {"imageUri": "tessera/vit"}}})
        model = wait_op(op["name"])["model"]
        _, op = call("POST", loc + "/endpoints", {"displayName": "overload"})
        endpoint = op["response"]["name"]
        _, op = call("POST", "/v1/" + endpoint + ":deployModel",
                     {"deployedModel": {"model": model, "dedicatedResources": {
                         "machineSpec": {"machineType": args.machine_type},
                         "minReplicaCount": 1, "maxReplicaCount": 1}}})
        deployed = wait_op(op["name"])["deployedModel"]["id"]
        replicas_path = f"/v1/{endpoint}/deployedModels/{deployed}/replicas"
        _, status = call("GET", replicas_path)
        replica_pid = status["replicas"][0]["pid"]

        with open(args.image, "rb") as f:
            body = json.dumps({"instances": [{"b64": base64.b64encode(f.read()).decode()}]})
        path = "/v1/" + endpoint + ":predict"
        code, _, data = Client(port, key).request("POST", path, body)
        if code != 200:
            sys.exit(f"first predict failed: {code} {data[:300]}")
        expected = json.loads(data)["predictions"][0]["label"]

        body_file = os.path.join(work, "body.json")
        with open(body_file, "w") as f:
            f.write(body)

        def run_wrk(connections, seconds, delay_ms):
            """wrk with bench/overload_flood.lua: its JSON report (statuses, wrong labels, ...)."""
            out = subprocess.run(
                ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:.0f}s", "--timeout", "120s",
                 "-s", os.path.join(ROOT, "bench/overload_flood.lua"), f"http://127.0.0.1:{port}"],
                capture_output=True, text=True, timeout=seconds + 180,
                env=dict(os.environ, BODY_FILE=body_file, PREDICT_PATH=path, EXPECTED_LABEL=expected,
                         DELAY_MS=str(delay_ms)))
            report = next((json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")), None)
            if report is None:
                sys.exit(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
            return report

        # The sustainable rate: CONCURRENCY closed-loop wrk connections (no pause), 200s per second.
        calibration = run_wrk(args.concurrency, args.calibrate, 0)
        rate = calibration["statuses"].get("200", 0) / calibration["duration_s"]
        if rate <= 0 or len(calibration["statuses"]) != 1:
            sys.exit(f"calibration did not get only 200s: {calibration}")
        _, base_lat, _ = closed_loop(port, path, body, 1, 3)  # normal traffic: one client
        rss_idle = rss_bytes(serve.pid) + sum(rss_bytes(p) for p in children(serve.pid))
        # The configured admission bounds (serve_command.cc, supervisor.cc): what the flood may
        # add to the idle footprint at most, besides per-request working memory.
        inflight_mib = 0
        for a in args.serve_arg:
            m2 = re.match(r"--max-inflight-request-mib=(\d+)", a)
            if m2:
                inflight_mib = int(m2.group(1))
        if inflight_mib == 0:
            physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            inflight_mib = max(min(physical // 8, 4 << 30), 64 << 20) >> 20
        machine_memory = {"n1-standard-2": 7.5, "n1-standard-4": 15, "n1-standard-8": 30,
                          "tessera-cpu-1": 1, "tessera-cpu-2": 2}
        queued_mib = int(machine_memory.get(args.machine_type, 0) * 1024 / 4)
        offered = rate * args.factor
        print(f"sustainable rate: {rate:.1f} req/s ({args.concurrency} closed-loop clients); "
              f"offering {offered:.0f} req/s for {args.duration:.0f} s")

        # The flood: wrk (C, not Python threads, so the generator keeps up with 10x a small
        # model's rate on the same 2 cores), CONNECTIONS connections each pausing DELAY_MS between
        # requests (bench/overload_flood.lua).
        connections = args.connections
        # About 256 connections at a time wait on admitted requests (serve's forwarding threads and
        # queue, 128 + 128 by default); the others offer the rate.
        free = connections - min(connections // 2, 256)
        delay_ms = max(1, int(free * 1000 / offered))
        peak = [rss_idle]
        stop_sampling = threading.Event()

        def sampler():
            while not stop_sampling.is_set():
                total = rss_bytes(serve.pid) + sum(rss_bytes(p) for p in children(serve.pid))
                peak[0] = max(peak[0], total)
                time.sleep(0.1)

        sampler_thread = threading.Thread(target=sampler)
        sampler_thread.start()
        report = run_wrk(connections, args.duration, delay_ms)
        wall = report["duration_s"]
        stop_sampling.set()
        sampler_thread.join()
        statuses = {int(k): v for k, v in report["statuses"].items()}
        sent = sum(statuses.values())
        socket_errors = sum(report[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
        if socket_errors:
            statuses[0] = socket_errors  # a reset or timed-out connection: never acceptable

        time.sleep(2)
        _, after_lat, after_statuses = closed_loop(port, path, body, 1, 3)
        _, status = call("GET", replicas_path)
        r = status["replicas"][0]
        alive = serve.poll() is None and r["pid"] == replica_pid and r["restarts"] == 0

        print(f"flood: {sent} answers in {wall:.0f} s ({sent / wall:.0f}/s, "
              f"{sent / wall / rate:.1f}x the sustainable rate) from wrk, {connections} connections, "
              f"{delay_ms} ms apart")
        print("statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
        print(f"200s without the expected label: {report['wrong']}; "
              f"429 without Retry-After: {report['no_retry_after']}")
        print(f"latency of every answer during the flood (wrk): p50 {report['p50_ms']:.1f} ms, "
              f"p99 {report['p99_ms']:.1f} ms")
        if sent / wall / rate < args.factor * 0.9:
            # Not the server's failure: wrk, serve and the replica share the host's cores, and a
            # small model's 10x (thousands of 429s a second) can be more than they can send.
            print(f"NOTE: wrk offered {sent / wall / rate:.1f}x, not the {args.factor:g}x asked for")
        print(f"replica counters: requests {r['requests']}, rejected {r.get('rejected')}, "
              f"expired {r.get('expired')}, cancelled {r.get('cancelled')}")
        print(f"peak RSS serve + replica: {peak[0] / 2**20:.0f} MiB (idle {rss_idle / 2**20:.0f} MiB; "
              f"admission bounds: {inflight_mib} MiB of request bodies in serve + {queued_mib} MiB "
              f"of queued images in the replica)")
        if peak[0] > rss_idle + (inflight_mib + queued_mib) * 2**20:
            failures.append("peak RSS above idle + the admission bounds")
        print(f"normal traffic (1 client): before p50 {percentile(base_lat, 50):.1f} ms / "
              f"p99 {percentile(base_lat, 99):.1f} ms; 2 s after the flood p50 "
              f"{percentile(after_lat, 50):.1f} ms / p99 {percentile(after_lat, 99):.1f} ms")
        print(f"server and replica alive, no restart: {alive}")

        if not alive:
            failures.append("the server or the replica died or restarted")
        bad = {k: v for k, v in statuses.items() if k not in (200, 429, 503, 504)}
        if bad:
            failures.append(f"unexpected statuses {bad}")
        if report["wrong"]:
            failures.append(f"{report['wrong']} answers with the wrong label")
        if report["no_retry_after"]:
            failures.append(f"{report['no_retry_after']} 429s without Retry-After")
        if after_statuses.get(200, 0) == 0:
            failures.append("no normal request answered after the flood")
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL: " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
