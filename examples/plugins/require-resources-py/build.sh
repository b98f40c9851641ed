#!/usr/bin/env bash
# Builds the require-resources policy into a component: build.sh OUT.wasm
# Needs componentize-py (pip install componentize-py==0.25.1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/require-resources.wasm}"
mkdir -p "$(dirname "$out")"
componentize-py -d "$here/../../../wit" -w policy componentize -p "$here" app -o "$out" >/dev/null
