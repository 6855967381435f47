#!/usr/bin/env bash
# Installs everything Dongne needs from nothing, idempotently: the pinned node toolchain
# (Foundry, solcjs, OpenZeppelin, ganache) with npm and the Python venv with the package.
# A second run with nothing changed takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp_ok() { [ -f "$1" ] && [ "$1" -nt "$2" ]; }

if ! stamp_ok node_modules/.dongne-stamp package-lock.json; then
  # `npm ci` rejects this lockfile: the Foundry packages list platform builds that are not
  # published for every platform. `npm install` still installs exactly the locked versions.
  echo "bootstrap: npm install (Foundry, solcjs, OpenZeppelin, ganache; pinned by package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
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
