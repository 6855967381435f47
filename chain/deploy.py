"""Deploys the network (forwarder, identity registry, admin module, implementation, timelock,
beacon, factory) and municipalities, idempotently, and records them in the manifest.

The beacon - one upgrade of it changes every city's token - is owned by ``DongneTimelock``
(OpenZeppelin's TimelockController): an upgrade is scheduled in public and runs after the
delay of :class:`Governance` (a deploy parameter; the local network uses
``LOCAL_UPGRADE_DELAY``). ``chain.upgrades`` schedules, executes and lists them.

Running a deploy twice changes nothing: a contract recorded in the manifest whose code is on
chain with the same code hash is kept, and a municipality whose region the factory already knows
is only recorded. Deployment is not a hot path, so it reads and encodes with web3.py for
convenience; transactions go through :class:`chain.sender.Sender` like every other.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.artifacts import Artifact, compiler_settings, load_artifact
from chain.manifest import NETWORK_CONTRACTS, DeployedContract, Manifest, Municipality
from chain.protocol.errors import DongneChainError
from chain.protocol.hashing import ZERO_ADDRESS
from chain.rpc import RpcClient
from chain.sender import Sender, TransactionFailed
from chain.toolchain import pinned_versions

_SOURCES = {"UpgradeableBeacon": "UpgradeableBeacon.sol"}

Progress = Callable[[str], None]


class DeployError(DongneChainError, RuntimeError):
    """A deployment transaction failed; `tx_hash` is set when it was mined."""

    def __init__(self, what: str, reason: str, tx_hash: str | None = None) -> None:
        super().__init__(f"{what}: {reason}" + (f" (tx {tx_hash})" if tx_hash else ""))
        self.what = what
        self.reason = reason
        self.tx_hash = tx_hash


class DeployerKeyError(DongneChainError, ValueError):
    """No deployer key was configured, or the keystore could not be opened."""


def deployer_from_env() -> LocalAccount:
    """The operator's key: `DONGNE_DEPLOYER_KEY` (hex), or an encrypted keystore at
    `DONGNE_DEPLOYER_KEYSTORE` opened with `DONGNE_DEPLOYER_PASSWORD`. Never a constant: only
    the local demo (`dongne up`) passes the node's well-known dev key explicitly."""
    key = os.environ.get("DONGNE_DEPLOYER_KEY")
    if key:
        try:
            account: LocalAccount = Account.from_key(key)
        except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
            raise DeployerKeyError("DONGNE_DEPLOYER_KEY is not a 32-byte hex private key") from exc
        return account
    keystore = os.environ.get("DONGNE_DEPLOYER_KEYSTORE")
    if keystore:
        password = os.environ.get("DONGNE_DEPLOYER_PASSWORD", "")
        try:
            raw = Account.decrypt(Path(keystore).read_text(), password)
        except (OSError, ValueError) as exc:
            raise DeployerKeyError(f"cannot open deployer keystore {keystore}: {exc}") from exc
        account = Account.from_key(raw)
        return account
    raise DeployerKeyError(
        "no deployer key: set DONGNE_DEPLOYER_KEY or DONGNE_DEPLOYER_KEYSTORE"
        " (+ DONGNE_DEPLOYER_PASSWORD)"
    )


LOCAL_UPGRADE_DELAY = 60
# A lost wallet's key may cancel its recovery for this long (72 h on a real network, where
# `dongne up --rpc` sets it; a minute locally so the demo and tests can finish one).
LOCAL_RECOVERY_DELAY = 60
NETWORK_RECOVERY_DELAY = 72 * 3600
"""Seconds an upgrade waits on the local network: long enough to see it pending, short enough
to try. A real network takes days (``dongne up --rpc ... --upgrade-delay``)."""


@dataclass(frozen=True)
class Governance:
    """Who may upgrade every city's token, and after how long. Proposers may also cancel; an
    empty executor list lets anyone execute an operation once its delay has passed."""

    upgrade_delay_s: int = LOCAL_UPGRADE_DELAY
    recovery_delay_s: int = LOCAL_RECOVERY_DELAY  # a lost key can cancel a recovery meanwhile
    proposers: tuple[str, ...] = ()  # default: the operator
    executors: tuple[str, ...] | None = None  # default: the operator; () means anyone


