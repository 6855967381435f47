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

Those re-mirrors are the only calls an upgrade batch may carry: :func:`execute_upgrade` refuses
a batch with any other call (a proposer could otherwise hide, say, ``updateDelay(0)`` behind an
upgrade auditors read as "beacon -> implementation") or one that misses a city the factory
deployed after it was scheduled; :func:`pending_upgrades` shows every call of an operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.manifest import Manifest
from chain.protocol.abi import CONTRACTS, abi_signature, load_abi
from chain.protocol.contracts import encode_function, event_data_types, event_topic, selector
from chain.protocol.errors import DongneChainError
from chain.rpc import RpcClient, RpcError
from chain.sender import Sender

__all__ = [
    "ImplementationWithoutCodeError",
    "OtherCall",
    "PendingUpgrade",
    "UnexpectedUpgradeCallError",
    "UpgradeMissesCitiesError",
    "UpgradeRefusedError",
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


class ImplementationWithoutCodeError(DongneChainError, ValueError):
    """An upgrade to an address with no code: the beacon would refuse it once the delay has
    passed, and a probe for ``mirrorPayRules`` there answers "present" (a call to an empty
    account succeeds)."""

    def __init__(self, implementation: str) -> None:
        super().__init__(f"no contract code at {implementation}: not an implementation")
        self.implementation = implementation


class UpgradeRefusedError(DongneChainError, RuntimeError):
    """:func:`execute_upgrade` will not run the scheduled operation `operation_id` (0x-hex)."""

    def __init__(self, operation_id: str, reason: str) -> None:
        super().__init__(f"refusing upgrade operation {operation_id}: {reason}")
        self.operation_id = operation_id


class UnexpectedUpgradeCallError(UpgradeRefusedError):
    """The batch carries a call that is not the ``mirrorPayRules()`` of a city token: call
    `index` (0-based) to `target`, function `selector` (0x-hex, 4 bytes)."""

    def __init__(self, operation_id: str, index: int, target: str, selector: str) -> None:
        super().__init__(
            operation_id,
            f"call {index} ({selector} on {target}) is not a city's mirrorPayRules(); an upgrade "
            "batch carries nothing else (cancel it and check who scheduled it)",
        )
        self.index = index
        self.target = target
        self.selector = selector


class UpgradeMissesCitiesError(UpgradeRefusedError):
    """The factory lists city tokens (`missing`) the batch does not re-mirror: deployed after it
    was scheduled. Their payments would trust a copy of the rules the upgrade did not rewrite."""

    def __init__(self, operation_id: str, missing: tuple[str, ...]) -> None:
        super().__init__(
            operation_id,
            f"{len(missing)} city token(s) deployed since it was scheduled are not re-mirrored "
            f"by it ({', '.join(missing)}); cancel it and schedule the upgrade again",
        )
        self.missing = missing


@dataclass(frozen=True)
class OtherCall:
    """A call of a pending operation that is neither its upgrade nor a city's re-mirror."""

    target: str
    selector: str  # 0x-hex, 4 bytes
    function: str | None  # its signature, when a committed ABI has the selector
    contract: str | None  # the manifest's name for `target`, if it is one of ours


@dataclass(frozen=True)
class PendingUpgrade:
    operation_id: str
    implementation: str | None  # None: a call to the beacon that is not an upgradeTo
    calldata: str
    state: str  # waiting (before its time) or ready (an executor may run it now)
    ready_at: int  # unix seconds
    scheduled_block: int
    calls: tuple[tuple[str, str], ...]  # every call of the operation: (target, 0x calldata)
    re_mirrors: int  # calls that are mirrorPayRules() on a city token the factory lists
    other_calls: tuple[OtherCall, ...]  # anything else besides the beacon call shown: suspect


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
    if not rpc.get_code(to_checksum_address(implementation)):
        raise ImplementationWithoutCodeError(to_checksum_address(implementation))
    calls = [(manifest.address(BEACON), upgrade_call(implementation))]
    if _has_mirror(rpc, implementation):
        calls += [(token, _MIRROR) for token in _city_tokens(rpc, manifest)]
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
    the schedule, not rebuilt, and checked: besides the upgrade, only ``mirrorPayRules()`` on
    city tokens (:class:`UnexpectedUpgradeCallError`), and, when `implementation` has that
    entry, on every city the factory lists now (:class:`UpgradeMissesCitiesError`: a city
    deployed since scheduling is not in the batch the timelock committed to). A pending batch
    that fails the check is passed over for a sound one to the same implementation; with none,
    the first refusal is raised."""
    rpc, timelock = executor.rpc, manifest.address(TIMELOCK)
    wanted = (to_checksum_address(manifest.address(BEACON)), upgrade_call(implementation))
    execute = _execute_call([wanted], salt, batched=True)  # unscheduled: the timelock says so
    refusal: UpgradeRefusedError | None = None
    cities: list[str] | None = None  # read once, on the first pending candidate
    mirrors = False
    for op, (calls, _block) in _scheduled(rpc, manifest).items():
        if calls[:1] != [wanted]:
            continue
        if op == batch_operation_id(calls, salt):
            batched = True
        elif len(calls) == 1 and op == operation_id(*calls[0], salt):
            batched = False  # from before batches
        else:
            continue
        state = int.from_bytes(_call(rpc, timelock, "getOperationState", [op]))
        if _STATES.get(state) not in ("waiting", "ready"):
            continue  # done, or cancelled: a later one may be pending
        if cities is None:
            cities, mirrors = _city_tokens(rpc, manifest), _has_mirror(rpc, implementation)
        try:
            _check_batch("0x" + op.hex(), calls, cities, mirrors=mirrors)
        except UpgradeRefusedError as error:
            refusal = refusal or error
            continue
        execute = _execute_call(calls, salt, batched=batched)
        break
    else:
        if refusal is not None:
            raise refusal
    executor.send(timelock, execute, "execute upgrade")


def _check_batch(
    op: str, calls: list[tuple[str, bytes]], cities: list[str], *, mirrors: bool
) -> None:
    """Refuses `calls` (an upgrade first) unless every later call is a city's re-mirror and,
    when the implementation has it (`mirrors`), every city in `cities` is re-mirrored."""
    known = set(cities)
    for index, (target, data) in enumerate(calls[1:], start=1):
        if data != _MIRROR or target not in known:
            raise UnexpectedUpgradeCallError(op, index, target, "0x" + data[:4].hex())
    mirrored = {target for target, _ in calls[1:]}
    missing = tuple(city for city in cities if city not in mirrored)
    if mirrors and missing:
        raise UpgradeMissesCitiesError(op, missing)


def _execute_call(calls: list[tuple[str, bytes]], salt: bytes, *, batched: bool) -> bytes:
    if not batched:
        target, data = calls[0]
        return encode_function("execute", [target, 0, data, bytes(32), salt], TIMELOCK)
    args: list[object] = [[t for t, _ in calls], [0] * len(calls), [d for _, d in calls],
                          bytes(32), salt]  # fmt: skip
    return encode_function("executeBatch", args, TIMELOCK)


def pending_upgrades(rpc: RpcClient, manifest: Manifest) -> list[PendingUpgrade]:
    """Every operation on the timelock that calls the beacon (an upgrade, in a batch or alone)
    and is neither done nor cancelled: one entry per operation, for its first beacon call, with
    all its calls, how many re-mirror a city, and every other call (which an upgrade does not
    make: :func:`execute_upgrade` refuses it, but an executor could run it by hand)."""
    timelock = manifest.address(TIMELOCK)
    beacon = manifest.address(BEACON).lower()
    cities: set[str] | None = None
    found: list[PendingUpgrade] = []
    for op, (calls, block) in _scheduled(rpc, manifest).items():
        first = next((i for i, (target, _) in enumerate(calls) if target.lower() == beacon), None)
        if first is None:
            continue
        state = _STATES.get(int.from_bytes(_call(rpc, timelock, "getOperationState", [op])), "?")
        if state not in ("waiting", "ready"):
            continue  # done, or cancelled (a cancelled operation is unset again)
        if cities is None:
            cities = set(_city_tokens(rpc, manifest))
        ready_at = int.from_bytes(_call(rpc, timelock, "getTimestamp", [op]))
        data = calls[first][1]
        implementation = None
        if data[:4] == _UPGRADE_TO:
            (address,) = abi_decode(["address"], data[4:])
            implementation = to_checksum_address(address)
        rest = calls[:first] + calls[first + 1 :]
        re_mirrors = sum(1 for t, d in rest if d == _MIRROR and t in cities)
        others = tuple(
            _other_call(manifest, t, d) for t, d in rest if not (d == _MIRROR and t in cities)
        )
        found.append(
            PendingUpgrade("0x" + op.hex(), implementation, "0x" + data.hex(), state, ready_at,
                           block, tuple((t, "0x" + d.hex()) for t, d in calls), re_mirrors,
                           others)
        )  # fmt: skip
    return found


def _other_call(manifest: Manifest, target: str, data: bytes) -> OtherCall:
    names: dict[str, str] = {
        to_checksum_address(c.address): name for name, c in manifest.contracts.items()
    }
    return OtherCall(target, "0x" + data[:4].hex(), _signatures().get(data[:4]), names.get(target))


@cache
def _signatures() -> dict[bytes, str]:
    """Selector -> function signature, over every committed ABI."""
    found: dict[bytes, str] = {}
    for contract in CONTRACTS:
        for entry in load_abi(contract):
            if entry["type"] == "function":
                signature = abi_signature(entry)
                found.setdefault(keccak(text=signature)[:4], signature)
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


def _city_tokens(rpc: RpcClient, manifest: Manifest) -> list[str]:
    """Every city token the factory has deployed, checksummed."""
    (tokens,) = abi_decode(["address[]"], _call(rpc, manifest.factory, "tokens", [], FACTORY))
    return [to_checksum_address(token) for token in tokens]


def _has_mirror(rpc: RpcClient, implementation: str) -> bool:
    """Whether `implementation` has ``mirrorPayRules``: called on the implementation itself
    (its own empty storage; an eth_call writes nothing), it reverts only if absent. An address
    without code has nothing, though a call to it succeeds: checked first."""
    if not rpc.get_code(to_checksum_address(implementation)):
        return False
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
