"""Issue 12, item 14 replayed on anvil: the beacon owner was one key with no delay, able to
upgrade every city's token at once. Now the timelock owns it: the operator's key alone cannot
upgrade, a scheduled upgrade shows as pending to auditors, and it runs only after the delay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from web3 import Web3

from chain.artifacts import forge_build
from chain.deploy import LOCAL_UPGRADE_DELAY, Deployer
from chain.protocol.calls import encode_issue
from chain.protocol.contracts import encode_function
from chain.protocol.errors import decode_revert
from chain.rpc import RpcClient, RpcError
from chain.sender import TransactionFailed
from chain.upgrades import (
    execute_upgrade,
    pending_upgrades,
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
        [pending] = pending_upgrades(rpc, m)
        assert pending.operation_id == "0x" + op_id.hex()
        assert (pending.implementation, pending.state) == (v2.address, "waiting")
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
        assert pending_upgrades(rpc, m)[0].state == "ready"
        execute_upgrade(op, m, v2.address)
        assert _implementation(rpc, beacon) == v2.address
        assert pending_upgrades(rpc, m) == []
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


def test_an_upgrade_scheduled_as_one_call_before_batches_still_executes(tmp_path: Path) -> None:
    """A network may hold an upgrade the previous tooling scheduled with ``schedule`` (no
    batch, no re-mirror): execute_upgrade finds it in the schedule and runs it as it was."""
    net = start_local_network(tmp_path / "net", (SIHEUNG,))
    try:
        op, m, rpc = net.operator, net.manifest, net.operator.rpc
        beacon, timelock = m.address("UpgradeableBeacon"), m.address("DongneTimelock")
        w3 = Web3(Web3.HTTPProvider(net.rpc_url))
        v2 = Deployer(w3, op.account).deploy(
            "VoucherToken", [m.forwarder, m.registry, m.address("VoucherAdmin")]
        )
        args = [beacon, 0, upgrade_call(v2.address), bytes(32), bytes(32), LOCAL_UPGRADE_DELAY]
        op.send(timelock, encode_function("schedule", args, "DongneTimelock"), "schedule")
        [pending] = pending_upgrades(rpc, m)
        assert (pending.implementation, pending.state) == (v2.address, "waiting")
        rpc.call("evm_increaseTime", [LOCAL_UPGRADE_DELAY + 1])
        assert net.node is not None
        net.node.mine()
        execute_upgrade(op, m, v2.address)
        assert _implementation(rpc, beacon) == v2.address
        assert pending_upgrades(rpc, m) == []
    finally:
        if net.node is not None:
            net.node.stop()
