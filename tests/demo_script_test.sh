#!/usr/bin/env bash
# The test of scripts/demo.sh (the README's main command), run by CTest with TESSERA_BINARY set:
# the script must exit 0 and print a Vertex-shaped prediction for every vendored image it sends.
# CTest's PASS_REGULAR_EXPRESSION would ignore the exit status, so the checks live here.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${TESSERA_BINARY:?TESSERA_BINARY must name the tessera binary}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
./scripts/demo.sh >"$out" 2>&1
status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
  echo "demo_script_test: scripts/demo.sh exited with status $status" >&2
  exit 1
fi
failed=0
images=(data/images/fashion/*.png data/images/photos/*)
for image in "${images[@]}"; do
  # demo.sh prints the image path on one line and the predict response, indented, on the next.
  line="$(grep -n -F -x "$image" "$out" | head -1 | cut -d: -f1)"
  if [ -z "$line" ]; then
    echo "demo_script_test: no prediction printed for $image" >&2; failed=1; continue
  fi
  reply="$(sed -n "$((line + 1))p" "$out")"
  if ! [[ "$reply" =~ ^\ \ \{\"predictions\":\[\{ && "$reply" == *'"label":"'* &&
          "$reply" == *'"confidence":'* && "$reply" == *'"deployedModelId":"'* ]]; then
    echo "demo_script_test: $image: not a Vertex prediction: ${reply:0:200}" >&2; failed=1
  fi
done
exit "$failed"
