"""chain.verify: recompiling the pinned sources and comparing them with a live deployment.

One network is deployed for the module; each test that tampers with it (anvil_setCode,
anvil_setStorageAt) runs in an evm_snapshot that is reverted afterwards.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest

from chain.manifest import NETWORK_CONTRACTS, Manifest
from chain.node import LocalNode
from chain.verify import (
    BEACON_SLOT,
    VerificationError,
    VerificationReport,
    compile_contracts,
    default_cache_dir,
    first_difference,
    verify_deployment,
)
from gateway.devnet.localnet import SEONGNAM, SIHEUNG, LocalNetwork, start_local_network


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    net = start_local_network(tmp_path_factory.mktemp("verify"), (SIHEUNG, SEONGNAM))
    yield net
    net.stop()


@pytest.fixture
def node(network: LocalNetwork) -> Iterator[LocalNode]:
    """The module's node, rolled back after the test."""
    assert network.node is not None
    snapshot_id = network.node.snapshot()
    yield network.node
    assert network.node.revert(snapshot_id)


def verify(network: LocalNetwork, manifest: Manifest | None = None) -> VerificationReport:
    return verify_deployment(network.rpc_url, manifest or network.manifest)


def set_code(node: LocalNode, address: str, code: bytes) -> None:
    node.rpc.call("anvil_setCode", [address, "0x" + code.hex()])


def test_fresh_deployment_verifies(network: LocalNetwork) -> None:
    report = verify(network)
    assert report.ok, str(report)
    assert report.failures() == []
    labels = [r.label for r in report.contracts]
    assert labels == [*NETWORK_CONTRACTS, "municipality 41130", "municipality 41390"]
    assert all(r.status == "match" and r.first_difference is None for r in report.contracts)
    assert report.result("municipality 41390").contract == "BeaconProxy"
    assert report.compiler.startswith(str(network.manifest.compiler["solc_version"]))
    # The links the masked immutables would otherwise hide were read and checked.
    what = {(c.contract, c.what) for c in report.checks}
    assert ("VoucherToken", "VoucherToken._adminModule") in what
    assert ("UpgradeableBeacon", "implementation()") in what
    assert ("municipality 41130", "ERC-1967 beacon slot") in what
    assert ("municipality 41390", "BeaconProxy._beacon") in what
    assert "verified" in str(report)


def test_compile_output_is_cached() -> None:
    """Compiled once per source hash: the result is in the cache for the next run."""
    version, compiled = compile_contracts()
    assert any(default_cache_dir().glob("*.json"))
    assert set(compiled) == {*NETWORK_CONTRACTS, "BeaconProxy"}
    assert version.startswith("0.8.")
    # BeaconProxy's only immutable is its beacon; masking must not cover anything else.
    assert compiled["BeaconProxy"].immutables.keys() == {"BeaconProxy._beacon"}


def test_changed_code_fails_naming_the_contract(network: LocalNetwork, node: LocalNode) -> None:
    registry = network.manifest.registry
    code = bytearray(node.rpc.get_code(registry))
    offset = len(code) // 2
    code[offset] ^= 0xFF
    set_code(node, registry, bytes(code))

    report = verify(network)
    assert not report.ok
    result = report.result("IdentityRegistry")
    assert (result.status, result.first_difference) == ("differs", offset)
    others = [r for r in report.contracts if r.label != "IdentityRegistry"]
    assert all(r.status == "match" for r in others)
    failures = report.failures()
    assert failures
    assert all("IdentityRegistry" in line for line in failures)
    assert f"differs at byte {offset}" in failures[0]


def test_manifest_pointing_at_another_contract_differs(network: LocalNetwork) -> None:
    """A manifest naming the registry's address as the admin module: wrong code, broken links."""
    manifest = copy.deepcopy(network.manifest)
    manifest.contracts["VoucherAdmin"] = replace(
        manifest.contracts["VoucherAdmin"], address=manifest.registry
    )
    report = verify(network, manifest)
    assert not report.ok
    result = report.result("VoucherAdmin")
    assert result.status == "differs"
    assert result.first_difference is not None
    broken = {(c.contract, c.what) for c in report.checks if not c.ok}
    assert ("VoucherToken", "VoucherToken._adminModule") in broken
    assert ("VoucherAdmin", "code hash (manifest)") in broken


def test_missing_code_and_missing_entry(network: LocalNetwork) -> None:
    manifest = copy.deepcopy(network.manifest)
    nowhere = "0x000000000000000000000000000000000000dEaD"
    manifest.contracts["VoucherFactory"] = replace(
        manifest.contracts["VoucherFactory"], address=nowhere
    )
    del manifest.contracts["DongneForwarder"]
    report = verify(network, manifest)
    assert not report.ok
    assert report.result("VoucherFactory").status == "missing"
    forwarder = report.result("DongneForwarder")
    assert (forwarder.status, forwarder.detail) == ("missing", "not in the manifest")
    assert any(line.startswith("VoucherFactory") for line in report.failures())


