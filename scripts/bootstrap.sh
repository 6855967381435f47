#!/usr/bin/env bash
# Installs everything Dongne needs from nothing, idempotently: the pinned node toolchain
# (Foundry, solcjs, OpenZeppelin, ganache) with `npm ci`, the Python venv with the package,
# the contracts' build (out/), the portal's browser bundle and Debian's Chromium (the portal's
# browser tests drive it; Playwright downloads no browser here), so any pytest subset runs
# right after it.
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

# The portal's wallet code (viem) bundled into one local file; the bundle is gitignored and
# rebuilt when its source or the lockfile changes.
bundle=gateway/portal/static/build/wallet.js
if ! stamp_ok "$bundle" package-lock.json || ! stamp_ok "$bundle" gateway/portal/src/wallet.js; then
  echo "bootstrap: esbuild the portal's wallet bundle (viem)"
  node_modules/.bin/esbuild gateway/portal/src/wallet.js --bundle --format=esm --minify \
    --target=es2020 --log-level=warning --outfile="$bundle"
fi

# Playwright drives the distribution's Chromium: browser downloads are not possible on a
# closed network, and apt is (CI runs as root). Nanum is a Korean font for its pages (and
# their screenshots), which would otherwise show empty boxes. Without root, passwordless
# sudo or a reachable mirror this only warns (everything else is still installed, and only
# the browser tests cannot run) unless DONGNE_REQUIRE_BROWSER=1 makes it an error.
install_browser() {
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
      echo "not root, and no passwordless sudo"
      return 1
    fi
    sudo=(sudo -n)
  fi
  # sudo resets the environment: the variable goes through env, after sudo.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq chromium fonts-nanum >/dev/null || return 1
}
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/nanum ]; then
  echo "bootstrap: apt-get install chromium fonts-nanum (the portal's browser tests)"
  if ! why=$(install_browser 2>&1 | tail -n 3); then
    if [ "${DONGNE_REQUIRE_BROWSER:-0}" = 1 ]; then
      echo "bootstrap: error: could not install chromium (DONGNE_REQUIRE_BROWSER=1): $why" >&2
      exit 1
    fi
    echo "bootstrap: warning: could not install chromium and fonts-nanum; the portal's" \
      "browser tests (tests/gateway/portal) will fail until they are installed: $why" >&2
  fi
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

# forge's cache makes this a no-op when no contract changed. forge itself, not its npm
# launcher, which exits 0 whatever forge returns (a contract that does not compile passed).
echo "bootstrap: forge build"
"$(.venv/bin/python -c 'from chain.toolchain import executable; print(executable("forge"))')" \
  build >/dev/null
