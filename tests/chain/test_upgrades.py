"""Issue 12, item 14 replayed on anvil: the beacon owner was one key with no delay, able to
upgrade every city's token at once. Now the timelock owns it: the operator's key alone cannot
upgrade, a scheduled upgrade shows as pending to auditors, and it runs only after the delay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest
from web3 import Web3

from chain.artifacts import forge_build
from chain.deploy import LOCAL_UPGRADE_DELAY, Deployer, deploy_municipality
from chain.protocol.calls import encode_issue
from chain.protocol.contracts import encode_function
from chain.protocol.errors import decode_revert
from chain.rpc import RpcClient, RpcError
from chain.sender import TransactionFailed
from chain.upgrades import (
    ImplementationWithoutCodeError,
    UnexpectedUpgradeCallError,
    UpgradeMissesCitiesError,
    execute_upgrade,
    operation_id,
    pending_operations,
    schedule_upgrade,
    upgrade_batch,
    upgrade_call,
)
from gateway.devnet.localnet import SEONGNAM, SIHEUNG, LocalNetwork, start_local_network


def _implementation(rpc: object, beacon: str) -> str:
    data = encode_function("implementation", [], "UpgradeableBeacon")
    raw = rpc.eth_call({"to": beacon, "data": "0x" + data.hex()})  # type: ignore[attr-defined]
    return Web3.to_checksum_address(raw[-20:])


def test_an_upgrade_waits_in_the_timelock_and_auditors_see_it(tmp_path: Path) -> None:
    net = start_local_network(tmp_path / "net", (SIHEUNG,))
    try:
        op, m, rpc = net.operator, net.manifest, net.operator.rpc
        beacon, token = m.address("UpgradeableBeacon"), m.token(SIHEUNG.region)
        citizen = "0x" + "ab" * 20
        op.register(m.registry, [citizen], "citizen")
        op.send(token, encode_issue(citizen, 50_000, 45_000), "issue")
        # A second implementation, as an upgrade would bring.
        w3 = Web3(Web3.HTTPProvider(net.rpc_url))
        v2 = Deployer(w3, op.account).deploy(
            "VoucherToken", [m.forwarder, m.registry, m.address("VoucherAdmin")]
        )

        # The replayed attack: the operator's key upgrades the beacon directly.
        with pytest.raises(TransactionFailed) as refused:
            op.send(beacon, upgrade_call(v2.address), "upgradeTo")
        assert refused.value.revert is not None
        assert refused.value.revert.name == "OwnableUnauthorizedAccount"

        op_id = schedule_upgrade(op, m, v2.address)
        [pending] = pending_operations(rpc, m)
        assert pending.operation_id == "0x" + op_id.hex()
        assert (pending.implementation, pending.state) == (v2.address, "waiting")
        assert pending.is_upgrade
        assert pending.re_mirrors == 1
        shown = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "audit", "upgrades", "--rpc", net.rpc_url,
             "--manifest", str(net.manifest_path), "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["pending"][0]["implementation"] == v2.address

        with pytest.raises(TransactionFailed) as early:
            execute_upgrade(op, m, v2.address)
        assert early.value.revert is not None
        assert early.value.revert.name == "TimelockUnexpectedOperationState"
        assert _implementation(rpc, beacon) == m.address("VoucherToken")

        rpc.call("evm_increaseTime", [LOCAL_UPGRADE_DELAY + 1])
        assert net.node is not None
        net.node.mine()
        assert pending_operations(rpc, m)[0].state == "ready"
        execute_upgrade(op, m, v2.address)
        assert _implementation(rpc, beacon) == v2.address
        assert pending_operations(rpc, m) == []
        balance = encode_function("balanceOf", [citizen])
        raw = rpc.eth_call({"to": token, "data": "0x" + balance.hex()})
        assert int.from_bytes(raw) == 50_000  # the city's money survived the upgrade
    finally:
        if net.node is not None:
            net.node.stop()


def _pay_refusal(rpc: RpcClient, token: str) -> str:
    """The custom error a payment in `token` reverts with, from the first check it fails."""
    data = encode_function("pay", ["0x" + "cd" * 20, 1000, bytes(32), []])
    try:
        rpc.eth_call({"from": "0x" + "ab" * 20, "to": token, "data": "0x" + data.hex()})
    except RpcError as error:
        return decode_revert(str(error.data)).name
    return "none"


def _run(net: LocalNetwork, implementation: str) -> list[tuple[str, bytes]]:
    """Schedules the upgrade through chain.upgrades, waits out the delay and executes it;
    answers the batch it scheduled (as the timelock hashed it)."""
    op, m, rpc = net.operator, net.manifest, net.operator.rpc
    calls = upgrade_batch(rpc, m, implementation)
    op_id = schedule_upgrade(op, m, implementation)
    hashed = encode_function(
        "hashOperationBatch",
        [[t for t, _ in calls], [0] * len(calls), [d for _, d in calls], bytes(32), bytes(32)],
        "DongneTimelock",
    )
    assert rpc.eth_call({"to": m.address("DongneTimelock"), "data": "0x" + hashed.hex()}) == op_id
    rpc.call("evm_increaseTime", [LOCAL_UPGRADE_DELAY + 1])
    assert net.node is not None
    net.node.mine()
    execute_upgrade(op, m, implementation)
    assert _implementation(rpc, m.address("UpgradeableBeacon")) == implementation
    return calls


def test_an_upgrade_re_mirrors_every_city_after_a_rollback_paused_them(tmp_path: Path) -> None:
    """Review finding replayed: a rollback to an implementation without the payments' copy of
    the pause flag pauses every city; the upgrade back (to the very same implementation)
    must not let payments trust the copy written before the rollback."""
    forge_build(paths=["contracts/test/utils/VoucherWithoutPayRules.sol"])
    net = start_local_network(tmp_path / "net", (SIHEUNG, SEONGNAM))
    try:
        op, m, rpc = net.operator, net.manifest, net.operator.rpc
        beacon, current = m.address("UpgradeableBeacon"), m.address("VoucherToken")
        tokens = [m.token(SIHEUNG.region), m.token(SEONGNAM.region)]
        for token in tokens:
            op.send(token, encode_function("setPaused", [False]), "setPaused")  # writes the copy
            assert _pay_refusal(rpc, token) == "VoucherUnregistered"  # past the pause check
        w3 = Web3(Web3.HTTPProvider(net.rpc_url))
        old = Deployer(w3, op.account).deploy("VoucherWithoutPayRules", [m.forwarder, m.registry])

        # Back to the old implementation: it has no re-mirror, so the batch is the upgrade alone.
        assert [t for t, _ in _run(net, old.address)] == [beacon]
        for token in tokens:
            op.send(token, encode_function("setPaused", [True]), "setPaused under the old one")

        calls = _run(net, current)
        assert [t for t, _ in calls] == [beacon, *tokens]
        mirror = encode_function("mirrorPayRules", [])
        assert [d for _, d in calls[1:]] == [mirror, mirror]
        for token in tokens:
            assert _pay_refusal(rpc, token) == "VoucherPaused"
    finally:
        if net.node is not None:
            net.node.stop()


def _wait_out_the_delay(net: LocalNetwork) -> None:
    net.operator.rpc.call("evm_increaseTime", [LOCAL_UPGRADE_DELAY + 1])
    assert net.node is not None
    net.node.mine()


def _min_delay(rpc: RpcClient, timelock: str) -> int:
    data = encode_function("getMinDelay", [], "DongneTimelock")
    return int.from_bytes(rpc.eth_call({"to": timelock, "data": "0x" + data.hex()}))


def test_execute_refuses_a_batch_hiding_another_call_and_the_audit_flags_it(
    tmp_path: Path,
) -> None:
    """Review finding replayed: a proposer schedules an upgrade batch that also sets the
    timelock's delay to zero. execute_upgrade ran it (its first call is the upgrade and its hash
    matched) while the audit showed only "beacon -> implementation"."""
    net = start_local_network(tmp_path / "net", (SIHEUNG,))
    try:
        op, m, rpc = net.operator, net.manifest, net.operator.rpc
        beacon, timelock = m.address("UpgradeableBeacon"), m.address("DongneTimelock")
        token = m.token(SIHEUNG.region)
        w3 = Web3(Web3.HTTPProvider(net.rpc_url))
        v2 = Deployer(w3, op.account).deploy(
            "VoucherToken", [m.forwarder, m.registry, m.address("VoucherAdmin")]
        )
        hidden = encode_function("updateDelay", [0], "DongneTimelock")
        calls = [
            (beacon, upgrade_call(v2.address)),
            (token, encode_function("mirrorPayRules", [])),
            (timelock, hidden),
        ]
        schedule = encode_function(
            "scheduleBatch",
            [[t for t, _ in calls], [0, 0, 0], [d for _, d in calls], bytes(32), bytes(32),
             LOCAL_UPGRADE_DELAY],
            "DongneTimelock",
        )  # fmt: skip
        op.send(timelock, schedule, "schedule a batch with a hidden call")

        [pending] = pending_operations(rpc, m)
        assert pending.implementation == v2.address
        assert tuple((c.target, c.data) for c in pending.calls) == tuple(
            (t, "0x" + d.hex()) for t, d in calls
        )
        assert pending.re_mirrors == 1
        [other] = pending.other_calls
        assert (other.target, other.contract) == (timelock, "DongneTimelock")
        assert (other.selector, other.function) == ("0x" + hidden[:4].hex(), "updateDelay(uint256)")
        audit = [sys.executable, "-m", "gateway.cli", "audit", "upgrades", "--rpc", net.rpc_url,
                 "--manifest", str(net.manifest_path)]  # fmt: skip
        shown = subprocess.run(audit, capture_output=True, text=True, timeout=120)
        assert shown.returncode == 1, shown.stderr
        text = " ".join(shown.stdout.split())
        assert f"beacon -> {v2.address} +1 city re-mirrors" in text
        assert (
            f"WARNING: it also calls DongneTimelock {timelock} updateDelay(0): not part of an "
            "upgrade" in text
        )
        as_json = subprocess.run([*audit, "--json"], capture_output=True, text=True, timeout=120)
        assert as_json.returncode == 1, as_json.stderr
        report = json.loads(as_json.stdout)
        assert report["ok"] is False
        assert report["pending"][0]["other_calls"][0]["function"] == "updateDelay(uint256)"

        _wait_out_the_delay(net)
        with pytest.raises(UnexpectedUpgradeCallError) as refused:
            execute_upgrade(op, m, v2.address)
        assert (refused.value.index, refused.value.target) == (2, timelock)
        assert _implementation(rpc, beacon) == m.address("VoucherToken")
        assert _min_delay(rpc, timelock) == LOCAL_UPGRADE_DELAY
    finally:
        if net.node is not None:
            net.node.stop()


def test_execute_refuses_a_batch_that_misses_a_city_deployed_since(tmp_path: Path) -> None:
    """Review finding replayed: a city deployed after the upgrade was scheduled is not in the
    batch, so the upgrade would leave its payments' copy of the rules un-rewritten."""
    net = start_local_network(tmp_path / "net", (SIHEUNG,))
    try:
        op, m, rpc = net.operator, net.manifest, net.operator.rpc
        beacon = m.address("UpgradeableBeacon")
        w3 = Web3(Web3.HTTPProvider(net.rpc_url))
        v2 = Deployer(w3, op.account).deploy(
            "VoucherToken", [m.forwarder, m.registry, m.address("VoucherAdmin")]
        )
        schedule_upgrade(op, m, v2.address)
        seongnam = deploy_municipality(
            w3, op.account, m, region=SEONGNAM.region, name=SEONGNAM.name,
            symbol=SEONGNAM.symbol, admin=op.account.address, rules=SEONGNAM.rules.as_tuple(),
        ).token  # fmt: skip
        _wait_out_the_delay(net)
        with pytest.raises(UpgradeMissesCitiesError, match="schedule the upgrade again") as missed:
            execute_upgrade(op, m, v2.address)
        assert missed.value.missing == (seongnam,)
        assert _implementation(rpc, beacon) == m.address("VoucherToken")

        # Rescheduled, the new batch covers both cities; the stale one is passed over.
        schedule_upgrade(op, m, v2.address, salt=b"\x01" * 32)
        _wait_out_the_delay(net)
        execute_upgrade(op, m, v2.address, salt=b"\x01" * 32)
        assert _implementation(rpc, beacon) == v2.address
    finally:
        if net.node is not None:
            net.node.stop()


