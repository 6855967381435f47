"""Upgrades of every city's token, through the timelock that owns the beacon.

An upgrade is ``UpgradeableBeacon.upgradeTo(implementation)`` run by ``DongneTimelock``: a
proposer schedules it (``CallScheduled``, public on chain), it waits the timelock's delay, then
an executor runs it; a canceller can stop it meanwhile. :func:`pending_upgrades` is what
auditors read (``dongne audit upgrades``): every scheduled call to the beacon not yet done or
cancelled, with the implementation it installs and when it may run.

An upgrade is scheduled as one batch: the beacon's ``upgradeTo``, then ``mirrorPayRules`` on
every city token the factory knows. Payments trust a copy of the rules and the pause flag
(VoucherBase ``PayRules``) that only this code version writes; an implementation without it (a
rollback) may have paused or changed the rules meanwhile, so the copy is rewritten in the same
transaction as the upgrade, before any payment can run under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.manifest import Manifest
from chain.protocol.contracts import encode_function, event_data_types, event_topic, selector
from chain.rpc import RpcClient, RpcError
from chain.sender import Sender

__all__ = [
    "PendingUpgrade",
    "batch_operation_id",
    "execute_upgrade",
    "operation_id",
    "pending_upgrades",
    "schedule_upgrade",
    "upgrade_batch",
    "upgrade_call",
]

TIMELOCK = "DongneTimelock"
BEACON = "UpgradeableBeacon"
FACTORY = "VoucherFactory"
_MIRROR = encode_function("mirrorPayRules", [])
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


def batch_operation_id(calls: list[tuple[str, bytes]], salt: bytes = bytes(32)) -> bytes:
    """``TimelockController.hashOperationBatch`` of value-less calls, with no predecessor."""
    encoded = abi_encode(
        ["address[]", "uint256[]", "bytes[]", "bytes32", "bytes32"],
        [[to_checksum_address(t) for t, _ in calls], [0] * len(calls),
         [data for _, data in calls], bytes(32), salt],
    )  # fmt: skip
    return keccak(encoded)


def upgrade_batch(
    rpc: RpcClient, manifest: Manifest, implementation: str
) -> list[tuple[str, bytes]]:
    """The calls of an upgrade, in order: the beacon's ``upgradeTo``, then ``mirrorPayRules`` on
    every city token the factory knows. Without the re-mirror when `implementation` lacks
    that entry (a rollback to an older version): it would revert the whole batch there."""
    calls = [(manifest.address(BEACON), upgrade_call(implementation))]
    if _has_mirror(rpc, implementation):
        raw = _call(rpc, manifest.factory, "tokens", [], FACTORY)
        (tokens,) = abi_decode(["address[]"], raw)
        calls += [(to_checksum_address(token), _MIRROR) for token in tokens]
    return calls


def schedule_upgrade(
    proposer: Sender, manifest: Manifest, implementation: str, *, salt: bytes = bytes(32)
) -> bytes:
    """Schedules :func:`upgrade_batch` after the timelock's delay; returns its operation id."""
    timelock = manifest.address(TIMELOCK)
    calls = upgrade_batch(proposer.rpc, manifest, implementation)
    delay = int.from_bytes(_call(proposer.rpc, timelock, "getMinDelay", []))
    schedule = encode_function(
        "scheduleBatch",
        [[t for t, _ in calls], [0] * len(calls), [d for _, d in calls], bytes(32), salt, delay],
        TIMELOCK,
    )
    proposer.send(timelock, schedule, "schedule upgrade")
    return batch_operation_id(calls, salt)


def execute_upgrade(
    executor: Sender, manifest: Manifest, implementation: str, *, salt: bytes = bytes(32)
) -> None:
    """Runs the scheduled upgrade to `implementation` whose delay has passed (reverts with the
    timelock's error ``TimelockUnexpectedOperationState`` before). Its calls are read back from
    the schedule, not rebuilt: a city deployed since is not in the batch it committed to."""
    rpc, timelock = executor.rpc, manifest.address(TIMELOCK)
    wanted = (to_checksum_address(manifest.address(BEACON)), upgrade_call(implementation))
    execute = _execute_call([wanted], salt, batched=True)  # unscheduled: the timelock says so
    for op, (calls, _block) in _scheduled(rpc, manifest).items():
        if calls[:1] != [wanted]:
            continue
        if op == batch_operation_id(calls, salt):
            execute = _execute_call(calls, salt, batched=True)
        elif len(calls) == 1 and op == operation_id(*calls[0], salt):
            execute = _execute_call(calls, salt, batched=False)  # from before batches
        else:
            continue
        state = int.from_bytes(_call(rpc, timelock, "getOperationState", [op]))
        if _STATES.get(state) in ("waiting", "ready"):
            break  # else done, or cancelled: a later one may be pending
    executor.send(timelock, execute, "execute upgrade")


