#!/usr/bin/env bash
# Generates the golden-test fixtures (random-weight checkpoints, reference outputs made by
# Hugging Face transformers + PyTorch) into DIR, from the vendored data/ and, when present,
# ../shared/data (or $TESSERA_SHARED_DATA), which only adds cases. Skips the work when the
# generator scripts and their inputs (the file lists of both data folders) have not changed since
# the last run. Fails, never half-succeeds: the tests refuse a missing fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: make-fixtures.sh DIR}"
[ -x .venv/bin/python ] || { echo "make-fixtures: no .venv (run scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$out"
export TESSERA_SHARED_DATA="${TESSERA_SHARED_DATA:-$PWD/../shared/data}"
shared="$TESSERA_SHARED_DATA"
stamp="$out/.inputs.sha256"
inputs=$( {
  cat tests/fixtures/*.py scripts/requirements-test.txt
  echo "shared=$shared"
  { find data "$shared/images" "$shared/models" -type f -printf '%p %s %T@\n' 2>/dev/null || true; } | sort
} | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  echo "fixtures up to date in $out"
  exit 0
fi
rm -f "$stamp"
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS="$(nproc)"
for script in tests/fixtures/make_*.py; do
  echo "running $script"
  .venv/bin/python "$script" --out "$out"
done
echo "$inputs" > "$stamp"
