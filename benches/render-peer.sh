#!/usr/bin/env bash
# Renders the same tree of plain manifests with `sluice build` (plain renderer,
# compiled plugins cached) and with `kubectl kustomize`, side by side, with
# hyperfine. Usage: benches/render-peer.sh [OBJECTS]   (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
objects="${1:-1000}"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
command -v kubectl >/dev/null || { echo "kubectl (with kustomize) is needed as the peer" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
cargo build --quiet --release -p sluice-cli
sluice="$CARGO_TARGET_DIR/release/sluice"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/manifests"
per_file=10
for ((f = 0; f < objects / per_file; f++)); do
  for ((i = 0; i < per_file; i++)); do
    n=$((f * per_file + i))
    cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-$n
  labels: {app.kubernetes.io/name: app-$n, team: bench}
spec:
  replicas: 2
  selector: {matchLabels: {app.kubernetes.io/name: app-$n}}
  template:
    metadata: {labels: {app.kubernetes.io/name: app-$n}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app:1.$n.0
          ports: [{containerPort: 8080, name: http}]
          env: [{name: MODE, value: production}, {name: INDEX, value: "$n"}]
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: "1", memory: 128Mi}}
YAML
  done > "$work/manifests/f$(printf %03d "$f").yaml"
done
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  for f in "$work"/manifests/*.yaml; do echo "  - manifests/$(basename "$f")"; done
} > "$work/kustomization.yaml"
cat > "$work/sluice.yaml" <<'YAML'
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {name: bench}
spec: {url: "file://./manifests"}
---
apiVersion: sluice.dev/v1alpha1
kind: Release
metadata: {name: bench}
spec:
  sourceRef: {name: bench}
  renderer: {plugin: plain}
YAML
{
  cat "$work/sluice.yaml"
  echo "  policies:"
  echo "    - plugin: guardrails"
  echo "      config: {requiredLabels: [team], requireResourceLimits: true}"
} > "$work/check.yaml"
"$sluice" build "$work/sluice.yaml" > /dev/null   # warm the compile cache
echo "$(du -sh "$work/manifests" | cut -f1) of YAML, $objects Deployments in $((objects / per_file)) files"
hyperfine --warmup 3 --min-runs 20 --style basic \
  -n "sluice build (plain)" "$sluice build $work/sluice.yaml" \
  -n "kubectl kustomize" "kubectl kustomize $work" \
  -n "sluice check (plain + guardrails)" "$sluice check $work/check.yaml"
