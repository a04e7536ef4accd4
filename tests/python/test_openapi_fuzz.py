"""schemathesis (PyPI) against the real `tessera serve`: every operation of its own /openapi.json,
fuzzed with a bounded number of examples, must never answer an undocumented 5xx nor take the
server down.

The server runs on a temporary data dir with --allowed-artifact-root set to an empty temporary
folder, so a generated artifactUri can never make it copy files from elsewhere on the machine.
Checks: every schemathesis check (`--checks all`) but two. not_a_server_error is replaced by a
stricter reading of the server's own per-request log (debug level): every 5xx fails the run
except 504 DEADLINE_EXCEEDED, which is the documented answer to a request whose client-given
`X-Server-Timeout` (schemathesis sends "0") passed before it was processed; an idle server with
one fuzzing client has no reason for even a 503. Requests carry the admin key, so every route
(the admin API's included) is reached; schemathesis' ignored_auth check also sends them without
it, where a 401 is due. Then response schema, status code, content type and header conformance, negative data rejection, the
stateful ones; except positive_data_acceptance: docs/openapi.json does not encode every rule the
server enforces (required ids, resource name forms, `@version` suffixes), so schema-valid bodies
are rightly refused with 400 (docs/reliability.md lists them). Afterwards the server must still
be alive, answer /v2/health/live, and exit 0 on SIGTERM with no crash in its log.

Environment: TESSERA_BINARY (set by CTest). TESSERA_FUZZ_EXAMPLES (default 15) bounds the
examples per operation and phase; TESSERA_FUZZ_SEED (default 1) makes a run reproducible.
"""
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import pytest
import requests

BINARY = os.environ["TESSERA_BINARY"]
EXAMPLES = os.environ.get("TESSERA_FUZZ_EXAMPLES", "15")
SEED = os.environ.get("TESSERA_FUZZ_SEED", "1")
CRASH_MARKERS = ("terminate called", "Segmentation fault", "AddressSanitizer",
                 "UndefinedBehaviorSanitizer", "runtime error:", "Aborted")


@pytest.fixture()
def server():
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "artifacts"
        root.mkdir()
        log_path = pathlib.Path(tmp) / "serve.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", f"{tmp}/data",
                 "--allowed-artifact-root", str(root), "--log-level", "debug"],
                stdout=subprocess.PIPE, stderr=log, text=True, cwd=tmp)
            line = proc.stdout.readline()
            assert "tessera serving on http://127.0.0.1:" in line, line + log_path.read_text()
            url = "http://127.0.0.1:" + line.split("127.0.0.1:")[1].split()[0]
            key = (pathlib.Path(tmp) / "data" / "admin.key").read_text().strip()
            try:
                yield {"url": url, "proc": proc, "log": log_path, "tmp": tmp, "key": key}
            finally:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=60)


def test_schemathesis_finds_no_server_error_and_no_crash(server):
    url, proc = server["url"], server["proc"]
    report = pathlib.Path(server["tmp"]) / "report"
    # One worker: with two, hypothesis describes filter lambdas by parsing schemathesis' source
    # with `ast` on both threads at once, and Debian's Python 3.11.2 fails that at random
    # ("SystemError: AST constructor recursion depth mismatch", CPython gh-106905, fixed in
    # 3.11.5) -- about one run in three once the document declared its security schemes.
    # The admin key reaches every route (the fuzzer also checks that a route declaring security
    # refuses a request without it: schemathesis' ignored_auth check). It goes in both headers
    # the document declares: otherwise schemathesis generates a value for the other one, and a
    # request with two different keys is rightly refused with 401.
    command = [
        str(pathlib.Path(sys.executable).with_name("st")), "run", f"{url}/openapi.json", "--url", url,
        "--header", f"Authorization: Bearer {server['key']}",
        "--header", f"x-api-key: {server['key']}",
        "--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance,not_a_server_error", "--phases", "examples,coverage,fuzzing,stateful",
        "--continue-on-failure", "--suppress-health-check", "all", "--request-timeout", "60",
        "--generation-database", "none", "--no-color", "--output-truncate", "true",
        "--report", "junit", "--report-dir", str(report)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=1500, cwd=server["tmp"])
    output = run.stdout + run.stderr
    print(output)
    alive = proc.poll() is None
    log = server["log"].read_text()
    crashes = [line for line in log.splitlines() if any(m in line for m in CRASH_MARKERS)]
    assert alive, f"tessera serve died (exit {proc.returncode}) under fuzzing:\n{log[-4000:]}"
    assert not crashes, "\n".join(crashes[:20])
    # The access log: "... access method=<M> path=<target> status=<code> ...", one line per
    # answered request (a target holding '"', '=' or a space is a quoted JSON string).
    answered = [(f"{m} {p}", code) for m, p, code in re.findall(
        r'\baccess method=(\S+) path=("(?:[^"\\]|\\.)*"|\S+) status=(\d{3})', log)]
    assert len(answered) > 1000, f"only {len(answered)} requests logged: did schemathesis run?"
    server_errors = [f"{line} -> {code}" for line, code in answered
                     if code.startswith("5") and code != "504"]
    assert not server_errors, "\n".join(server_errors[:20])
    assert requests.get(f"{url}/v2/health/live", timeout=30).status_code == 200
    assert run.returncode == 0, output[-20000:]
    proc.terminate()
    assert proc.wait(timeout=60) == 0, server["log"].read_text()[-4000:]
