#!/usr/bin/env bash
# Runs every test: Solidity format and tests, Python lint, types and tests.
# FOUNDRY_PROFILE=ci (set by .ci/run) runs the heavier fuzz/invariant profile.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/node_modules/.bin:$PWD/.venv/bin:$PATH"

# forge itself, not its npm launcher (node_modules/.bin/forge): the launcher exits 0 whatever
# forge returns, so failing forge tests and unformatted files passed this script.
FORGE="$(python -c 'from chain.toolchain import executable; print(executable("forge"))')"
echo "== forge fmt --check"; "$FORGE" fmt --check
echo "== forge test"; "$FORGE" test
echo "== ruff"; ruff check .; ruff format --check .
echo "== mypy --strict"; mypy
echo "== pytest"; pytest "$@"
