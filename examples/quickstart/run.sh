#!/usr/bin/env bash
# Sets up this machine, builds sluice and walks through the quickstart:
# render a release, check it against its policies, and see a bad one denied.
set -euo pipefail
cd "$(dirname "$0")/../.."
tests/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
cargo build --quiet -p sluice-cli
sluice="$CARGO_TARGET_DIR/debug/sluice"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step sluice plugin list
"$sluice" plugin list

step sluice build examples/quickstart
"$sluice" build examples/quickstart

step sluice check examples/quickstart
"$sluice" check examples/quickstart

step sluice check examples/quickstart-denied
if "$sluice" check examples/quickstart-denied; then
  echo "expected the denied example to fail" >&2
  exit 1
else
  echo "(exit code $? — the release is blocked, as it should be)"
fi