@dataclass
class Deployer:
    """Sends the operator's transactions and waits for each receipt."""

    w3: Web3
    account: LocalAccount
    progress: Progress | None = None
    _sender: Sender | None = field(default=None, repr=False)

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def artifact(self, name: str) -> Artifact:
        return load_artifact(name, _SOURCES.get(name))

    def send(self, what: str, to: str | None, data: bytes) -> TxReceipt:
        """Sends through :class:`chain.sender.Sender` (the one estimate/sign/send loop) and
        answers web3's form of the receipt, which the event decoding here reads."""
        if self._sender is None:
            provider = self.w3.provider
            url = str(getattr(provider, "endpoint_uri", "") or "")
            if not url:
                raise DeployError(what, "the deployer needs an HTTP provider")
            self._sender = Sender(RpcClient(url), self.account, self.w3.eth.chain_id)
        try:
            raw = self._sender.send(to, data, what)
        except TransactionFailed as exc:
            reason = f"{exc.revert.name}{exc.revert.args}" if exc.revert else str(exc)
            raise DeployError(what, reason, exc.tx_hash) from exc
        return self.w3.eth.get_transaction_receipt(str(raw["transactionHash"]))  # type: ignore[arg-type]

    def deploy(self, name: str, args: Sequence[object]) -> DeployedContract:
        artifact = self.artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        init = bytes.fromhex(str(factory.constructor(*args).data_in_transaction)[2:])
        receipt = self.send(f"deploy {name}", None, init)
        address = to_checksum_address(receipt["contractAddress"] or ZERO_ADDRESS)
        self.say(f"deployed {name} at {address} (block {receipt['blockNumber']})")
        return DeployedContract(
            address=address,
            block=int(receipt["blockNumber"]),
            tx_hash=receipt["transactionHash"].to_0x_hex(),
            code_hash=code_hash(self.w3, address),
        )


def code_hash(w3: Web3, address: str) -> str:
    return "0x" + keccak(bytes(w3.eth.get_code(to_checksum_address(address)))).hex()


def deploy_network(
    w3: Web3,
    account: LocalAccount,
    manifest_path: Path | None = None,
    *,
    progress: Progress | None = None,
    governance: Governance | None = None,
) -> Manifest:
    """Deploys whatever of the network is missing and returns (and saves) the manifest.
    ``governance`` applies when the timelock is (re)deployed; a kept one keeps its own."""
    governance = governance or Governance()
    deployer = Deployer(w3, account, progress)
    chain_id = w3.eth.chain_id
    manifest = Manifest(chain_id=chain_id, operator=account.address)
    if manifest_path is not None and manifest_path.exists():
        previous = Manifest.load(manifest_path)
        if previous.chain_id == chain_id:
            manifest = previous
    operator = manifest.operator
    redeploy_rest = False
    deployed: list[str] = []
    for name in NETWORK_CONTRACTS:
        recorded = manifest.contracts.get(name)
        if not redeploy_rest and recorded and code_hash(w3, recorded.address) == recorded.code_hash:
            deployer.say(f"{name} already at {recorded.address}")
            continue
        # A replaced contract changes the constructor arguments of everything after it.
        redeploy_rest = True
        deployed.append(name)
        manifest.contracts[name] = deployer.deploy(
            name, _constructor_args(name, manifest, operator, governance)
        )
    if "VoucherFactory" in deployed:
        manifest.municipalities.clear()  # a new factory knows none of the old tokens
    _link_registry(deployer, manifest)
    if redeploy_rest or not manifest.compiler:
        # Only what built the code on chain: a kept deployment keeps its compiler record.
        manifest.compiler = compiler_settings().as_dict()
        manifest.toolchain = pinned_versions().as_dict()
    if manifest_path is not None:
        manifest.save(manifest_path)
    return manifest


