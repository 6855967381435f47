"""Upgrades of every city's token, through the timelock that owns the beacon.

An upgrade is ``UpgradeableBeacon.upgradeTo(implementation)`` run by ``DongneTimelock``: a
proposer schedules it (``CallScheduled``, public on chain), it waits the timelock's delay, then
an executor runs it; a canceller can stop it meanwhile. :func:`pending_operations` is what
auditors read (``dongne audit upgrades``): every operation on the timelock not yet done or
cancelled, upgrade or not, each call decoded, with when it may run and why it is not a
well-formed upgrade (the timelock also administers itself: a proposer can schedule
``updateDelay(0)`` or ``grantRole`` alone, with no upgrade in sight).

An upgrade is scheduled as one batch: the beacon's ``upgradeTo``, then ``mirrorPayRules`` on
every city token the factory knows. Payments trust a copy of the rules and the pause flag
(VoucherBase ``PayRules``) that only this code version writes; an implementation without it (a
rollback) may have paused or changed the rules meanwhile, so the copy is rewritten in the same
transaction as the upgrade, before any payment can run under it.

Those re-mirrors are the only calls an upgrade batch may carry: :func:`execute_upgrade` refuses
a batch with any other call (a proposer could otherwise hide, say, ``updateDelay(0)`` behind an
upgrade auditors read as "beacon -> implementation") or one that misses a city the factory
deployed after it was scheduled; :func:`pending_operations` flags either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.manifest import Manifest
from chain.protocol.contracts import encode_function, selector
from chain.protocol.errors import DongneChainError
from chain.rpc import RpcClient, RpcError
from chain.sender import Sender
from chain.timelock import (
    DecodedCall,
    ScheduledOperation,
    decode_call,
    pending_schedule,
    roles_of,
    takes_role,
)

__all__ = [
    "ImplementationWithoutCodeError",
    "PendingOperation",
    "UnexpectedUpgradeCallError",
    "UpgradeMissesCitiesError",
    "UpgradeRefusedError",
    "batch_operation_id",
    "execute_upgrade",
    "operation_id",
    "pending_operations",
    "schedule_upgrade",
    "upgrade_batch",
    "upgrade_call",
]

TIMELOCK = "DongneTimelock"
BEACON = "UpgradeableBeacon"
FACTORY = "VoucherFactory"
_MIRROR = encode_function("mirrorPayRules", [])
_UPGRADE_TO = selector("upgradeTo", BEACON)
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
class PendingOperation:
    """An operation pending on the timelock, whatever it calls."""

    operation_id: str
    state: str  # waiting (before its time) or ready (an executor may run it now)
    ready_at: int  # unix seconds
    scheduled_block: int
    delay: int  # seconds, as scheduled
    predecessor: str | None  # 0x-hex: the operation that must be done before this one runs
    calls: tuple[DecodedCall, ...]  # every call, in order
    implementation: str | None  # what call 0 installs, when it is the beacon's upgradeTo
    re_mirrors: int  # calls that are mirrorPayRules() on a city token the factory lists
    other_calls: tuple[DecodedCall, ...]  # neither that upgrade nor a city's re-mirror
    problems: tuple[str, ...]  # why it is not a well-formed upgrade batch (empty: it is one)

    @property
    def is_upgrade(self) -> bool:
        return not self.problems


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
    mirrors = _has_mirror(rpc, implementation)  # refuses an address without code
    calls = [(manifest.address(BEACON), upgrade_call(implementation))]
    if mirrors:
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
    the first refusal is raised. An `implementation` without code is refused
    (:class:`ImplementationWithoutCodeError`) when one is pending: the beacon would revert."""
    rpc, timelock = executor.rpc, manifest.address(TIMELOCK)
    wanted = (to_checksum_address(manifest.address(BEACON)), upgrade_call(implementation))
    candidates = [
        (op, calls, batched)
        for op, calls, batched in _with_salt(pending_schedule(rpc, manifest), salt)
        if calls[:1] == [wanted]
    ]
    if not candidates:  # unscheduled (or done, or cancelled): the timelock says so
        executor.send(timelock, _execute_call([wanted], salt, batched=True), "execute upgrade")
        return
    cities, mirrors = _city_tokens(rpc, manifest), _has_mirror(rpc, implementation)
    refusals: list[UpgradeRefusedError] = []
    for op, calls, batched in candidates:
        try:
            _check_batch("0x" + op.hex(), calls, cities, mirrors=mirrors)
        except UpgradeRefusedError as error:
            refusals.append(error)
            continue
        executor.send(timelock, _execute_call(calls, salt, batched=batched), "execute upgrade")
        return
    raise refusals[0]


