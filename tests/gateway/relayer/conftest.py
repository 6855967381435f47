"""End-to-end fixtures: a local network with interval mining and a gateway process over HTTP,
on SQLite and on PostgreSQL (each test its own database)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak

from chain.protocol.calls import encode_issue, encode_pay
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    sign_request,
    signed_request_to_json,
)
from gateway.devnet.localnet import SEONGNAM, SIHEUNG, LocalNetwork, start_local_network
from gateway.devnet.process import GatewayProcess
from tests.fixtures.databases import BACKENDS, gateway_database_url
from tests.fixtures.wallets import Wallet, new_wallet

RESTAURANT = 56111
EXECUTED = "0x" + keccak(text="ExecutedForwardRequest(address,uint256,bool)").hex()


@pytest.fixture(scope="package")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    net = start_local_network(tmp_path_factory.mktemp("net"), (SIHEUNG, SEONGNAM), block_time=0.5)
    yield net
    net.stop()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with gateway_database_url(request, tmp_path) as url:
        yield url


@pytest.fixture
def gateway(network: LocalNetwork, database_url: str, tmp_path: Path) -> Iterator[GatewayProcess]:
    env = network.gateway_env(database_url, batch_interval_ms="100", poll_interval_s="0.1")
    with GatewayProcess(env, log_path=tmp_path / "gateway.log") as process:
        yield process


@dataclass
class People:
    network: LocalNetwork
    token: str
    other_token: str
    citizens: list[Wallet]
    merchant: str
    other_merchant: str
    domain: ForwarderDomain

    def sign(
        self,
        wallet: Wallet,
        data: bytes,
        nonce: int,
        *,
        to: str | None = None,
        deadline: int | None = None,
        gas: int = 400_000,
    ) -> dict[str, str]:
        request = ForwardRequest(
            from_=wallet.address,
            to=to or self.token,
            value=0,
            gas=gas,
            nonce=nonce,
            deadline=deadline or int(time.time()) + 300,
            data=data,
        )
        return signed_request_to_json(sign_request(wallet.key, self.domain, request))

    def pay(self, wallet: Wallet, amount: int, nonce: int, **kw: object) -> dict[str, str]:
        data = encode_pay(self.merchant, amount, secrets.token_bytes(32))
        return self.sign(wallet, data, nonce, **kw)  # type: ignore[arg-type]


@pytest.fixture
def people(network: LocalNetwork) -> People:
    """Fresh citizens (registered, each holding ₩100,000 bought at 10% off) and merchants."""
    op = network.operator
    m = network.manifest
    token, other = m.token(SIHEUNG.region), m.token(SEONGNAM.region)
    citizens = [new_wallet() for _ in range(4)]
    merchant, other_merchant = new_wallet(), new_wallet()
    op.register(m.registry, [c.address for c in citizens], "citizen")
    op.register(m.registry, [merchant.address, other_merchant.address], "merchant")
    op.register_merchant(token, merchant.address, SIHEUNG.region, RESTAURANT, 0, False)
    op.register_merchant(other, other_merchant.address, SEONGNAM.region, RESTAURANT, 0, False)
    op.send_calls([(token, encode_issue(c.address, 100_000, 90_000)) for c in citizens], "issue")
    return People(
        network,
        token,
        other,
        citizens,
        merchant.address,
        other_merchant.address,
        ForwarderDomain(m.chain_id, m.forwarder),
    )


def wait_final(client: httpx.Client, request_id: str, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, object] = client.get(f"/v1/requests/{request_id}").json()
        if state["status"] in ("succeeded", "failed"):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"request {request_id} not final: {state}")
        time.sleep(0.1)


def executions(people: People, signer: str) -> list[tuple[int, bool]]:
    """(nonce, success) of every ExecutedForwardRequest of `signer` on chain."""
    logs = people.network.operator.rpc.get_logs(
        {
            "address": people.network.manifest.forwarder,
            "fromBlock": "0x0",
            "toBlock": "latest",
            "topics": [EXECUTED, "0x" + "00" * 12 + signer[2:].lower()],
        }
    )
    out = []
    for log in logs:
        nonce, success = abi_decode(["uint256", "bool"], bytes.fromhex(str(log["data"])[2:]))
        out.append((int(nonce), bool(success)))
    return out
