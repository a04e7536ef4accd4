#!/usr/bin/env bash
# The layer rules of docs/architecture.md, checked on every #include under src/.
# A layer may include only the layers listed for it.
set -euo pipefail
src="${1:?usage: check_layering.sh SRC_DIR}"
declare -A allowed=(
  [common]="common"
  [engine]="common engine"
  [runtime]="common engine runtime"
  [registry]="common registry"
  [control]="common registry control"
  [auth]="common registry auth"
  [serving]="common registry control auth serving"
  [batch]="common registry control auth serving batch"
  [cli]="common engine runtime registry control auth serving batch cli"
)
status=0
for layer in "${!allowed[@]}"; do
  [ -d "$src/$layer" ] || continue
  while IFS= read -r line; do
    file="${line%%:*}"
    inc="$(sed -E 's/.*#include "([^/"]+)\/.*/\1/' <<<"$line")"
    [ -d "$src/$inc" ] || continue
    if ! grep -qw "$inc" <<<"${allowed[$layer]}"; then
      echo "layering violation: $file includes $inc/ (layer '$layer' may include: ${allowed[$layer]})"
      status=1
    fi
  done < <(grep -rHE '^#include "[a-z_]+/' "$src/$layer" || true)
done
[ "$status" -eq 0 ] && echo "layering ok"
exit "$status"