def _with_salt(
    pending: list[ScheduledOperation], salt: bytes
) -> list[tuple[bytes, list[tuple[str, bytes]], bool]]:
    """The pending operations this tooling could have scheduled with `salt` (no value, no
    predecessor: the id says so): id, calls, and whether it is a batch (else one ``schedule``
    from before batches)."""
    found = []
    for op in pending:
        calls = [(target, data) for target, _value, data in op.calls]
        if op.id == batch_operation_id(calls, salt):
            found.append((op.id, calls, True))
        elif len(calls) == 1 and op.id == operation_id(*calls[0], salt):
            found.append((op.id, calls, False))
    return found


def _check_batch(
    op: str, calls: list[tuple[str, bytes]], cities: list[str], *, mirrors: bool
) -> None:
    """Refuses `calls` (an upgrade first) unless every later call is a city's re-mirror and,
    when the implementation has it (`mirrors`), every city in `cities` is re-mirrored."""
    for index in _stray_calls(calls, cities):
        target, data = calls[index]
        raise UnexpectedUpgradeCallError(op, index, target, "0x" + data[:4].hex())
    missing = _missed_cities(calls, cities, mirrors=mirrors)
    if missing:
        raise UpgradeMissesCitiesError(op, missing)


def _stray_calls(calls: list[tuple[str, bytes]], cities: list[str]) -> list[int]:
    """The indexes of the calls after the upgrade that are not a city's re-mirror."""
    known = set(cities)
    return [i for i, (t, d) in enumerate(calls[1:], start=1) if d != _MIRROR or t not in known]


def _missed_cities(
    calls: list[tuple[str, bytes]], cities: list[str], *, mirrors: bool
) -> tuple[str, ...]:
    """The cities an upgrade to an implementation with the re-mirror (`mirrors`) leaves out."""
    mirrored = {target for target, _ in calls[1:]}
    return tuple(city for city in cities if city not in mirrored) if mirrors else ()


def _execute_call(calls: list[tuple[str, bytes]], salt: bytes, *, batched: bool) -> bytes:
    if not batched:
        target, data = calls[0]
        return encode_function("execute", [target, 0, data, bytes(32), salt], TIMELOCK)
    args: list[object] = [[t for t, _ in calls], [0] * len(calls), [d for _, d in calls],
                          bytes(32), salt]  # fmt: skip
    return encode_function("executeBatch", args, TIMELOCK)


def pending_operations(rpc: RpcClient, manifest: Manifest) -> list[PendingOperation]:
    """Every operation on the timelock neither executed nor cancelled, whatever it calls, each
    call decoded, with its ready time and why it is not a well-formed upgrade batch: the
    beacon's ``upgradeTo`` first, then only cities' re-mirrors (all of them, when the
    implementation has the entry), no value, no predecessor - what :func:`schedule_upgrade`
    makes. Anything else (``updateDelay(0)``, ``grantRole``, a call hidden in an upgrade) is
    what a proposer key, or a leaked one, could slip past an auditor who read upgrades only."""
    timelock = manifest.address(TIMELOCK)
    scheduled = pending_schedule(rpc, manifest)
    if not scheduled:
        return []
    beacon = to_checksum_address(manifest.address(BEACON))
    cities = _city_tokens(rpc, manifest)
    names = _names(manifest, cities)
    # Read once per run: an implementation's entry, a target's role names (for grantRole...).
    mirror_of = cache(lambda implementation: _mirror_or_none(rpc, implementation))
    abi_of = {**names, **dict.fromkeys(cities, "VoucherToken")}  # names a city by its city
    role_names = cache(lambda target: roles_of(rpc, target, abi_of[target]))
    found: list[PendingOperation] = []
    for op in scheduled:
        state = _STATES.get(int.from_bytes(_call(rpc, timelock, "getOperationState", [op.id])))
        if state not in ("waiting", "ready"):
            continue  # the chain disagrees with the events read: it is the truth
        ready_at = int.from_bytes(_call(rpc, timelock, "getTimestamp", [op.id]))
        decoded = tuple(
            decode_call(t, value, data, names,
                        role_names(t) if takes_role(data) and t in abi_of else {})
            for t, value, data in op.calls
        )  # fmt: skip
        implementation, stray, problems = _against_upgrade(op, decoded, beacon, cities, mirror_of)
        found.append(
            PendingOperation("0x" + op.id.hex(), state, ready_at, op.block, op.delay,
                             None if op.predecessor == bytes(32) else "0x" + op.predecessor.hex(),
                             decoded, implementation,
                             len(op.calls) - 1 - len(stray) if implementation else 0,
                             tuple(decoded[i] for i in stray), tuple(problems))
        )  # fmt: skip
    return found


