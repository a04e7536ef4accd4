#!/usr/bin/env python3
"""Slowloris against `tessera serve`: normal predict latency unloaded vs under N slow connections.

Starts `tessera serve` (a temp data dir, port 0), deploys the vendored fashion-vit with one
replica, then measures sequential :predict requests (one keep-alive connection, one image each):
  1. unloaded, for --seconds;
  2. while --slow connections trickle request headers (one header line every --trickle-s, never
     finishing), for --seconds. A connection the server closes (its header deadline) is reopened
     at once, as an attacker would. The slow connections come from --slow-per-address
     connections per loopback address (127.0.0.2, 127.0.0.3, ...), so they stay under the
     per-peer cap and reach the io threads: what is measured is whether they starve anyone, not
     the cap refusing them.
Prints p50/p99 of both phases and their ratio (issue 14's target: p99 under slowloris within 2x of
unloaded), plus how many slow connections were open and how many the server cut off. Stdlib only.

  .venv/bin/python bench/slowloris.py [--tessera build/src/cli/tessera] [--slow 500] [--seconds 20]
"""
import argparse
import base64
import http.client
import json
import multiprocessing
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARENT = "projects/bench/locations/local"


# The server's admin key (read from its data dir once it started).
KEY = {"Authorization": ""}


def api(url, method, path, body=None):
    request = urllib.request.Request(f"{url}/v1/{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **KEY})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def wait(url, op):
    while not op.get("done"):
        op = api(url, "POST", f"{op['name']}:wait?timeout=60s", {})
    if "error" in op:
        sys.exit(f"operation {op['name']} failed: {op['error']}")
    return op.get("response", {})


def deploy(url, model_dir):
    model = wait(url, api(url, "POST", f"{PARENT}/models:upload", {"model": {
        "displayName": "slowloris", "artifactUri": model_dir,
        "containerSpec": {"imageUri": "tessera/vit"}}}))["model"]
    endpoint = wait(url, api(url, "POST", f"{PARENT}/endpoints",
                             {"displayName": "slowloris"}))["name"]
    wait(url, api(url, "POST", f"{endpoint}:deployModel", {
        "deployedModel": {
            "model": model,
            "dedicatedResources": {"machineSpec": {"machineType": "tessera-cpu-2"},
                                   "minReplicaCount": 1, "maxReplicaCount": 1}},
        "trafficSplit": {"0": 100}}))
    return endpoint


def cpu_seconds(pid):
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(host, port, path, body, seconds):
    """Sequential predicts for `seconds`; returns latencies in ms (every answer must be 200)."""
    connection = http.client.HTTPConnection(host, port, timeout=60)
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        connection.request("POST", path, body=body,
                           headers={"Content-Type": "application/json", **KEY})
        response = connection.getresponse()
        data = response.read()
        latencies.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            sys.exit(f"predict -> HTTP {response.status}: {data[:300]!r}")
    connection.close()
    return latencies


class Slowloris:
    """`count` connections that trickle a never-ending request header, in a process of their own
    (in this process, the GIL would delay the measured client and inflate its latencies)."""

    def __init__(self, host, port, count, per_address, trickle_s):
        self.host, self.port, self.count = host, port, count
        self.per_address, self.trickle_s = per_address, trickle_s
        self.stop = multiprocessing.Event()
        self._closed = multiprocessing.Value("i", 0)
        self._refused = multiprocessing.Value("i", 0)
        self._open = multiprocessing.Value("i", 0)
        self.process = multiprocessing.Process(target=self.run, daemon=True)

    closed_by_server = property(lambda self: self._closed.value)
    refused = property(lambda self: self._refused.value)
    open = property(lambda self: self._open.value)

    def connect(self, slot):
        source = f"127.0.0.{2 + slot // self.per_address}"
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.connect((self.host, self.port))
        s.sendall(b"POST /v1/x:predict HTTP/1.1\r\nHost: x\r\n")
        s.setblocking(False)
        self.selector.register(s, selectors.EVENT_READ, slot)
        return s

    def run(self):
        self.selector = selectors.DefaultSelector()
        sockets = {slot: self.connect(slot) for slot in range(self.count)}
        next_trickle = time.monotonic() + self.trickle_s
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                s, slot = key.fileobj, key.data
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if data.startswith(b"HTTP/1.1 503"):
                    self._refused.value += 1
                self._closed.value += 1
                self.selector.unregister(s)
                s.close()
                sockets[slot] = self.connect(slot)  # an attacker reconnects at once
            self._open.value = len(sockets)
            if time.monotonic() >= next_trickle:
                for s in sockets.values():
                    try:
                        s.send(b"X-Slow: 1\r\n")
                    except OSError:
                        pass
                next_trickle = time.monotonic() + self.trickle_s
        for s in sockets.values():
            s.close()

    def __enter__(self):
        self.process.start()
        while self.open < self.count and self.process.is_alive():
            time.sleep(0.05)
        if not self.process.is_alive():
            sys.exit("the slowloris process died (see its traceback above)")
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.process.join(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tessera", default=os.path.join(ROOT, "build/src/cli/tessera"))
    parser.add_argument("--model-dir", default=os.path.join(ROOT, "data/models/fashion-vit"))
    parser.add_argument("--image", default=os.path.join(ROOT, "data/images/fashion/0000-ankle-boot.png"))
    parser.add_argument("--slow", type=int, default=500, help="slow connections")
    parser.add_argument("--slow-per-address", type=int, default=100)
    parser.add_argument("--trickle-s", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=20, help="per phase")
    args = parser.parse_args()

    # Client and server each hold one descriptor per slow connection.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * args.slow + 256
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            sys.exit(f"ulimit -n is {soft} (hard {hard}); {need} descriptors are needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    work = tempfile.mkdtemp(prefix="tessera-slowloris-")
    server = subprocess.Popen(
        [args.tessera, "serve", "--data-dir", os.path.join(work, "data"), "--listen", "127.0.0.1:0",
         "--log-level", "warn", "--allowed-artifact-root", os.path.dirname(args.model_dir)],
        stdout=subprocess.PIPE, stderr=open(os.path.join(work, "serve.err"), "w"), text=True)
    try:
        line = server.stdout.readline()
        match = re.search(r"http://([0-9.]+):([0-9]+)", line)
        if not match:
            sys.exit(f"tessera serve did not start: {line!r}; see {work}/serve.err")
        host, port = match.group(1), int(match.group(2))
        url = f"http://{host}:{port}"
        admin_key = open(os.path.join(work, "data", "admin.key")).read().strip()
        KEY["Authorization"] = f"Bearer {admin_key}"
        endpoint = deploy(url, args.model_dir)
        with open(args.image, "rb") as f:
            body = json.dumps({"instances": [{"b64": base64.b64encode(f.read()).decode()}]})
        path = f"/v1/{endpoint}:predict"
        measure(host, port, path, body, 2)  # warm-up
        cpu0 = cpu_seconds(server.pid)
        unloaded = measure(host, port, path, body, args.seconds)
        cpu1 = cpu_seconds(server.pid)
        with Slowloris(host, port, args.slow, args.slow_per_address, args.trickle_s) as attack:
            cpu2 = cpu_seconds(server.pid)
            loaded = measure(host, port, path, body, args.seconds)
            cpu3 = cpu_seconds(server.pid)
            open_now = attack.open
        print(f"slow connections: {open_now} open, {attack.closed_by_server} closed by the server "
              f"(header deadline; {attack.refused} of them 503), "
              f"{(args.slow + args.slow_per_address - 1) // args.slow_per_address} source addresses")
        # serve's CPU per normal request; the slowloris phase's excess is what the slow
        # connections cost the server (replicas are separate processes, not counted).
        for name, values, cpu in (("unloaded", unloaded, cpu1 - cpu0),
                                  ("slowloris", loaded, cpu3 - cpu2)):
            print(f"{name:>9}: {len(values)} requests, p50 {statistics.median(values):.1f} ms, "
                  f"p99 {percentile(values, 99):.1f} ms; serve CPU {cpu:.2f} s "
                  f"({1000 * cpu / len(values):.2f} ms per request)")
        ratio50 = statistics.median(loaded) / statistics.median(unloaded)
        ratio99 = percentile(loaded, 99) / percentile(unloaded, 99)
        print(f"ratio: p50 {ratio50:.2f}x, p99 {ratio99:.2f}x (target: p99 within 2x)")
        excess = (cpu3 - cpu2) - (cpu1 - cpu0) / len(unloaded) * len(loaded)
        print(f"serve CPU spent on the slow connections: about {excess:.2f} s in {args.seconds:g} s")
        with open("/proc/loadavg") as f:  # a shared machine's other work shows in the tails
            print("load average (1, 5, 15 min):", " ".join(f.read().split()[:3]))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
