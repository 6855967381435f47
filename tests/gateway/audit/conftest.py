"""Fixtures of the audit suites: one local network for the session, both databases per test.

The network (anvil, automine) has the Siheung municipality, its operator holding every role.
Tests act on it through :class:`City`: direct operator transactions (registration, sales,
programs) and citizens' and merchants' own signed requests executed through the forwarder
(the operator pays the gas, as the relayer would). ``city`` reverts the chain after each test.
Database fixtures are per test: a SQLite file, or a fresh PostgreSQL schema dropped afterwards;
test classes are written once and mixed with :class:`SQLiteBackend` or :class:`PostgresBackend`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chain.operator import Operator
from chain.protocol.calls import encode_gift, encode_issue, encode_pay, encode_redeem
from chain.protocol.forwarder import ForwarderDomain, ForwardRequest, encode_execute, sign_request
from chain.rpc import JSONObject, RpcClient
from gateway.devnet.localnet import SIHEUNG, LocalNetwork, start_local_network
from gateway.http.problems import install_problem_handlers
from gateway.http.routes import audit as audit_api
from gateway.http.routes import distribution as distribution_api
from gateway.indexer import Indexer
from gateway.settings import Settings
from tests.fixtures.wallets import Wallet, new_wallet

RESTAURANT, GROCERY, CAFE = 56111, 47121, 56221
DAY = 86_400

# --------------------------------------------------------------------------- chain


@dataclass
class City:
    """Siheung on the session's network, and what tests do to it."""

    network: LocalNetwork
    token: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def op(self) -> Operator:
        return self.network.operator

    @property
    def rpc(self) -> RpcClient:
        return self.op.rpc

    @property
    def chain_id(self) -> int:
        return self.network.manifest.chain_id

    @property
    def pusher(self) -> LocalAccount:
        """A funded dev key that is neither the operator nor a relayer key."""
        assert self.network.node is not None
        account: LocalAccount = Account.from_key(self.network.node.dev_accounts()[5].private_key)
        return account

    def index(self, engine: Engine) -> None:
        Indexer(engine, self.rpc, self.network.manifest).sync_once()

    def now(self) -> int:
        block = self.rpc.get_block("latest")
        assert block is not None
        return int(str(block["timestamp"]), 16)

    def warp(self, seconds: int) -> None:
        assert self.network.node is not None
        self.rpc.call("evm_increaseTime", [seconds])
        self.network.node.mine()

    def warp_to(self, timestamp: int) -> None:
        assert self.network.node is not None
        self.rpc.call("evm_setNextBlockTimestamp", [timestamp])
        self.network.node.mine()

    def citizens(self, n: int) -> list[Wallet]:
        wallets = [new_wallet() for _ in range(n)]
        self.op.register(self.network.manifest.registry, [w.address for w in wallets], "citizen")
        return wallets

    def merchant(self, category: int = RESTAURANT, tier: int = 0) -> Wallet:
        wallet = new_wallet()
        self.op.register(self.network.manifest.registry, [wallet.address], "merchant")
        self.op.register_merchant(self.token, wallet.address, SIHEUNG.region, category, tier, False)
        return wallet

    def issue(self, buyer: Wallet, face: int, paid: int | None = None) -> JSONObject:
        paid = face * 9 // 10 if paid is None else paid
        return self.op.send(self.token, encode_issue(buyer.address, face, paid), "issue")

    def act(self, who: Wallet, data: bytes) -> JSONObject:
        """``who``'s own signed request, executed through the forwarder."""
        forwarder = self.network.manifest.forwarder
        selector = keccak(text="nonces(address)")[:4]
        call = {
            "to": forwarder,
            "data": "0x" + (selector + abi_encode(["address"], [who.address])).hex(),
        }
        nonce = int.from_bytes(self.rpc.eth_call(call), "big")
        request = ForwardRequest(
            who.address, self.token, 0, 600_000, nonce, self.now() + 3_600, data
        )
        signed = sign_request(who.key, ForwarderDomain(self.chain_id, forwarder), request)
        return self.op.send(forwarder, encode_execute(signed), "execute")

    def pay(
        self, payer: Wallet, merchant: Wallet, amount: int, pockets: Sequence[int] = ()
    ) -> JSONObject:
        return self.act(
            payer, encode_pay(merchant.address, amount, secrets.token_bytes(32), pockets)
        )

    def gift(self, sender: Wallet, recipient: Wallet, amount: int) -> JSONObject:
        return self.act(sender, encode_gift(recipient.address, amount))

    def redeem(self, merchant: Wallet, amount: int, ref: bytes | None = None) -> JSONObject:
        return self.act(merchant, encode_redeem(amount, ref or secrets.token_bytes(32)))


@pytest.fixture(scope="package")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    net = start_local_network(tmp_path_factory.mktemp("audit-net"), (SIHEUNG,))
    yield net
    net.stop()


@pytest.fixture
def city(network: LocalNetwork) -> Iterator[City]:
    """The municipality; whatever a test does to the chain is undone afterwards."""
    assert network.node is not None
    snapshot = network.node.snapshot()
    yield City(network, network.manifest.token(SIHEUNG.region))
    assert network.node.revert(snapshot)


@pytest.fixture
def client(city: City, engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """The audit and distribution routers on a minimal app (with the problem handlers, no
    access policies) over the session's chain and the test's database."""
    app = FastAPI()
    app.include_router(audit_api.router)
    app.include_router(distribution_api.router)
    install_problem_handlers(app)
    app.state.engine = engine
    app.state.manifest = city.network.manifest
    app.state.settings = Settings(
        rpc_url=city.network.rpc_url, manifest_path=tmp_path / "manifest.json"
    )
    with TestClient(app) as test_client:
        yield test_client
