#!/usr/bin/env bash
# Sets up this machine (tests/setup.sh) and runs every check and test:
# formatting, clippy on the host and guest workspaces, and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
guests=(plugins tests/plugins examples/plugins/require-resources-rs)

cargo fmt --all --check
for ws in "${guests[@]}"; do (cd "$ws" && cargo fmt --all --check); done

cargo clippy --workspace --all-targets --quiet -- -D warnings
for ws in "${guests[@]}"; do
  (cd "$ws" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm" \
    cargo clippy --target wasm32-wasip2 --quiet -- -D warnings)
done
# The Rust plugin SDK's world modules sit behind features the built-ins do not use.
(cd plugins && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm" \
  cargo clippy -p sluice-plugin-sdk --all-features --target wasm32-wasip2 --quiet -- -D warnings)

cargo test --workspace

# The canary example end to end against the playground (about 15 s).
examples/canary/run.sh >/dev/null

# The guest crates' own unit and corpus tests run natively (their logic does
# not need the sandbox; the e2e tests above run them as components).
(cd plugins && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/native-guests" cargo test --workspace --quiet)
