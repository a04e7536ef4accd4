#!/usr/bin/env bash
# Generates the golden-test fixtures (random-weight checkpoints, reference outputs made by
# Hugging Face transformers + PyTorch) into DIR. Skips the work when the generator scripts and
# their inputs have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: make-fixtures.sh DIR}"
mkdir -p "$out"
stamp="$out/.inputs.sha256"
inputs=$(cat tests/fixtures/*.py scripts/requirements-test.txt | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  echo "fixtures up to date in $out"
  exit 0
fi
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS="$(nproc)"
for script in tests/fixtures/make_*.py; do
  echo "running $script"
  .venv/bin/python "$script" --out "$out"
done
echo "$inputs" > "$stamp"