def test_an_upgrade_to_an_address_without_code_is_refused(tmp_path: Path) -> None:
    """Review finding replayed: the probe for mirrorPayRules answered "present" for an address
    with no code (an eth_call to an empty account succeeds), and the upgrade was scheduled."""
    net = start_local_network(tmp_path / "net", (SIHEUNG,))
    try:
        op, m, rpc = net.operator, net.manifest, net.operator.rpc
        empty = Web3.to_checksum_address("0x" + "12" * 20)
        with pytest.raises(ImplementationWithoutCodeError) as refused:
            schedule_upgrade(op, m, empty)
        assert refused.value.implementation == empty
        assert pending_operations(rpc, m) == []

        # Scheduled by hand, the audit flags it and execute_upgrade refuses it before sending.
        beacon, timelock = m.address("UpgradeableBeacon"), m.address("DongneTimelock")
        args = [beacon, 0, upgrade_call(empty), bytes(32), bytes(32), LOCAL_UPGRADE_DELAY]
        op.send(timelock, encode_function("schedule", args, "DongneTimelock"), "schedule")
        [pending] = pending_operations(rpc, m)
        assert pending.implementation == empty
        assert pending.problems == (f"no contract code at {empty}: the beacon will refuse it",)
        _wait_out_the_delay(net)
        with pytest.raises(ImplementationWithoutCodeError):
            execute_upgrade(op, m, empty)
    finally:
        if net.node is not None:
            net.node.stop()


