#!/usr/bin/env python3
"""bench/serve_bench.sh's REST steps against a running `tessera serve`: upload a model folder,
create an endpoint, deploy with one replica (machine type, batching), and print
"<endpoint name> <deployed model id>"; or, with --undeploy ENDPOINT ID, undeploy it. Any API
error stops the benchmark with the server's message.
"""
import argparse
import os
import sys

import requests

PARENT = "projects/bench/locations/local"


def call(url, method, path, body=None):
    # The server's admin key, exported by serve_bench.sh.
    headers = {"Authorization": f"Bearer {os.environ['TESSERA_API_KEY']}"}
    r = requests.request(method, f"{url}/v1/{path}", json=body, headers=headers, timeout=600)
    if r.status_code >= 400:
        sys.exit(f"{method} {path} -> HTTP {r.status_code}: {r.text}")
    return r.json()


def wait(url, op):
    while not op.get("done"):
        op = call(url, "POST", f"{op['name']}:wait?timeout=60s", {})
    if "error" in op:
        sys.exit(f"operation {op['name']} failed: {op['error']}")
    return op.get("response", {})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--model-dir")
    parser.add_argument("--name", default="bench")
    parser.add_argument("--machine-type", default="tessera-cpu-2")
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--max-queue-delay-us", type=int, default=2000)
    parser.add_argument("--precision", default="fp32",
                        help="fp32, bf16 or int8 where the host runs them")
    parser.add_argument("--min-precision-agreement", type=float,
                        help="bf16/int8 warm-up floor (the benchmarks' random-weight models "
                             "pass 0: their top-1 classes are noise)")
    parser.add_argument("--undeploy", nargs=2, metavar=("ENDPOINT", "ID"))
    args = parser.parse_args()
    if args.undeploy:
        endpoint, deployed = args.undeploy
        wait(args.url, call(args.url, "POST", f"{endpoint}:undeployModel",
                            {"deployedModelId": deployed}))
        return
    model = wait(args.url, call(args.url, "POST", f"{PARENT}/models:upload", {"model": {
        "displayName": args.name, "artifactUri": args.model_dir,
        "containerSpec": {"imageUri": "tessera/vit"}}}))["model"]
    endpoint = wait(args.url, call(args.url, "POST", f"{PARENT}/endpoints",
                                   {"displayName": args.name}))["name"]
    tessera = {"precision": args.precision,
               "batching": {"maxBatchSize": args.max_batch_size,
                            "maxQueueDelayUs": args.max_queue_delay_us}}
    if args.min_precision_agreement is not None:
        tessera["minPrecisionAgreement"] = args.min_precision_agreement
    deployed = wait(args.url, call(args.url, "POST", f"{endpoint}:deployModel", {
        "deployedModel": {
            "model": model,
            "dedicatedResources": {"machineSpec": {"machineType": args.machine_type},
                                   "minReplicaCount": 1, "maxReplicaCount": 1},
            "tessera": tessera},
        "trafficSplit": {"0": 100}}))["deployedModel"]["id"]
    print(endpoint, deployed)


if __name__ == "__main__":
    main()
