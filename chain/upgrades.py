"""Upgrades of every city's token, through the timelock that owns the beacon.

An upgrade is ``UpgradeableBeacon.upgradeTo(implementation)`` run by ``DongneTimelock``: a
proposer schedules it (``CallScheduled``, public on chain), it waits the timelock's delay, then
an executor runs it; a canceller can stop it meanwhile. :func:`pending_upgrades` is what
auditors read (``dongne audit upgrades``): every scheduled call to the beacon not yet done or
cancelled, with the implementation it installs and when it may run.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.manifest import Manifest
from chain.protocol.contracts import encode_function, event_data_types, event_topic, selector
from chain.rpc import RpcClient
from chain.sender import Sender

__all__ = [
    "PendingUpgrade",
    "execute_upgrade",
    "operation_id",
    "pending_upgrades",
    "schedule_upgrade",
    "upgrade_call",
]

TIMELOCK = "DongneTimelock"
BEACON = "UpgradeableBeacon"
_UPGRADE_TO = selector("upgradeTo", BEACON)
_SCHEDULED = event_topic("CallScheduled", TIMELOCK)
_SCHEDULED_DATA = event_data_types("CallScheduled", TIMELOCK)
# TimelockController.OperationState
_STATES = {0: "unset", 1: "waiting", 2: "ready", 3: "done"}


@dataclass(frozen=True)
class PendingUpgrade:
    operation_id: str
    implementation: str | None  # None: a call to the beacon that is not an upgradeTo
    calldata: str
    state: str  # waiting (before its time) or ready (an executor may run it now)
    ready_at: int  # unix seconds
    scheduled_block: int


def upgrade_call(implementation: str) -> bytes:
    return encode_function("upgradeTo", [to_checksum_address(implementation)], BEACON)


def operation_id(target: str, data: bytes, salt: bytes = bytes(32), value: int = 0) -> bytes:
    """``TimelockController.hashOperation`` with no predecessor."""
    encoded = abi_encode(
        ["address", "uint256", "bytes", "bytes32", "bytes32"],
        [to_checksum_address(target), value, data, bytes(32), salt],
    )
    return keccak(encoded)


def schedule_upgrade(
    proposer: Sender, manifest: Manifest, implementation: str, *, salt: bytes = bytes(32)
) -> bytes:
    """Schedules the beacon's upgrade to `implementation` after the timelock's delay."""
    beacon, timelock = manifest.address(BEACON), manifest.address(TIMELOCK)
    data = upgrade_call(implementation)
    delay = int.from_bytes(_call(proposer.rpc, timelock, "getMinDelay", []))
    schedule = encode_function("schedule", [beacon, 0, data, bytes(32), salt, delay], TIMELOCK)
    proposer.send(timelock, schedule, "schedule upgrade")
    return operation_id(beacon, data, salt)


def execute_upgrade(
    executor: Sender, manifest: Manifest, implementation: str, *, salt: bytes = bytes(32)
) -> None:
    """Runs a scheduled upgrade whose delay has passed (reverts with the timelock's error
    ``TimelockUnexpectedOperationState`` before)."""
    beacon, timelock = manifest.address(BEACON), manifest.address(TIMELOCK)
    execute = encode_function(
        "execute", [beacon, 0, upgrade_call(implementation), bytes(32), salt], TIMELOCK
    )
    executor.send(timelock, execute, "execute upgrade")


def pending_upgrades(rpc: RpcClient, manifest: Manifest) -> list[PendingUpgrade]:
    """Every call to the beacon scheduled on the timelock and neither done nor cancelled."""
    timelock = manifest.contracts[TIMELOCK]
    beacon = manifest.address(BEACON).lower()
    logs = rpc.get_logs(
        {"address": timelock.address, "topics": [_SCHEDULED],
         "fromBlock": hex(timelock.block), "toBlock": "latest"}
    )  # fmt: skip
    found: list[PendingUpgrade] = []
    seen: set[str] = set()
    for log in logs:
        topics = log["topics"]
        assert isinstance(topics, list)
        op = str(topics[1])
        raw = bytes.fromhex(str(log["data"]).removeprefix("0x"))
        target, _value, data, _predecessor, _delay = abi_decode(list(_SCHEDULED_DATA), raw)
        if op in seen or str(target).lower() != beacon:
            continue
        seen.add(op)
        op_bytes = bytes.fromhex(op.removeprefix("0x"))
        state = _STATES.get(
            int.from_bytes(_call(rpc, timelock.address, "getOperationState", [op_bytes])), "?"
        )
        if state not in ("waiting", "ready"):
            continue  # done, or cancelled (a cancelled operation is unset again)
        ready_at = int.from_bytes(_call(rpc, timelock.address, "getTimestamp", [op_bytes]))
        implementation = None
        if bytes(data[:4]) == _UPGRADE_TO:
            (address,) = abi_decode(["address"], bytes(data[4:]))
            implementation = to_checksum_address(address)
        found.append(
            PendingUpgrade(op, implementation, "0x" + bytes(data).hex(), state, ready_at,
                           int(str(log["blockNumber"]), 16))
        )  # fmt: skip
    return found


def _call(rpc: RpcClient, to: str, function: str, args: list[object]) -> bytes:
    data = encode_function(function, args, TIMELOCK)
    return rpc.eth_call({"to": to, "data": "0x" + data.hex()})
