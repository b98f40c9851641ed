#!/usr/bin/env bash
# Renders Kustomize trees with `sluice build` (built-in kustomize renderer,
# compiled plugins cached, plugin instantiation included) and with
# `kubectl kustomize`, side by side: hyperfine for time, /usr/bin/time for
# peak memory. Trees: the fidelity corpus (tests/kustomize, all cases in one
# command) and a synthetic overlay (benches/kustomize-tree.sh).
# Usage: benches/render-kustomize.sh [OBJECTS]   (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
objects="${1:-2000}"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
command -v kubectl >/dev/null || { echo "kubectl (with kustomize) is needed as the peer" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
cargo build --quiet --release -p sluice-cli
sluice="$CARGO_TARGET_DIR/release/sluice"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A Source and a Release rendering DIR with the kustomize renderer.
release() {
  cat > "$2" <<YAML
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {name: bench}
spec: {url: "file://$1"}
---
apiVersion: sluice.dev/v1alpha1
kind: Release
metadata: {name: bench}
spec:
  sourceRef: {name: bench}
  renderer: {plugin: kustomize}
YAML
}

benches/kustomize-tree.sh "$work/tree" "$objects"
release "$work/tree" "$work/tree.yaml"
cases=()
for d in tests/kustomize/*/; do
  [ -f "$d/expected.yaml" ] || continue
  name="$(basename "$d")"
  release "$PWD/$d" "$work/case-$name.yaml"
  cases+=("$PWD/$d")
done
"$sluice" build "$work/tree.yaml" > "$work/sluice.out"   # warms the compile cache
kubectl kustomize "$work/tree" > "$work/kubectl.out"
echo "synthetic overlay: $objects base objects, $(grep -c '^kind:' "$work/kubectl.out") rendered; corpus: ${#cases[@]} trees"

printf '%s\n' "${cases[@]}" > "$work/cases"
cat > "$work/corpus-sluice.sh" <<SH
for f in $work/case-*.yaml; do "$sluice" build "\$f" > /dev/null; done
SH
cat > "$work/corpus-kubectl.sh" <<SH
while read -r d; do kubectl kustomize "\$d" > /dev/null; done < $work/cases
SH
hyperfine --warmup 1 --min-runs 5 --style basic \
  -n "sluice build, corpus (${#cases[@]} trees)" "bash $work/corpus-sluice.sh" \
  -n "kubectl kustomize, corpus (${#cases[@]} trees)" "bash $work/corpus-kubectl.sh"
hyperfine --runs 3 --style basic \
  -n "sluice build, $objects-object overlay" "$sluice build $work/tree.yaml" \
  -n "kubectl kustomize, $objects-object overlay" "kubectl kustomize $work/tree"
for cmd in "$sluice build $work/tree.yaml" "kubectl kustomize $work/tree"; do
  /usr/bin/time -f "peak RSS %M KiB: $cmd" $cmd > /dev/null
done
