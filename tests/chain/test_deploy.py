"""chain.deploy: idempotent deployment, the manifest, and where the deployer key comes from.

One anvil serves the module; every test starts from its empty chain (evm_snapshot/evm_revert).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.deploy import (
    DeployerKeyError,
    deploy_municipality,
    deploy_network,
    deployer_from_env,
)
from chain.manifest import NETWORK_CONTRACTS, Manifest
from chain.node import LocalNode
from chain.protocol.abi import load_abi
from chain.protocol.errors import DongneChainError
from gateway.devnet.localnet import SEONGNAM, SIHEUNG, MunicipalitySpec

KEY_VARIABLES = ("DONGNE_DEPLOYER_KEY", "DONGNE_DEPLOYER_KEYSTORE", "DONGNE_DEPLOYER_PASSWORD")


@pytest.fixture(scope="module")
def module_node() -> Iterator[LocalNode]:
    with LocalNode("anvil") as node:
        yield node


@pytest.fixture
def node(module_node: LocalNode) -> Iterator[LocalNode]:
    """The module's anvil, with an empty chain again after the test."""
    snapshot_id = module_node.snapshot()
    yield module_node
    assert module_node.revert(snapshot_id)


@pytest.fixture
def deployer(node: LocalNode) -> LocalAccount:
    account: LocalAccount = Account.from_key(node.dev_accounts()[0].private_key)
    return account


def web3(node: LocalNode) -> Web3:
    return Web3(Web3.HTTPProvider(node.rpc_url))


def deploy_all(
    node: LocalNode,
    account: LocalAccount,
    path: Path,
    municipalities: tuple[MunicipalitySpec, ...] = (SIHEUNG,),
) -> Manifest:
    w3 = web3(node)
    manifest = deploy_network(w3, account, path)
    for spec in municipalities:
        deploy_municipality(
            w3,
            account,
            manifest,
            region=spec.region,
            name=spec.name,
            symbol=spec.symbol,
            admin=account.address,
            rules=spec.rules.as_tuple(),
            manifest_path=path,
        )
    return manifest


def nonce(node: LocalNode, account: LocalAccount) -> int:
    return node.rpc.get_transaction_count(account.address, "pending")


# ------------------------------------------------------------------------------------------
# Idempotence


def test_deploying_twice_changes_nothing(
    node: LocalNode, deployer: LocalAccount, tmp_path: Path
) -> None:
    path = tmp_path / "manifest.json"
    first = deploy_all(node, deployer, path, (SIHEUNG, SEONGNAM))
    text, sent, block = path.read_text(), nonce(node, deployer), node.rpc.block_number()
    assert sent == len(NETWORK_CONTRACTS) + 1 + 2  # + the registry's link to the factory
    assert Manifest.load(path) == first

    second = deploy_all(node, deployer, path, (SIHEUNG, SEONGNAM))
    assert nonce(node, deployer) == sent  # not one transaction more
    assert node.rpc.block_number() == block
    assert path.read_text() == text
    assert second == first


def test_manifest_records_what_auditors_need(
    node: LocalNode, deployer: LocalAccount, tmp_path: Path
) -> None:
    manifest = deploy_all(node, deployer, tmp_path / "manifest.json")
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert data["chain_id"] == node.chain_id
    assert list(data["contracts"]) == sorted(NETWORK_CONTRACTS)
    for name in NETWORK_CONTRACTS:
        recorded = manifest.contracts[name]
        assert node.rpc.get_code(recorded.address)
        assert recorded.block > 0
        assert recorded.code_hash.startswith("0x")
        assert len(recorded.code_hash) == 66
    assert data["compiler"]["evm_version"] == "shanghai"
    assert data["compiler"]["cbor_metadata"] is False
    assert data["toolchain"]["solc"].startswith("0.8.28")
    assert manifest.token(SIHEUNG.region) == data["municipalities"][str(SIHEUNG.region)]["token"]


def test_lost_municipality_record_is_found_again_without_a_transaction(
    node: LocalNode, deployer: LocalAccount, tmp_path: Path
) -> None:
    path = tmp_path / "manifest.json"
    first = deploy_all(node, deployer, path)
    sent = nonce(node, deployer)
    data = json.loads(path.read_text())
    data["municipalities"] = {}
    path.write_text(json.dumps(data))

    again = deploy_all(node, deployer, path)
    assert nonce(node, deployer) == sent
    assert again.municipalities == first.municipalities