def _against_upgrade(
    op: ScheduledOperation,
    decoded: tuple[DecodedCall, ...],
    beacon: str,
    cities: list[str],
    mirror_of: Callable[[str], bool | None],
) -> tuple[str | None, list[int], list[str]]:
    """`op` read as an upgrade batch: the implementation its first call installs (None: not an
    upgrade), the indexes of its calls that are neither that upgrade nor a city's re-mirror,
    and every way it differs from what :func:`schedule_upgrade` makes. `mirror_of`:
    :func:`_has_mirror` of an implementation, None for one without code."""
    calls = [(target, data) for target, _, data in op.calls]
    problems: list[str] = []
    implementation: str | None = None
    if calls[0][0] != beacon or calls[0][1][:4] != _UPGRADE_TO:
        stray = list(range(len(calls)))
        problems += [f"not an upgrade: it calls {decoded[i].describe()}" for i in stray]
    else:
        (address,) = abi_decode(["address"], calls[0][1][4:])
        implementation = to_checksum_address(address)
        mirrors = mirror_of(implementation)
        if mirrors is None:
            problems.append(f"no contract code at {implementation}: the beacon will refuse it")
        stray = _stray_calls(calls, cities)
        problems += [f"it also calls {decoded[i].describe()}: not part of an upgrade"
                     for i in stray]  # fmt: skip
        missing = _missed_cities(calls, cities, mirrors=bool(mirrors))
        if missing:
            problems.append(f"it misses city token(s) {', '.join(missing)}, deployed since: "
                            "cancel it and schedule the upgrade again")  # fmt: skip
    if any(value for _, value, _ in op.calls):
        problems.append("it sends value: an upgrade sends none")
    if op.predecessor != bytes(32):
        problems.append(f"it runs only after operation 0x{op.predecessor.hex()}: an upgrade "
                        "waits for none")  # fmt: skip
    return implementation, stray, problems


def _names(manifest: Manifest, cities: list[str]) -> dict[str, str]:
    """Our name for each address a call may target: manifest contracts and city tokens."""
    names: dict[str, str] = {
        to_checksum_address(c.address): name for name, c in manifest.contracts.items()
    }
    by_token: dict[str, str] = {
        to_checksum_address(m.token): m.name for m in manifest.municipalities.values()
    }
    for city in cities:
        names[city] = f"VoucherToken ({by_token[city]})" if city in by_token else "VoucherToken"
    return names


def _city_tokens(rpc: RpcClient, manifest: Manifest) -> list[str]:
    """Every city token the factory has deployed, checksummed."""
    (tokens,) = abi_decode(["address[]"], _call(rpc, manifest.factory, "tokens", [], FACTORY))
    return [to_checksum_address(token) for token in tokens]


def _has_mirror(rpc: RpcClient, implementation: str) -> bool:
    """Whether `implementation` has ``mirrorPayRules``: called on the implementation itself
    (its own empty storage; an eth_call writes nothing), it reverts only if absent. An address
    without code has nothing, though a call to it succeeds: refused
    (:class:`ImplementationWithoutCodeError`), asked once here for every caller."""
    implementation = to_checksum_address(implementation)
    if not rpc.get_code(implementation):
        raise ImplementationWithoutCodeError(implementation)
    try:
        rpc.eth_call({"to": implementation, "data": "0x" + _MIRROR.hex()})
    except RpcError as error:
        if "revert" not in error.message.lower():
            raise
        return False
    return True


def _mirror_or_none(rpc: RpcClient, implementation: str) -> bool | None:
    """:func:`_has_mirror`, None for an address without code (the audit reports it)."""
    try:
        return _has_mirror(rpc, implementation)
    except ImplementationWithoutCodeError:
        return None


def _call(
    rpc: RpcClient, to: str, function: str, args: list[object], contract: str = TIMELOCK
) -> bytes:
    data = encode_function(function, args, contract)
    return rpc.eth_call({"to": to, "data": "0x" + data.hex()})
