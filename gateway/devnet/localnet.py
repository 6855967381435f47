"""A whole local network: a node, the deployed contracts, municipalities and a funded operator.

Used by `dongne up`, the end-to-end tests and the benchmarks, so all three run the same thing.
The node's well-known dev keys are used here and only here (the local demo): dev account 0 is
the operator (deployer, KYC registrar, every municipal role), accounts 1-4 are relayer keys,
account 5 pushes distributions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.deploy import Governance, deploy_municipality, deploy_network
from chain.manifest import Manifest
from chain.node import LocalNode
from chain.operator import Operator
from chain.protocol.calls import (
    FundingShare,
    Rules,
    default_rules,
    encode_propose_funding_plan,
    encode_propose_rules,
)
from chain.rpc import RpcClient
from gateway.devnet.city_rules import (
    BUSAN_FUNDING,
    INCHEON_FUNDING,
    MARKET_FUNDING,
    busan_rules,
    incheon_rules,
    market_rules,
)

RELAYER_KEY_COUNT = 4


@dataclass(frozen=True)
class MunicipalitySpec:
    region: int
    name: str
    symbol: str
    rules: Rules = field(default_factory=default_rules)
    # Who funds discounts and cashback from the start (none: no plan yet).
    funding: tuple[FundingShare, ...] = ()


SIHEUNG = MunicipalitySpec(41390, "Siheung Voucher", "SHV")
SEONGNAM = MunicipalitySpec(41130, "Seongnam Love Voucher", "SNV")
BUSAN = MunicipalitySpec(26000, "Busan Dongbaekjeon", "DBJ", busan_rules(), BUSAN_FUNDING)
INCHEON = MunicipalitySpec(28000, "Incheon e-음 (I-Money)", "IEM", incheon_rules(), INCHEON_FUNDING)
NATIONAL = MunicipalitySpec(0, "Onnuri Market Voucher", "ONN", market_rules(), MARKET_FUNDING)


@dataclass
class LocalNetwork:
    node: LocalNode | None
    rpc_url: str
    manifest: Manifest
    manifest_path: Path
    operator: Operator
    relayer_keys: list[str]
    distribution_key: str | None = None

    def gateway_env(self, database_url: str, **extra: str) -> dict[str, str]:
        """Settings for a gateway process serving this network."""
        keys = ",".join(f'"{k}"' for k in self.relayer_keys)
        env = {
            "DONGNE_RPC_URL": self.rpc_url,
            "DONGNE_DATABASE_URL": database_url,
            "DONGNE_MANIFEST_PATH": str(self.manifest_path),
            "DONGNE_RELAYER_KEYS": f"[{keys}]",
        }
        if self.distribution_key is not None:
            env["DONGNE_DISTRIBUTION_KEY"] = self.distribution_key
        env.update({f"DONGNE_{k.upper()}": v for k, v in extra.items()})
        return env

    def stop(self) -> None:
        if self.node is not None:
            self.node.stop()


def deploy_local(
    rpc_url: str,
    operator_key: str,
    manifest_path: Path,
    municipalities: Sequence[MunicipalitySpec],
    *,
    progress: Callable[[str], None] | None = None,
    governance: Governance | None = None,
) -> tuple[Manifest, Operator]:
    """Deploys the network and municipalities (idempotently) and gives the operator every
    municipal role, so the demo's city staff is one key."""
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    account: LocalAccount = Account.from_key(operator_key)
    manifest = deploy_network(w3, account, manifest_path, progress=progress, governance=governance)
    operator = Operator(RpcClient(rpc_url), account, manifest.chain_id)
    for spec in municipalities:
        known = spec.region in manifest.municipalities
        # A funding plan waits out the rules' change delay like any change; a new city's first
        # plan is part of its founding, so the city starts without the delay, adopts the plan,
        # then its real rules (taking effect at once, as the delay in force is still zero).
        founding = replace(spec.rules, change_delay=0) if spec.funding else spec.rules
        deploy_municipality(
            w3,
            account,
            manifest,
            region=spec.region,
            name=spec.name,
            symbol=spec.symbol,
            admin=account.address,
            rules=founding.as_tuple(),
            manifest_path=manifest_path,
            progress=progress,
        )
        if not known:
            token = manifest.token(spec.region)
            operator.grant_roles(token, account.address)
            if spec.funding:
                founding_calls = [
                    (token, encode_propose_funding_plan(spec.funding)),
                    (token, encode_propose_rules(spec.rules)),
                ]
                operator.send_calls(founding_calls, "founding funding plan and rules")
    return manifest, operator


def start_local_network(
    workdir: Path,
    municipalities: Sequence[MunicipalitySpec] = (SIHEUNG,),
    *,
    kind: str = "anvil",
    block_time: float | None = None,
    block_gas_limit: int = 300_000_000,
    state: bool = False,
    progress: Callable[[str], None] | None = None,
) -> LocalNetwork:
    """Starts a node (interval mining when `block_time` is set) and deploys onto it."""
    workdir.mkdir(parents=True, exist_ok=True)
    node = LocalNode(
        kind,  # type: ignore[arg-type]
        block_time=block_time,
        block_gas_limit=block_gas_limit,
        state_path=workdir / ("anvil-state.json" if kind == "anvil" else "ganache-db")
        if state
        else None,
        log_path=workdir / f"{kind}.log",
    ).start()
    try:
        accounts = node.dev_accounts()
        manifest_path = workdir / "manifest.json"
        manifest, operator = deploy_local(
            node.rpc_url, accounts[0].private_key, manifest_path, municipalities, progress=progress
        )
    except BaseException:
        node.stop()
        raise
    return LocalNetwork(
        node=node,
        rpc_url=node.rpc_url,
        manifest=manifest,
        manifest_path=manifest_path,
        operator=operator,
        relayer_keys=[a.private_key for a in accounts[1 : 1 + RELAYER_KEY_COUNT]],
        distribution_key=accounts[1 + RELAYER_KEY_COUNT].private_key,
    )
