"""One gateway process on anvil (SQLite) for the registry's HTTP, SDK, CLI and portal tests:
Siheung with a merchant registrar (who sends their own transactions), an admin, three shop
wallets verified as merchants in the identity registry but not yet registered in the city,
and a citizen. The directory query's PostgreSQL run is in test_directory.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.operator import role_id
from chain.protocol.contracts import encode_function
from gateway.devnet.localnet import SIHEUNG, LocalNetwork, start_local_network
from gateway.devnet.process import GatewayProcess
from tests.fixtures.signin import sign_in
from tests.gateway.http.conftest import until

SHOPS = ("shop", "other_shop", "late_shop", "cli_shop", "sdk_shop", "read_shop")
PEOPLE = ("registrar", "admin", "citizen", "unverified", *SHOPS)  # unverified: no KYC yet


@dataclass
class RegistryWorld:
    net: LocalNetwork
    gateway: GatewayProcess
    siheung: str
    accounts: dict[str, LocalAccount]
    headers: dict[str, dict[str, str]]

    def client(self, who: str) -> httpx.Client:
        headers = self.headers.get(who, {})
        return httpx.Client(base_url=self.gateway.url, headers=headers, timeout=30)

    def key(self, who: str) -> str:
        return "0x" + bytes(self.accounts[who].key).hex()


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryWorld]:
    workdir = tmp_path_factory.mktemp("registry")
    net = start_local_network(workdir / "net", (SIHEUNG,))
    op = net.operator
    siheung = net.manifest.token(SIHEUNG.region).lower()
    accounts = {name: Account.create() for name in PEOPLE}
    op.register(net.manifest.registry, [accounts["citizen"].address], "citizen")
    op.register(net.manifest.registry, [accounts[n].address for n in SHOPS], "merchant")
    grants = [
        ("registrar", "MERCHANT_REGISTRAR_ROLE"),
        ("admin", "DEFAULT_ADMIN_ROLE"),
        ("admin", "AUDITOR_ROLE"),
    ]
    op.send_calls(
        [
            (siheung, encode_function("grantRole", [role_id(r), accounts[w].address]))
            for w, r in grants
        ],
        "grantRole",
    )
    # The registrar sends registerMerchant with their own key: the local chain charges gas.
    op.send_many([(accounts["registrar"].address, b"", 10**18)], "fund")
    env = net.gateway_env(f"sqlite:///{workdir / 'gateway.db'}", poll_interval_s="0.1")
    with GatewayProcess(env, log_path=workdir / "gateway.log") as gateway:
        anonymous = httpx.Client(base_url=gateway.url, timeout=30)
        headers = {name: sign_in(anonymous, bytes(a.key)) for name, a in accounts.items()}
        world = RegistryWorld(net, gateway, siheung, accounts, headers)
        registrar = world.client("registrar")
        until(lambda: siheung in registrar.get("/v1/me").json()["roles"], "the roles indexed")
        try:
            yield world
        finally:
            if net.node is not None:
                net.node.stop()