def test_manifest_of_another_chain_starts_fresh(
    node: LocalNode, deployer: LocalAccount, tmp_path: Path
) -> None:
    path = tmp_path / "manifest.json"
    first = deploy_all(node, deployer, path)
    sent = nonce(node, deployer)
    data = json.loads(path.read_text())
    data["chain_id"] = node.chain_id + 1
    path.write_text(json.dumps(data))

    fresh = deploy_network(web3(node), deployer, path)
    assert fresh.chain_id == node.chain_id
    assert nonce(node, deployer) == sent + len(NETWORK_CONTRACTS) + 1  # + the registry link
    for name in NETWORK_CONTRACTS:
        assert fresh.address(name) != first.address(name)
    assert fresh.municipalities == {}
    assert Manifest.load(path) == fresh


def test_replaced_contract_is_redeployed_with_everything_after_it(
    node: LocalNode, deployer: LocalAccount, tmp_path: Path
) -> None:
    path = tmp_path / "manifest.json"
    first = deploy_all(node, deployer, path)
    sent = nonce(node, deployer)
    # The beacon's code hash no longer matches: the beacon and everything after it go.
    beacon = first.address("UpgradeableBeacon")
    node.rpc.call("anvil_setCode", [beacon, "0x" + node.rpc.get_code(first.registry).hex()])

    again = deploy_network(web3(node), deployer, path)
    kept = NETWORK_CONTRACTS[: NETWORK_CONTRACTS.index("UpgradeableBeacon")]
    assert [again.address(n) for n in kept] == [first.address(n) for n in kept]
    assert again.address("UpgradeableBeacon") != beacon
    assert again.factory != first.factory
    after = NETWORK_CONTRACTS[NETWORK_CONTRACTS.index("UpgradeableBeacon") :]
    # The beacon and everything after it, and the kept registry's link to the new factory.
    assert nonce(node, deployer) == sent + len(after) + 1
    assert registry_factory(node, again) == again.factory
    assert again.municipalities == {}  # the new factory knows none of the old tokens


def registry_factory(node: LocalNode, manifest: Manifest) -> str:
    """The factory whose tokens the registry pushes freezes to."""
    registry = web3(node).eth.contract(
        address=Web3.to_checksum_address(manifest.registry), abi=load_abi("IdentityRegistry")
    )
    return str(registry.functions.factory().call())


def test_the_registry_pushes_freezes_to_the_factorys_tokens(
    node: LocalNode, deployer: LocalAccount, tmp_path: Path
) -> None:
    manifest = deploy_all(node, deployer, tmp_path / "manifest.json")
    assert registry_factory(node, manifest) == manifest.factory


# ------------------------------------------------------------------------------------------
# The deployer key


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_deployer_key_from_environment(clean_env: pytest.MonkeyPatch) -> None:
    account = Account.create()
    clean_env.setenv("DONGNE_DEPLOYER_KEY", "0x" + bytes(account.key).hex())
    assert deployer_from_env().address == account.address


def test_deployer_key_from_keystore(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    account = Account.create()
    # pbkdf2 with few iterations: the default scrypt costs a second per decryption.
    keystore = Account.encrypt(account.key, "hunter2", kdf="pbkdf2", iterations=1_000)
    path = tmp_path / "deployer.json"
    path.write_text(json.dumps(keystore))
    clean_env.setenv("DONGNE_DEPLOYER_KEYSTORE", str(path))
    clean_env.setenv("DONGNE_DEPLOYER_PASSWORD", "hunter2")
    assert deployer_from_env().address == account.address

    clean_env.setenv("DONGNE_DEPLOYER_PASSWORD", "wrong")
    with pytest.raises(DeployerKeyError, match="cannot open deployer keystore"):
        deployer_from_env()
    clean_env.setenv("DONGNE_DEPLOYER_KEYSTORE", str(tmp_path / "absent.json"))
    with pytest.raises(DeployerKeyError, match=r"absent\.json"):
        deployer_from_env()


def test_no_deployer_key_is_a_clear_error(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(DeployerKeyError) as info:
        deployer_from_env()
    assert isinstance(info.value, DongneChainError)
    assert isinstance(info.value, ValueError)
    assert "DONGNE_DEPLOYER_KEY" in str(info.value)
    assert "DONGNE_DEPLOYER_KEYSTORE" in str(info.value)


def test_malformed_deployer_key_is_a_clear_error(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DONGNE_DEPLOYER_KEY", "0xnot-a-key")
    with pytest.raises(DeployerKeyError, match="DONGNE_DEPLOYER_KEY"):
        deployer_from_env()
