#!/usr/bin/env bash
# Starts the whole local network: anvil with the contracts deployed, four demo municipalities,
# the gateway (relayer, indexer, query and audit API) on http://127.0.0.1:8000.
# Extra arguments go to `dongne up` (e.g. --node ganache, --port 9000, --no-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/node_modules/.bin:$PATH"
exec .venv/bin/dongne up --demo "$@"
