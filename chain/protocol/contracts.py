"""Facts about the contracts, DERIVED from the committed ABIs: never typed by hand elsewhere.

Function signatures and selectors, event topics, the canonical types of struct parameters and
return values. A change to a contract reaches every caller with the next
``scripts/export_abis.py``; a name that is not in the ABI fails loudly at import of the caller.
Function and event names are unique per contract in our ABIs (no overloads), so a name is
enough to find an entry; :func:`_entries` checks that.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import cast

from eth_abi.abi import encode as abi_encode

from chain.protocol.abi import AbiEntry, ContractName, abi_signature, canonical_type, load_abi
from chain.protocol.hashing import keccak256

__all__ = [
    "encode_function",
    "event_data_types",
    "event_signature",
    "event_topic",
    "function_signature",
    "input_type",
    "input_types",
    "output_type",
    "selector",
]

TOKEN: ContractName = "VoucherToken"


@cache
def _entries(contract: str, kind: str) -> dict[str, AbiEntry]:
    found: dict[str, AbiEntry] = {}
    for entry in load_abi(contract):
        if entry["type"] != kind:
            continue
        name = str(entry["name"])
        if name in found and abi_signature(found[name]) != abi_signature(entry):
            raise RuntimeError(f"{contract}.{name} is overloaded; name it by signature")
        found[name] = entry
    return found


def _entry(contract: str, kind: str, name: str) -> AbiEntry:
    try:
        return _entries(contract, kind)[name]
    except KeyError:
        raise KeyError(f"{contract} has no {kind} named {name!r} in its committed ABI") from None


def function_signature(name: str, contract: str = TOKEN) -> str:
    """``name(type,...)`` of a function: the text its selector hashes."""
    return abi_signature(_entry(contract, "function", name))


@cache
def selector(name: str, contract: str = TOKEN) -> bytes:
    """The 4-byte selector of a function."""
    return keccak256(function_signature(name, contract).encode())[:4]


def event_signature(name: str, contract: str = TOKEN) -> str:
    return abi_signature(_entry(contract, "event", name))


@cache
def event_topic(name: str, contract: str = TOKEN) -> str:
    """topic0 of an event, 0x-hex, as ``eth_getLogs`` reports it."""
    return "0x" + keccak256(event_signature(name, contract).encode()).hex()


@cache
def event_data_types(name: str, contract: str = TOKEN) -> tuple[str, ...]:
    """The canonical types of an event's non-indexed parameters: what its ``data`` holds."""
    inputs = _params(_entry(contract, "event", name), "inputs")
    return tuple(canonical_type(p) for p in inputs if not p.get("indexed"))


def _params(entry: AbiEntry, key: str) -> list[AbiEntry]:
    return cast(list[AbiEntry], entry.get(key, []))


def input_type(function: str, index: int = 0, contract: str = TOKEN) -> str:
    """The canonical type of a function's ``index``-th parameter (structs as tuples)."""
    return canonical_type(_params(_entry(contract, "function", function), "inputs")[index])


def output_type(function: str, index: int = 0, contract: str = TOKEN) -> str:
    """The canonical type of a function's ``index``-th return value (structs as tuples)."""
    return canonical_type(_params(_entry(contract, "function", function), "outputs")[index])


@cache
def input_types(function: str, contract: str = TOKEN) -> tuple[str, ...]:
    """The canonical types of all of a function's parameters, in order."""
    return tuple(
        canonical_type(p) for p in _params(_entry(contract, "function", function), "inputs")
    )


def encode_function(function: str, args: Sequence[object], contract: str = TOKEN) -> bytes:
    """Selector + ABI-encoded ``args`` of any function in a committed ABI.

    Arguments are encoded as a parameter list, not as one tuple: a tuple with a dynamic member
    would gain an extra leading offset word.
    """
    return selector(function, contract) + abi_encode(
        list(input_types(function, contract)), list(args)
    )
