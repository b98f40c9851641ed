#!/usr/bin/env bash
# A canary release end to end against a local playground API server (NOT a
# real cluster): builds sluice, starts `sluice playground` and `sluice
# controller`, deploys web 6.7.0 (straight to the primary), then commits
# 6.7.1 to the Source and follows the canary with `sluice rollout status`
# at each step until it is promoted. No Prometheus or webhooks: each step
# waits its interval and its (empty) analysis passes; the policies gate
# still applies. See README.md for the output.
set -euo pipefail
cd "$(dirname "$0")/../.."
tests/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
cargo build --quiet -p sluice-cli
sluice="$CARGO_TARGET_DIR/debug/sluice"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export KUBECONFIG="$work/kubeconfig"

step sluice playground --ready-after 1s
"$sluice" playground --kubeconfig "$KUBECONFIG" --ready-after 1s 2>"$work/playground.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$KUBECONFIG" ] && break; sleep 0.1; done
[ -s "$KUBECONFIG" ] || { cat "$work/playground.log" >&2; exit 1; }
echo "a local API server, NOT a real cluster; KUBECONFIG=$KUBECONFIG"

# The CRDs (Sluice's and the Gateway API HTTPRoute), then the Source and
# Release, each applied by sluice as a release of its own.
bootstrap() { # NAME DIR FILES...
  local name=$1 dir=$2
  shift 2
  mkdir -p "$dir/manifests"
  cp "$@" "$dir/manifests/"
  cat >"$dir/sluice.yaml" <<YAML
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {name: $name}
spec: {url: file://./manifests}
---
apiVersion: sluice.dev/v1alpha1
kind: Release
metadata: {name: $name}
spec: {sourceRef: {name: $name}, path: ./, renderer: {plugin: plain}}
YAML
  "$sluice" apply "$dir" --wait
}
step sluice apply "<deploy/crds + examples/canary/gateway-api>" --wait
bootstrap crds "$work/crds" deploy/crds/*.yaml examples/canary/gateway-api/httproute-crd.yaml

step sluice controller -n default
SLUICE_LOG=warn "$sluice" controller -n default 2>"$work/controller.log" &
pids+=($!)

cp -r examples/canary/app "$work/app"
sed "s|APP_DIR|$work/app|" examples/canary/cluster/web.yaml >"$work/web.yaml"
step sluice apply "<examples/canary/cluster/web.yaml>" --wait
bootstrap objects "$work/objects" "$work/web.yaml"

status() { "$sluice" rollout status web "$@"; }
wait_for() { # WHAT COMMAND...: polls for at most 60s
  local what=$1
  shift
  for _ in $(seq 120); do "$@" && return 0; sleep 0.5; done
  echo "timed out waiting for $what; controller log:" >&2
  tail -n 20 "$work/controller.log" >&2
  exit 1
}
first_deployed() { status >/dev/null 2>&1; }
wait_for "the first deployment" first_deployed
step sluice rollout status web
status
stable="$(status | awk '/^Stable:/ {print $2}')"

step "sed -i 's/podinfo:6.7.0/podinfo:6.7.1/' app/deploy.yaml"
sed -i 's/podinfo:6.7.0/podinfo:6.7.1/' "$work/app/deploy.yaml"
step sluice reconcile source app
"$sluice" reconcile source app --timeout 30s

# Print the status each time the phase, step or analysis count changes.
last=""
promoted() {
  local out code=0 now
  out="$(status 2>&1)" || code=$?
  now="$(grep -E '^(Phase|Step|Analyses):' <<<"$out" || true)"
  if [ "$now" != "$last" ] && grep -q "^Candidate: *[^ ]" <<<"$out" \
    && ! grep -q "^Candidate: *$stable" <<<"$out"; then
    last="$now"
    step sluice rollout status web
    echo "$out"
  fi
  if [ "$code" = 1 ]; then echo "rolled back" >&2; exit 1; fi
  [ "$code" = 0 ] && ! grep -q "^Stable: *$stable" <<<"$out"
}
wait_for "the promotion" promoted

step sluice get releases
"$sluice" get releases