def test_an_upgrade_scheduled_as_one_call_before_batches(tmp_path: Path) -> None:
    """A network may hold an upgrade the previous tooling scheduled with ``schedule`` (no
    batch, no re-mirror): execute_upgrade finds it in the schedule. To an implementation
    without the payments' copy it runs as it was; to one with it, it is refused (nothing would
    rewrite the cities' copies) and must be scheduled again."""
    forge_build(paths=["contracts/test/utils/VoucherWithoutPayRules.sol"])
    net = start_local_network(tmp_path / "net", (SIHEUNG,))
    try:
        op, m, rpc = net.operator, net.manifest, net.operator.rpc
        beacon, timelock = m.address("UpgradeableBeacon"), m.address("DongneTimelock")
        w3 = Web3(Web3.HTTPProvider(net.rpc_url))
        deployer = Deployer(w3, op.account)
        old = deployer.deploy("VoucherWithoutPayRules", [m.forwarder, m.registry])
        v2 = deployer.deploy("VoucherToken", [m.forwarder, m.registry, m.address("VoucherAdmin")])
        for implementation in (old.address, v2.address):
            args = [beacon, 0, upgrade_call(implementation), bytes(32), bytes(32),
                    LOCAL_UPGRADE_DELAY]  # fmt: skip
            op.send(timelock, encode_function("schedule", args, "DongneTimelock"), "schedule")
        pending = {p.implementation: p.state for p in pending_operations(rpc, m)}
        assert pending == {old.address: "waiting", v2.address: "waiting"}
        _wait_out_the_delay(net)
        execute_upgrade(op, m, old.address)
        assert _implementation(rpc, beacon) == old.address
        with pytest.raises(UpgradeMissesCitiesError, match="schedule the upgrade again"):
            execute_upgrade(op, m, v2.address)
        assert _implementation(rpc, beacon) == old.address
    finally:
        if net.node is not None:
            net.node.stop()


