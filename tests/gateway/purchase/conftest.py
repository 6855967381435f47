"""A local network, the BANK SIMULATOR as its own process and a gateway selling Siheung's
vouchers through it, over real HTTP, once per database backend."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.operator import role_id
from chain.protocol.contracts import encode_function
from gateway.devnet.localnet import SIHEUNG, LocalNetwork, start_local_network
from gateway.devnet.process import GatewayProcess, free_port
from tests.fixtures.databases import BACKENDS, gateway_database_url
from wallet_sdk import DongneClient, LocalKey

CITIZENS = ("buyer", "dup", "hmac", "capped", "frozen", "wrong", "crash_a", "crash_b", "admin_buy")
SECRET = "sim-secret-" + secrets.token_hex(12)


@dataclass
class Bank:
    """The simulator's API, as the tests' "resident banking app" and inspector."""

    url: str

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {SECRET}"}, timeout=10
        )

    def deposit(self, account_number: str, amount: int | None = None) -> httpx.Response:
        body: dict[str, object] = {"account_number": account_number}
        if amount is not None:
            body["amount"] = amount
        with self.http() as http:
            return http.post("/v1/deposits", json=body)

    def payment(self, payment_id: str) -> dict[str, object]:
        with self.http() as http:
            answer = http.get(f"/v1/payments/{payment_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, object] = answer.json()
        return found

    def controls(self, **values: object) -> None:
        with self.http() as http:
            assert http.post("/sim/controls", json=values).status_code == 200

    def deliveries(self) -> list[dict[str, object]]:
        with self.http() as http:
            found: list[dict[str, object]] = http.get("/sim/webhooks").json()
        return found


@dataclass
class Shop:
    net: LocalNetwork
    gateway: GatewayProcess
    bank: Bank
    token: str
    agent: LocalAccount
    citizens: dict[str, LocalAccount]
    env: dict[str, str]
    workdir: Path

    def client(self, who: str) -> DongneClient:
        key = LocalKey.from_private_key("0x" + bytes(self.citizens[who].key).hex())
        return DongneClient(self.gateway.url, key, poll_interval_s=0.1)


def _start_bank(port: int, webhook: str, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gateway.cli", "bank-sim", "--port", str(port),
               "--secret", SECRET, "--webhook", webhook]  # fmt: skip
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=os.environ)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/v1/transfers",
                               headers={"authorization": f"Bearer {SECRET}"})  # fmt: skip
            assert answer.headers["x-simulator"] == "dongne-bank-sim"
            return proc
        except httpx.HTTPError:
            assert proc.poll() is None, f"bank-sim exited; log: {log}"
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("bank-sim did not start")


@pytest.fixture(scope="package", params=BACKENDS)
def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shop]:
    workdir = tmp_path_factory.mktemp("purchase")
    with gateway_database_url(request, workdir) as url:
        yield from _shop(workdir, url)


def _shop(workdir: Path, database_url: str) -> Iterator[Shop]:
    net = start_local_network(workdir / "net", (SIHEUNG,))
    op = net.operator
    token = net.manifest.token(SIHEUNG.region).lower()
    citizens = {name: Account.create() for name in CITIZENS}
    op.register(net.manifest.registry, [a.address for a in citizens.values()], "citizen")
    # The city's sales agent: its own ISSUER key, funded for gas (the local chain charges it).
    agent = Account.create()
    op.send(token, encode_function("grantRole", [role_id("ISSUER_ROLE"), agent.address]), "grant")
    op.send_many([(agent.address, b"", 10**19)], "fund the sales agent")
    gateway_port, bank_port = free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    bank = _start_bank(bank_port, f"{gateway_url}/v1/purchase/webhooks/banksim",
                       workdir / "bank.log")  # fmt: skip
    env = net.gateway_env(
        database_url,
        poll_interval_s="0.1",
        payment_provider_url=f"http://127.0.0.1:{bank_port}",
        payment_provider_secret=SECRET,
        sales_agent_key="0x" + bytes(agent.key).hex(),
        sale_default_discount_bps="1000",
        sales_agent_interval_s="0.2",
        # Sessions survive the restart test's gateway restart.
        auth_signing_keys='["k1:' + secrets.token_hex(32) + '"]',
    )
    gateway = GatewayProcess(env, port=gateway_port, log_path=workdir / "gateway.log")
    try:
        with gateway:
            yield Shop(net, gateway, Bank(f"http://127.0.0.1:{bank_port}"), token, agent,
                       citizens, env, workdir)  # fmt: skip
    finally:
        bank.terminate()
        bank.wait(10)
        if net.node is not None:
            net.node.stop()