def _execute_call(calls: list[tuple[str, bytes]], salt: bytes, *, batched: bool) -> bytes:
    if not batched:
        target, data = calls[0]
        return encode_function("execute", [target, 0, data, bytes(32), salt], TIMELOCK)
    args: list[object] = [[t for t, _ in calls], [0] * len(calls), [d for _, d in calls],
                          bytes(32), salt]  # fmt: skip
    return encode_function("executeBatch", args, TIMELOCK)


def pending_upgrades(rpc: RpcClient, manifest: Manifest) -> list[PendingUpgrade]:
    """Every operation on the timelock that calls the beacon (an upgrade, in a batch or alone)
    and is neither done nor cancelled: one entry per operation, for its first beacon call."""
    timelock = manifest.address(TIMELOCK)
    beacon = manifest.address(BEACON).lower()
    found: list[PendingUpgrade] = []
    for op, (calls, block) in _scheduled(rpc, manifest).items():
        beacon_calls = [data for target, data in calls if target.lower() == beacon]
        if not beacon_calls:
            continue
        state = _STATES.get(int.from_bytes(_call(rpc, timelock, "getOperationState", [op])), "?")
        if state not in ("waiting", "ready"):
            continue  # done, or cancelled (a cancelled operation is unset again)
        ready_at = int.from_bytes(_call(rpc, timelock, "getTimestamp", [op]))
        data = beacon_calls[0]
        implementation = None
        if data[:4] == _UPGRADE_TO:
            (address,) = abi_decode(["address"], data[4:])
            implementation = to_checksum_address(address)
        found.append(
            PendingUpgrade("0x" + op.hex(), implementation, "0x" + data.hex(), state, ready_at,
                           block)
        )  # fmt: skip
    return found


def _scheduled(
    rpc: RpcClient, manifest: Manifest
) -> dict[bytes, tuple[list[tuple[str, bytes]], int]]:
    """Every operation ever scheduled on the timelock: its calls in order and the block that
    scheduled it, by operation id (an operation cancelled and scheduled again: the latest)."""
    timelock = manifest.contracts[TIMELOCK]
    logs = rpc.get_logs(
        {"address": timelock.address, "topics": [_SCHEDULED],
         "fromBlock": hex(timelock.block), "toBlock": "latest"}
    )  # fmt: skip
    calls: dict[bytes, dict[int, tuple[str, bytes]]] = {}
    blocks: dict[bytes, int] = {}
    for log in logs:
        topics = log["topics"]
        assert isinstance(topics, list)
        op = bytes.fromhex(str(topics[1]).removeprefix("0x"))
        index = int(str(topics[2]), 16)
        raw = bytes.fromhex(str(log["data"]).removeprefix("0x"))
        target, _value, data, _predecessor, _delay = abi_decode(list(_SCHEDULED_DATA), raw)
        block = int(str(log["blockNumber"]), 16)
        if index == 0:  # a (re)scheduling starts at call 0
            calls[op], blocks[op] = {}, block
        calls.setdefault(op, {})[index] = (to_checksum_address(target), bytes(data))
        blocks.setdefault(op, block)
    return {op: ([c[i] for i in sorted(c)], blocks[op]) for op, c in calls.items()}


def _has_mirror(rpc: RpcClient, implementation: str) -> bool:
    """Whether `implementation` has ``mirrorPayRules``: called on the implementation itself
    (its own empty storage; an eth_call writes nothing), it reverts only if absent."""
    try:
        rpc.eth_call({"to": to_checksum_address(implementation), "data": "0x" + _MIRROR.hex()})
    except RpcError as error:
        if "revert" not in error.message.lower():
            raise
        return False
    return True


def _call(
    rpc: RpcClient, to: str, function: str, args: list[object], contract: str = TIMELOCK
) -> bytes:
    data = encode_function(function, args, contract)
    return rpc.eth_call({"to": to, "data": "0x" + data.hex()})
