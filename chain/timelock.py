"""What the timelock holds: every operation scheduled on ``DongneTimelock`` and not yet executed
or cancelled, read from its events, with each call decoded against the committed ABIs.

The timelock owns the beacon and administers itself, so whatever it runs changes every city's
token or the timelock's own rules (its delay, who may propose). A proposer key, or a leaked one,
can schedule any call; auditors must see all of them, not only the upgrades
(:func:`chain.upgrades.pending_operations` classifies them).

An operation is an id (``hashOperation``/``hashOperationBatch``) with one ``CallScheduled`` per
call (a batch: several sharing the id, by index), one ``CallExecuted`` per call when it runs
(done for good: a done id cannot be scheduled again) or one ``Cancelled`` (after which the same
id may be scheduled again, calls afresh). Its predecessor, when set, must be done before it can
run; its delay is the one it was scheduled with (the ready time is read from the timelock).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import cast

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.manifest import Manifest
from chain.protocol.abi import CONTRACTS, AbiEntry, abi_signature, canonical_type, load_abi
from chain.protocol.contracts import encode_function, event_data_types, event_topic
from chain.rpc import RpcClient

__all__ = [
    "DecodedCall",
    "ScheduledOperation",
    "decode_call",
    "pending_schedule",
    "roles_of",
    "takes_role",
]

TIMELOCK = "DongneTimelock"
_SCHEDULED = event_topic("CallScheduled", TIMELOCK)
_EXECUTED = event_topic("CallExecuted", TIMELOCK)
_CANCELLED = event_topic("Cancelled", TIMELOCK)
_SCHEDULED_DATA = event_data_types("CallScheduled", TIMELOCK)


@dataclass(frozen=True)
class ScheduledOperation:
    """An operation pending on the timelock, as its ``CallScheduled`` events tell it."""

    id: bytes
    calls: tuple[tuple[str, int, bytes], ...]  # (checksummed target, value, calldata), in order
    predecessor: bytes  # 32 zero bytes: none
    delay: int  # seconds, as scheduled
    block: int  # the block that scheduled it


@dataclass(frozen=True)
class DecodedCall:
    """One call of an operation, named from the committed ABIs where they know its selector."""

    target: str
    contract: str | None  # our name for `target` (manifest contract or a city's token)
    value: int  # wei the timelock would send along
    data: str  # 0x calldata, whole
    selector: str  # 0x-hex, 4 bytes
    function: str | None  # its signature, when a committed ABI has the selector
    args: tuple[str, ...] | None  # its arguments rendered; None when unknown or undecodable

    def describe(self) -> str:
        """``DongneTimelock 0x.. updateDelay(uint256)(0)``: what an auditor reads."""
        target = f"{self.contract} {self.target}" if self.contract else self.target
        if self.function is None:
            what = f"unknown function {self.selector}"
        elif self.args is None:
            what = f"{self.function} [{self.selector}, arguments undecodable]"
        else:
            what = f"{self.function.split('(')[0]}({', '.join(self.args)})"
        value = f" sending {self.value} wei" if self.value else ""
        return f"{target} {what}{value}"


def pending_schedule(rpc: RpcClient, manifest: Manifest) -> list[ScheduledOperation]:
    """Every operation scheduled on the timelock and neither executed nor cancelled, in the
    order they were (last) scheduled: one ``eth_getLogs`` over the three events."""
    timelock = manifest.contracts[TIMELOCK]
    logs = rpc.get_logs(
        {"address": timelock.address, "topics": [[_SCHEDULED, _EXECUTED, _CANCELLED]],
         "fromBlock": hex(timelock.block), "toBlock": "latest"}
    )  # fmt: skip
    # Folded in chain order: a later Cancelled or CallExecuted ends what a CallScheduled began.
    logs.sort(key=lambda log: (int(str(log["blockNumber"]), 16), int(str(log["logIndex"]), 16)))
    pending: dict[bytes, tuple[dict[int, tuple[str, int, bytes]], bytes, int, int]] = {}
    for log in logs:
        topics = cast(list[str], log["topics"])
        op = bytes.fromhex(topics[1].removeprefix("0x"))
        if topics[0] != _SCHEDULED:
            pending.pop(op, None)
            continue
        raw = bytes.fromhex(str(log["data"]).removeprefix("0x"))
        target, value, data, predecessor, delay = abi_decode(list(_SCHEDULED_DATA), raw)
        block = int(str(log["blockNumber"]), 16)
        calls = pending.setdefault(op, ({}, bytes(predecessor), int(delay), block))[0]
        calls[int(topics[2], 16)] = (to_checksum_address(target), int(value), bytes(data))
    return [
        ScheduledOperation(op, tuple(calls[i] for i in sorted(calls)), predecessor, delay, block)
        for op, (calls, predecessor, delay, block) in pending.items()
    ]


def decode_call(
    target: str, value: int, data: bytes, names: Mapping[str, str], roles: Mapping[bytes, str]
) -> DecodedCall:
    """`names`: our name for an address (checksummed); `roles`: the name of a role value, shown
    beside an argument named ``role`` (only there: 32 zero bytes are also "no predecessor")."""
    entry = _functions().get(data[:4])
    args: tuple[str, ...] | None = None
    if entry is not None:
        params = cast(list[AbiEntry], entry.get("inputs", []))
        types = [canonical_type(p) for p in params]
        try:
            decoded = abi_decode(types, data[4:])
        except Exception:  # eth_abi raises several kinds on malformed data: shown as such
            decoded = None
        if decoded is not None:
            args = tuple(
                _render(t, v, names) + _role(p, v, roles)
                for p, t, v in zip(params, types, decoded, strict=True)
            )
    return DecodedCall(
        target, names.get(target), value, "0x" + data.hex(), "0x" + data[:4].hex(),
        None if entry is None else abi_signature(entry), args,
    )  # fmt: skip


def roles_of(rpc: RpcClient, target: str, contract: str) -> dict[bytes, str]:
    """The roles `contract` (deployed at `target`) names, read from it: every ``*_ROLE()``
    getter of its committed ABI, so ``grantRole(0xb09a..)`` reads ``PROPOSER_ROLE``."""
    if contract not in CONTRACTS:
        return {}
    found: dict[bytes, str] = {}
    for entry in load_abi(contract):
        name = str(entry.get("name", ""))
        if entry["type"] == "function" and name.endswith("_ROLE") and not entry.get("inputs"):
            data = encode_function(name, [], contract)
            found[rpc.eth_call({"to": target, "data": "0x" + data.hex()})[:32]] = name
    return found


def takes_role(data: bytes) -> bool:
    """Whether the function `data` calls has an argument named ``role`` (grantRole...)."""
    entry = _functions().get(data[:4])
    inputs = cast(list[AbiEntry], entry.get("inputs", [])) if entry else []
    return any(p.get("name") == "role" for p in inputs)


@cache
def _functions() -> dict[bytes, AbiEntry]:
    """Selector -> function entry, over every committed ABI."""
    found: dict[bytes, AbiEntry] = {}
    for contract in CONTRACTS:
        for entry in load_abi(contract):
            if entry["type"] == "function":
                found.setdefault(keccak(text=abi_signature(entry))[:4], entry)
    return found


def _role(param: AbiEntry, value: object, roles: Mapping[bytes, str]) -> str:
    name = roles.get(value) if param.get("name") == "role" and isinstance(value, bytes) else None
    return f" ({name})" if name else ""


def _render(kind: str, value: object, names: Mapping[str, str]) -> str:
    if kind.endswith("]"):
        inner = kind[: kind.rindex("[")]
        items = cast(list[object], value)
        return "[" + ", ".join(_render(inner, v, names) for v in items) + "]"
    if kind.startswith("("):
        return "(" + ", ".join(str(v) for v in cast(tuple[object, ...], value)) + ")"
    if kind == "address":
        address = to_checksum_address(str(value))
        return f"{address} ({names[address]})" if address in names else address
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value) if isinstance(value, str) else str(value)