def test_same_code_with_another_immutable_matches_but_breaks_the_link(
    network: LocalNetwork, node: LocalNode
) -> None:
    """Immutables are masked, so the code still matches; the admin module it delegates to is
    checked separately and named."""
    implementation = network.manifest.address("VoucherToken")
    _, compiled = compile_contracts()
    code = bytearray(node.rpc.get_code(implementation))
    impostor = bytes.fromhex("00" * 12 + "11" * 20)
    for start, length in compiled["VoucherToken"].immutables["VoucherToken._adminModule"]:
        code[start : start + length] = impostor
    set_code(node, implementation, bytes(code))

    report = verify(network)
    assert report.result("VoucherToken").status == "match"
    assert not report.ok
    [broken] = [c for c in report.checks if not c.ok and c.what != "code hash (manifest)"]
    assert (broken.contract, broken.what) == ("VoucherToken", "VoucherToken._adminModule")
    assert broken.actual == "0x" + "11" * 20
    assert broken.expected == network.manifest.address("VoucherAdmin")


def test_disagreeing_copies_of_an_immutable_differ(network: LocalNetwork, node: LocalNode) -> None:
    factory = network.manifest.factory
    _, compiled = compile_contracts()
    ranges = compiled["VoucherFactory"].immutables["VoucherFactory._beacon"]
    assert len(ranges) > 1, "VoucherFactory reads its beacon in more than one place"
    code = bytearray(node.rpc.get_code(factory))
    start, length = ranges[-1]
    code[start + length - 1] ^= 0x01
    set_code(node, factory, bytes(code))

    result = verify(network).result("VoucherFactory")
    assert (result.status, result.first_difference) == ("differs", start)
    assert "VoucherFactory._beacon" in result.detail


def test_proxy_beacon_slot_and_beacon_implementation_are_checked(
    network: LocalNetwork, node: LocalNode
) -> None:
    token = network.manifest.token(SIHEUNG.region)
    other_beacon = "0x" + "22" * 20
    node.rpc.call("anvil_setStorageAt", [token, BEACON_SLOT, "0x" + bytes(12).hex() + "22" * 20])
    beacon = network.manifest.address("UpgradeableBeacon")
    # OZ UpgradeableBeacon keeps the implementation in slot 1 (slot 0 is Ownable's owner).
    node.rpc.call("anvil_setStorageAt", [beacon, "0x" + "00" * 31 + "01", "0x" + "00" * 32])

    report = verify(network)
    assert all(r.status == "match" for r in report.contracts)
    broken = {(c.contract, c.what): c.actual for c in report.checks if not c.ok}
    assert broken == {
        ("municipality 41390", "ERC-1967 beacon slot"): other_beacon,
        ("UpgradeableBeacon", "implementation()"): "0x" + "00" * 20,
    }


def test_manifest_of_another_chain_is_refused(network: LocalNetwork) -> None:
    manifest = copy.deepcopy(network.manifest)
    manifest.chain_id += 1
    with pytest.raises(VerificationError, match="chain"):
        verify(network, manifest)


def test_first_difference() -> None:
    assert first_difference(b"abc", b"abc") is None
    assert first_difference(b"abc", b"abd") == 2
    assert first_difference(b"abc", b"ab") == 2
    assert first_difference(b"", b"a") == 0


def test_cbor_metadata_tail_is_ignored(network: LocalNetwork, node: LocalNode) -> None:
    """Code compiled with metadata ends in a CBOR map and its length; only that is ignored."""
    registry = network.manifest.registry
    cbor = bytes.fromhex("a1") + b"\x64solc" + bytes.fromhex("4300081c")
    set_code(node, registry, node.rpc.get_code(registry) + cbor + len(cbor).to_bytes(2, "big"))
    assert verify(network).result("IdentityRegistry").status == "match"


def test_command_line(network: LocalNetwork) -> None:
    """`dongne audit verify-code` is the one command line of chain.verify."""
    dongne = [sys.executable, "-m", "gateway.cli", "audit", "verify-code", "--rpc", network.rpc_url]
    manifest = str(network.manifest_path)
    done = subprocess.run([*dongne, "--manifest", manifest], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "verified: all contracts match" in done.stdout
    absent = str(network.manifest_path.with_name("absent.json"))
    done = subprocess.run([*dongne, "--manifest", absent], capture_output=True, text=True)
    assert done.returncode != 0
    assert "no manifest" in done.stderr + done.stdout
