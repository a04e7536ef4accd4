#!/usr/bin/env bash
# Installs every build and test dependency of Tessera on a fresh Debian 12 machine.
# Idempotent: re-running only installs what is missing. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates openssl
  clang-format clang-tidy
  clang libclang-rt-14-dev libomp-14-dev  # scripts/fuzz.sh: libFuzzer, ASan, OpenMP for clang
  libdnnl-dev
  libboost1.81-dev libssl-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libspng-dev libwebp-dev
  libsqlite3-dev sqlite3 libarchive-dev
  nlohmann-json3-dev libsimdjson-dev libcli11-dev libabsl-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  python3-venv python3-torch libopenblas0-pthread python3-pil
  dataset-fashion-mnist  # the precision guard: fashion-vit on the whole test set
  wrk
  prometheus  # tests/python/test_metrics.py scrapes Tessera with a real Prometheus
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: apt installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python reference stack for golden tests and protocol tests. --system-site-packages gives
# Debian's torch 1.13 (PyPI's torch would pull gigabytes of CUDA wheels).
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
REQS=scripts/requirements-test.txt
STAMP="$VENV/.requirements.sha256"
if [ ! -f "$STAMP" ] || ! sha256sum -c --status "$STAMP" 2>/dev/null; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  sha256sum "$REQS" > "$STAMP"
fi
echo "install-deps: done"
