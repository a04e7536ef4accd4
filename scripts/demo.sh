#!/usr/bin/env bash
# The seed scenario, end to end, on the real binary over real HTTP:
#   build -> tessera serve (SQLite + local disk in a temporary data dir) -> upload a model ->
#   create an endpoint -> deploy -> predict each image -> print Vertex-shaped predictions.
#
#   scripts/demo.sh                      the vendored fashion-vit model and images in data/
#   scripts/demo.sh MODEL_DIR IMAGE...   any Hugging Face ViT/DeiT checkpoint folder + images
#   KEEP=1 scripts/demo.sh               leave the server running at the end (prints its URL)
#   TESSERA_BINARY=path scripts/demo.sh  use that binary; no install, no build (the test of this
#                                        script, tests/CMakeLists.txt, runs it so)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

model_dir="${1:-data/models/fashion-vit}"
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
  images=("$@")
else
  images=(data/images/fashion/*.png data/images/photos/*)
fi
model_dir="$(cd "$model_dir" && pwd)"

if [ -n "${TESSERA_BINARY:-}" ]; then
  tessera="$TESSERA_BINARY"
else
  ./scripts/install-deps.sh
  echo "== build =="
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build --target tessera -j "$(nproc)"
  tessera="$repo/build/src/cli/tessera"
fi

data_dir="$(mktemp -d)"
log="$data_dir/serve.log"
"$tessera" serve --data-dir "$data_dir" --listen 127.0.0.1:0 >"$log" 2>&1 &
server_pid=$!
cleanup() {
  if [ -z "${KEEP:-}" ]; then
    kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$data_dir"
  fi
}
trap cleanup EXIT

# The server prints "tessera serving on http://127.0.0.1:PORT ..." once it listens.
url=""
for _ in $(seq 100); do
  url="$(grep -oE 'serving on http://[0-9.]+:[0-9]+' "$log" | head -1 | cut -d' ' -f3 || true)"
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "server did not start"; cat "$log"; exit 1; }
echo "== tessera serving on $url (data dir $data_dir)"
# Every route needs an API key: the first start wrote an admin key into the data dir (mode 0600).
api_key="$(cat "$data_dir/admin.key")"
echo "   admin key in $data_dir/admin.key (sent as Authorization: Bearer)"

parent="projects/demo/locations/us-central1"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
call() {  # METHOD PATH [BODY] -> response body; fails with the Google error on HTTP >= 400
  local body
  # The body goes through stdin: an image's base64 is larger than a command line may be.
  body="$(printf '%s' "${3:-}" | curl -sS -X "$1" -H 'Content-Type: application/json' \
    -H @<(printf 'Authorization: Bearer %s\n' "$api_key") \
    ${3:+--data-binary @-} -w '\n%{http_code}' "$url/v1/$2")"
  local code="${body##*$'\n'}"
  body="${body%$'\n'*}"
  if [ "$code" -ge 400 ]; then echo "$1 $2 -> HTTP $code: $body" >&2; return 1; fi
  printf '%s' "$body"
}
wait_op() {  # OPERATION_NAME -> the finished operation's response; fails on an operation error
  local op
  while :; do
    op="$(call POST "$1:wait?timeout=30s" '{}')"
    if [ "$(json 'd.get("done", False)' <<<"$op")" = "True" ]; then break; fi
  done
  if [ "$(json '"error" in d' <<<"$op")" = "True" ]; then
    echo "operation $1 failed: $(json 'd["error"]' <<<"$op")" >&2
    return 1
  fi
  json 'json.dumps(d.get("response", {}))' <<<"$op"
}

echo "== upload $model_dir"
op="$(call POST "$parent/models:upload" "$(python3 -c 'import json,sys; print(json.dumps({"model": {
  "displayName": sys.argv[1], "artifactUri": sys.argv[2],
  "containerSpec": {"imageUri": "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest"}}}))' \
  "$(basename "$model_dir")" "$model_dir")")"
model="$(wait_op "$(json 'd["name"]' <<<"$op")" | json 'd["model"]')"
echo "   model $model"

echo "== create endpoint"
op="$(call POST "$parent/endpoints" '{"displayName": "demo-endpoint"}')"
endpoint="$(wait_op "$(json 'd["name"]' <<<"$op")" | json 'd["name"]')"
echo "   endpoint $endpoint"

echo "== deploy (1 replica, waits until it is ready)"
op="$(call POST "$endpoint:deployModel" "$(python3 -c 'import json,sys; print(json.dumps({
  "deployedModel": {"model": sys.argv[1], "displayName": "demo",
    "dedicatedResources": {"machineSpec": {"machineType": "n1-standard-2"},
                           "minReplicaCount": 1, "maxReplicaCount": 1}},
  "trafficSplit": {"0": 100}}))' "$model")")"
deployed="$(wait_op "$(json 'd["name"]' <<<"$op")" | json 'd["deployedModel"]["id"]')"
echo "   deployed model $deployed"

echo "== predict"
for image in "${images[@]}"; do
  request="$(python3 -c 'import base64,json,sys; print(json.dumps({"instances": [
    {"string_input": {"b64": base64.b64encode(open(sys.argv[1], "rb").read()).decode()}}]}))' "$image")"
  printf '%s\n  ' "$image"
  call POST "$endpoint:predict" "$request"
  echo
done

if [ -n "${KEEP:-}" ]; then
  echo "== server left running: $url (pid $server_pid, data dir $data_dir)"
fi