def _link_registry(deployer: Deployer, manifest: Manifest) -> None:
    """Points the registry at the factory (once; again after either is redeployed): it then
    pushes every freeze to the factory's tokens, which only then mirror identities."""
    registry = deployer.w3.eth.contract(
        address=to_checksum_address(manifest.registry),
        abi=deployer.artifact("IdentityRegistry").abi,
    )
    factory = to_checksum_address(manifest.factory)
    if to_checksum_address(registry.functions.factory().call()) == factory:
        return
    data = registry.encode_abi("setFactory", args=[factory])
    deployer.send("link the registry to the factory", registry.address, bytes.fromhex(data[2:]))
    deployer.say(f"IdentityRegistry pushes freezes to the tokens of {factory}")


def _constructor_args(name: str, m: Manifest, operator: str, g: Governance) -> list[object]:
    match name:
        case "DongneForwarder":
            return []
        case "IdentityRegistry":
            return [operator, m.forwarder, g.recovery_delay_s]
        case "VoucherServices":
            return [m.forwarder, m.registry]
        case "VoucherAdmin":
            return [m.forwarder, m.registry, m.address("VoucherServices")]
        case "VoucherToken":
            return [m.forwarder, m.registry, m.address("VoucherAdmin")]
        case "DongneTimelock":
            proposers = [to_checksum_address(a) for a in g.proposers or (operator,)]
            executors = (operator,) if g.executors is None else g.executors
            return [g.upgrade_delay_s, proposers, [to_checksum_address(a) for a in executors]]
        case "UpgradeableBeacon":
            return [m.address("VoucherToken"), m.address("DongneTimelock")]
        case "DongneAnchor":
            return [operator]
        case "VoucherFactory":
            return [m.address("UpgradeableBeacon"), operator]
    raise ValueError(f"unknown network contract {name}")


def deploy_municipality(
    w3: Web3,
    account: LocalAccount,
    manifest: Manifest,
    *,
    region: int,
    name: str,
    symbol: str,
    admin: str,
    rules: tuple[object, ...],
    manifest_path: Path | None = None,
    progress: Progress | None = None,
) -> Municipality:
    """Deploys `region`'s token through the factory unless it exists; records it."""
    deployer = Deployer(w3, account, progress)
    factory = w3.eth.contract(
        address=to_checksum_address(manifest.factory), abi=deployer.artifact("VoucherFactory").abi
    )
    existing = factory.functions.tokenOf(region).call()
    if existing != ZERO_ADDRESS:
        recorded = manifest.municipalities.get(region)
        if recorded is not None and recorded.token == existing:
            deployer.say(f"municipality {region} already at {existing}")
            return recorded
        # Deployed by someone else (or the manifest was lost): find its deployment event.
        municipality = _find_deployment(w3, factory, region, existing)
    else:
        data = factory.encode_abi("deployMunicipality", args=[region, name, symbol, admin, rules])
        receipt = deployer.send(
            f"deploy municipality {region}", factory.address, bytes.fromhex(data[2:])
        )
        # The receipt also holds the new token's own events; only the factory's one matters.
        events = factory.events.MunicipalityDeployed().process_receipt(receipt, errors=DISCARD)
        token = to_checksum_address(events[0]["args"]["token"])
        municipality = Municipality(
            region=region,
            token=token,
            name=name,
            symbol=symbol,
            admin=to_checksum_address(admin),
            block=int(receipt["blockNumber"]),
            tx_hash=receipt["transactionHash"].to_0x_hex(),
        )
        deployer.say(f"deployed municipality {region} ({name}) at {token}")
    manifest.municipalities[region] = municipality
    if manifest_path is not None:
        manifest.save(manifest_path)
    return municipality


def _find_deployment(w3: Web3, factory: Contract, region: int, token: str) -> Municipality:
    logs = factory.events.MunicipalityDeployed().get_logs(
        from_block=0, argument_filters={"region": region}
    )
    if not logs:
        raise DeployError(f"municipality {region}", f"token {token} has no deployment event")
    log = logs[-1]
    args = log["args"]
    return Municipality(
        region=region,
        token=to_checksum_address(args["token"]),
        name=str(args["name"]),
        symbol=str(args["symbol"]),
        admin=to_checksum_address(args["admin"]),
        block=int(log["blockNumber"]),
        tx_hash=log["transactionHash"].to_0x_hex(),
    )
