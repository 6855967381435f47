"""The committed ABIs of the contracts the network ships, as package data.

``chain/protocol/abi/<Name>.json`` is written by ``scripts/export_abis.py`` from a
``forge build`` and checked for staleness by ``tests/chain/protocol/test_abi_fresh.py``.
Wallet apps load ABIs from here instead of ``out/``, so an installed wheel needs neither forge
nor the Solidity sources. This module imports only the standard library.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Literal, cast, get_args

__all__ = [
    "CONTRACTS",
    "AbiEntry",
    "ContractName",
    "abi_signature",
    "canonical_type",
    "load_abi",
]

AbiEntry = dict[str, object]
"""One ABI item (function, event, error, constructor...) as solc emits it."""

ContractName = Literal[
    "DongneAnchor",
    "DongneForwarder",
    "DongneTimelock",
    "IdentityRegistry",
    "UpgradeableBeacon",
    "VoucherAdmin",
    "VoucherFactory",
    "VoucherServices",
    "VoucherToken",
]
CONTRACTS: tuple[ContractName, ...] = get_args(ContractName)
"""Every contract whose ABI is committed in ``chain/protocol/abi``."""


@cache
def _load(name: str) -> tuple[AbiEntry, ...]:
    if name not in CONTRACTS:
        raise KeyError(f"no committed ABI named {name!r}; known: {', '.join(CONTRACTS)}")
    text = files("chain.protocol").joinpath("abi", f"{name}.json").read_text(encoding="utf-8")
    return tuple(cast(list[AbiEntry], json.loads(text)))


def load_abi(name: ContractName | str) -> list[AbiEntry]:
    """The ABI of ``name`` (e.g. ``"VoucherToken"``, the full proxy ABI).

    The file is parsed once per process; each call returns a fresh list so a caller that
    mutates it cannot corrupt the cache (entries themselves are shared and must not be mutated).
    """
    return list(_load(name))


def canonical_type(param: AbiEntry) -> str:
    """The canonical type of an ABI parameter: tuples spelled out as ``(t1,t2)[]``."""
    kind = str(param["type"])
    if not kind.startswith("tuple"):
        return kind
    components = cast(list[AbiEntry], param.get("components", []))
    inner = ",".join(canonical_type(c) for c in components)
    return f"({inner}){kind[len('tuple') :]}"


def abi_signature(entry: AbiEntry) -> str:
    """``name(type,...)`` of a function, event or error: the text its selector hashes.

    Nameless entries (constructor, fallback, receive) are identified by their kind alone.
    """
    if "name" not in entry:
        return str(entry["type"])
    inputs = cast(list[AbiEntry], entry.get("inputs", []))
    return f"{entry['name']}({','.join(canonical_type(p) for p in inputs)})"
