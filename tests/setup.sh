#!/usr/bin/env bash
# Installs what building and testing Sluice needs on a fresh machine.
# Idempotent and quiet when everything is already there.
set -euo pipefail

# Plugins are WebAssembly components built for wasm32-wasip2.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 Rust target" >&2
  rustup target add wasm32-wasip2 >/dev/null
fi

# The Python example plugin is componentized with componentize-py.
want_componentize=0.25.1
if [ "$(componentize-py --version 2>/dev/null | awk '{print $2}')" != "$want_componentize" ]; then
  echo "setup: installing componentize-py $want_componentize" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "componentize-py==$want_componentize"
  hash -r
fi
