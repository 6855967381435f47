#!/usr/bin/env bash
# Runs every test: Solidity format and tests, Python lint, types and tests.
# FOUNDRY_PROFILE=ci (set by .ci/run) runs the heavier fuzz/invariant profile.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/node_modules/.bin:$PWD/.venv/bin:$PATH"

echo "== forge fmt --check"; forge fmt --check
echo "== forge test"; forge test
echo "== ruff"; ruff check .; ruff format --check .
echo "== mypy --strict"; mypy
echo "== pytest"; pytest "$@"
