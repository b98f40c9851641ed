#!/usr/bin/env bash
# Sets up this machine, builds sluice and walks through the quickstart:
# render a release, check it against its policies, see a bad one denied, and
# apply the good one: to the cluster in $KUBECONFIG when it is set, otherwise
# to a local playground API server (not a real cluster) started here.
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

if [ -n "${KUBECONFIG:-}" ]; then
  echo "applying to the cluster in KUBECONFIG=$KUBECONFIG"
else
  playground_dir="$(mktemp -d)"
  export KUBECONFIG="$playground_dir/kubeconfig"
  "$sluice" playground --kubeconfig "$KUBECONFIG" --ready-after 1s 2>"$playground_dir/log" &
  playground=$!
  trap 'kill $playground 2>/dev/null; rm -rf "$playground_dir"' EXIT
  for _ in $(seq 100); do [ -s "$KUBECONFIG" ] && break; sleep 0.1; done
  printf '\n\033[1mNo KUBECONFIG: using a local playground API server, NOT a real cluster\033[0m\n'
fi

step sluice diff examples/quickstart
"$sluice" diff examples/quickstart || true

step sluice apply examples/quickstart --wait
"$sluice" apply examples/quickstart --wait

step sluice apply examples/quickstart-denied
"$sluice" apply examples/quickstart-denied || echo "(exit code $? — blocked before the cluster)"