def _audit(net: LocalNetwork) -> tuple[int, str, dict[str, object]]:
    """`dongne audit upgrades`, as text and as JSON: exit code, text (one line per space run),
    report."""
    audit = [sys.executable, "-m", "gateway.cli", "audit", "upgrades", "--rpc", net.rpc_url,
             "--manifest", str(net.manifest_path)]  # fmt: skip
    text = subprocess.run(audit, capture_output=True, text=True, timeout=120)
    as_json = subprocess.run([*audit, "--json"], capture_output=True, text=True, timeout=120)
    assert text.returncode == as_json.returncode, (text.stderr, as_json.stderr)
    return text.returncode, " ".join(text.stdout.split()), json.loads(as_json.stdout)


def test_the_audit_shows_every_pending_timelock_operation_not_only_upgrades(
    tmp_path: Path,
) -> None:
    """Review finding replayed: a proposer key (or a leaked one) schedules updateDelay(0) or
    grantRole alone, with no upgradeTo; the audit, which listed calls to the beacon only,
    showed nothing and exited 0."""
    net = start_local_network(tmp_path / "net", (SIHEUNG,))
    try:
        op, m, rpc = net.operator, net.manifest, net.operator.rpc
        timelock = m.address("DongneTimelock")
        attacker = Web3.to_checksum_address("0x" + "ee" * 20)
        role = encode_function("PROPOSER_ROLE", [], "DongneTimelock")
        proposer_role = rpc.eth_call({"to": timelock, "data": "0x" + role.hex()})
        zero_delay = encode_function("updateDelay", [0], "DongneTimelock")
        grant = encode_function("grantRole", [proposer_role, attacker], "DongneTimelock")

        def schedule(data: bytes) -> bytes:
            args = [timelock, 0, data, bytes(32), bytes(32), LOCAL_UPGRADE_DELAY]
            op.send(timelock, encode_function("schedule", args, "DongneTimelock"), "schedule")
            return operation_id(timelock, data)

        def cancel(op_id: bytes) -> None:
            op.send(timelock, encode_function("cancel", [op_id], "DongneTimelock"), "cancel")

        delay_op, grant_op = schedule(zero_delay), schedule(grant)
        pending = pending_operations(rpc, m)
        assert [p.operation_id for p in pending] == ["0x" + delay_op.hex(), "0x" + grant_op.hex()]
        assert not any(p.is_upgrade for p in pending)
        assert [c.args for p in pending for c in p.calls] == [
            ("0",),
            (f"0x{proposer_role.hex()} (PROPOSER_ROLE)", attacker),
        ]
        code, text, report = _audit(net)
        assert code == 1
        assert report["ok"] is False
        assert f"WARNING: not an upgrade: it calls DongneTimelock {timelock} updateDelay(0)" in text
        assert (
            f"WARNING: not an upgrade: it calls DongneTimelock {timelock} "
            f"grantRole(0x{proposer_role.hex()} (PROPOSER_ROLE), {attacker})" in text
        )
        shown = cast(list[dict[str, object]], report["pending"])
        assert [(p["is_upgrade"], p["implementation"]) for p in shown] == [(False, None)] * 2

        # Cancelled and scheduled again: listed once, with its one call; cancelled: gone.
        cancel(delay_op)
        assert [p.operation_id for p in pending_operations(rpc, m)] == ["0x" + grant_op.hex()]
        schedule(zero_delay)
        again = {p.operation_id: len(p.calls) for p in pending_operations(rpc, m)}
        assert again == {"0x" + grant_op.hex(): 1, "0x" + delay_op.hex(): 1}
        cancel(delay_op)
        # Executed: gone too (the test's own attacker becomes a proposer; nothing else runs).
        _wait_out_the_delay(net)
        execute = encode_function("execute", [timelock, 0, grant, bytes(32), bytes(32)],
                                  "DongneTimelock")  # fmt: skip
        op.send(timelock, execute, "execute grantRole")
        assert pending_operations(rpc, m) == []
        assert _audit(net)[:2] == (0, "nothing is pending in the timelock")

        # A well-formed upgrade alone passes the audit.
        w3 = Web3(Web3.HTTPProvider(net.rpc_url))
        v2 = Deployer(w3, op.account).deploy(
            "VoucherToken", [m.forwarder, m.registry, m.address("VoucherAdmin")]
        )
        schedule_upgrade(op, m, v2.address)
        code, text, report = _audit(net)
        assert code == 0, text
        assert report["ok"] is True
        assert f"waiting: beacon -> {v2.address} +1 city re-mirrors" in text
        assert "WARNING" not in text

        # One with a predecessor (our tooling never sets one) does not.
        batch = upgrade_batch(rpc, m, v2.address)
        args = [[t for t, _ in batch], [0] * len(batch), [d for _, d in batch], grant_op,
                b"\x02" * 32, LOCAL_UPGRADE_DELAY]  # fmt: skip
        op.send(timelock, encode_function("scheduleBatch", args, "DongneTimelock"), "schedule")
        code, text, _ = _audit(net)
        assert code == 1
        assert f"WARNING: it runs only after operation 0x{grant_op.hex()}" in text
    finally:
        if net.node is not None:
            net.node.stop()
