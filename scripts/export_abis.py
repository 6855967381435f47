"""Builds the contracts with forge and writes the ABIs we ship to
``chain/protocol/abi/<Name>.json``.

Usage: ``python scripts/export_abis.py [--check] [--no-build]``

``FOUNDRY_OUT`` (default ``out/``) and ``FOUNDRY_CACHE_PATH`` are respected, so engineers who
build concurrently can each use their own directories. ``--check`` writes nothing and exits 1,
naming each stale file, when a committed ABI differs from a fresh export.

``VoucherToken.json`` is the full ABI of a municipality's proxy: the ``IVoucherToken`` interface
(core plus the admin module the implementation delegates to) merged with the implementation's
own entries (``initialize``, roles, ``adminModule``...). Output is deterministic: entries sorted
by kind and signature, keys sorted, 2-space indent, trailing newline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import cast

from chain.artifacts import forge_build, out_dir
from chain.protocol.abi import CONTRACTS, AbiEntry, abi_signature

# (artifact source file, contract name) of every ABI that goes into one exported file, in
# precedence order: when two parts declare the same signature the first wins, so the documented
# interface's parameter names beat the implementation's (which leaves some unnamed).
EXPORTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "DongneAnchor": (("DongneAnchor.sol", "DongneAnchor"),),
    "DongneForwarder": (("DongneForwarder.sol", "DongneForwarder"),),
    "DongneTimelock": (("DongneTimelock.sol", "DongneTimelock"),),
    "IdentityRegistry": (("IdentityRegistry.sol", "IdentityRegistry"),),
    "UpgradeableBeacon": (("UpgradeableBeacon.sol", "UpgradeableBeacon"),),
    "VoucherAdmin": (("VoucherAdmin.sol", "VoucherAdmin"),),
    "VoucherFactory": (("VoucherFactory.sol", "VoucherFactory"),),
    "VoucherServices": (("VoucherServices.sol", "VoucherServices"),),
    "VoucherToken": (
        ("IVoucherToken.sol", "IVoucherToken"),
        ("VoucherToken.sol", "VoucherToken"),
    ),
}

# Only what the exported ABIs need: skipping forge tests cuts the build by about a third.
# UpgradeableBeacon is named because only the tests and deploy code import it.
BUILD_PATHS = (
    "contracts/src",
    "node_modules/@openzeppelin/contracts/proxy/beacon/UpgradeableBeacon.sol",
)

_KIND_ORDER = {"constructor": 0, "fallback": 1, "receive": 2, "function": 3, "event": 4, "error": 5}


def merge_abis(parts: Iterable[Sequence[AbiEntry]]) -> list[AbiEntry]:
    """Union of ABIs, deduplicated by signature (first wins), in a deterministic order."""
    merged: dict[tuple[str, str], AbiEntry] = {}
    for abi in parts:
        for entry in abi:
            merged.setdefault((str(entry["type"]), abi_signature(entry)), entry)
    return [
        merged[key] for key in sorted(merged, key=lambda k: (_KIND_ORDER.get(k[0], 9), k[0], k[1]))
    ]


def render(abi: Sequence[AbiEntry]) -> str:
    return json.dumps(list(abi), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def export(artifacts: Path) -> dict[str, str]:
    """File name -> file text of every committed ABI, from forge's artifact directory."""
    if set(EXPORTS) != set(CONTRACTS):
        raise SystemExit("EXPORTS and chain.protocol.abi.CONTRACTS name different contracts")
    texts: dict[str, str] = {}
    for name, parts in EXPORTS.items():
        abis = []
        for source, contract in parts:
            path = artifacts / source / f"{contract}.json"
            if not path.is_file():
                raise SystemExit(f"missing artifact {path}: did forge build {source}?")
            artifact = json.loads(path.read_text(encoding="utf-8"))
            abis.append(cast(list[AbiEntry], artifact["abi"]))
        texts[f"{name}.json"] = render(merge_abis(abis))
    return texts


def abi_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "chain" / "protocol" / "abi"


def stale_files(texts: Mapping[str, str], directory: Path) -> list[str]:
    """Names of the files in ``texts`` whose committed copy is missing or different."""
    stale = []
    for file_name, text in sorted(texts.items()):
        path = directory / file_name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(file_name)
    return stale


def orphan_files(texts: Mapping[str, str], directory: Path) -> list[str]:
    """Committed ABI files that no export produces any more (a contract was renamed)."""
    return sorted(p.name for p in directory.glob("*.json") if p.name not in texts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when stale")
    parser.add_argument("--no-build", action="store_true", help="use the existing artifacts")
    args = parser.parse_args(argv)

    artifacts = out_dir() if args.no_build else forge_build(paths=BUILD_PATHS)
    texts = export(artifacts)
    target = abi_dir()
    stale = stale_files(texts, target)
    orphans = orphan_files(texts, target) if target.is_dir() else []
    if args.check:
        for file_name in stale:
            print(f"stale ABI: chain/protocol/abi/{file_name}", file=sys.stderr)
        for file_name in orphans:
            print(
                f"orphan ABI (no contract exports it): chain/protocol/abi/{file_name}",
                file=sys.stderr,
            )
        return 1 if stale or orphans else 0
    for file_name in orphans:
        print(f"warning: chain/protocol/abi/{file_name} is exported by no contract; delete it")
    target.mkdir(parents=True, exist_ok=True)
    for file_name in stale:
        # newline="\n" keeps the files byte-identical on every platform.
        with (target / file_name).open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(texts[file_name])
        print(f"wrote chain/protocol/abi/{file_name}")
    if not stale:
        print("chain/protocol/abi is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
