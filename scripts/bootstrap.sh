#!/usr/bin/env bash
# Installs everything Dongne needs from nothing, idempotently: the pinned node toolchain
# (Foundry, solcjs, OpenZeppelin, ganache) with `npm ci`, the Python venv with the package,
# and the contracts' build (out/), so any pytest subset runs right after it.
# A second run with nothing changed takes a few seconds. It never modifies a tracked file:
# `git status --porcelain` is empty afterwards on a fresh clone (CI checks it).
set -euo pipefail
cd "$(dirname "$0")/.."

stamp_ok() { [ -f "$1" ] && [ "$1" -nt "$2" ]; }

if ! stamp_ok node_modules/.dongne-stamp package-lock.json; then
  # The lockfile lists every platform's optional Foundry build, so `npm ci` accepts it and
  # installs exactly the locked versions (only this platform's binaries are downloaded).
  echo "bootstrap: npm ci (Foundry, solcjs, OpenZeppelin, ganache; pinned by package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.dongne-stamp
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
if ! stamp_ok .venv/.dongne-stamp pyproject.toml; then
  echo "bootstrap: pip install -e .[dev]"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch .venv/.dongne-stamp
fi

# forge's cache makes this a no-op when no contract changed.
echo "bootstrap: forge build"
node_modules/.bin/forge build >/dev/null
