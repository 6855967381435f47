"""One gateway process on anvil for the HTTP suites, with eight identities signed in with
their own keys and on-chain roles (see test_access.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.operator import role_id
from chain.protocol.calls import encode_issue
from chain.protocol.contracts import encode_function
from gateway.devnet.localnet import SEONGNAM, SIHEUNG, LocalNetwork, start_local_network
from gateway.devnet.process import GatewayProcess
from tests.fixtures.databases import BACKENDS, gateway_database_url
from tests.fixtures.signin import sign_in

IDENTITIES = (
    "anonymous", "citizen", "other_citizen", "merchant", "auditor", "other_auditor",
    "program_manager", "admin",
)  # fmt: skip


@pytest.hookimpl(trylast=True)  # after pytest has grouped the items by world
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """test_staff_anchor rewrites the shared world's staff log, so it runs last in its world:
    moved to the end of its run of items with the same parameters."""

    def key(item: pytest.Item) -> str:
        callspec = getattr(item, "callspec", None)
        return callspec.id if callspec is not None else ""

    ordered: list[pytest.Item] = []
    held: list[pytest.Item] = []
    for n, item in enumerate(items):
        if item.path.name == "test_staff_anchor.py":
            held.append(item)
        else:
            ordered.append(item)
        following = items[n + 1] if n + 1 < len(items) else None
        if held and (following is None or key(following) != key(held[0])):
            ordered.extend(held)
            held = []
    items[:] = ordered


@dataclass
class World:
    net: LocalNetwork
    gateway: GatewayProcess
    siheung: str
    seongnam: str
    accounts: dict[str, LocalAccount]
    headers: dict[str, dict[str, str]]
    database_url: str

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.gateway.url, headers=self.headers[who], timeout=30)


def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.fixture(scope="package", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The whole HTTP suite runs once per backend (SQLite, then PostgreSQL)."""
    workdir = tmp_path_factory.mktemp("access")
    with gateway_database_url(request, workdir) as url:
        yield from _world(workdir, url)


def _world(workdir: Path, database_url: str) -> Iterator[World]:
    net = start_local_network(workdir / "net", (SIHEUNG, SEONGNAM))
    op = net.operator
    siheung, seongnam = (net.manifest.token(r).lower() for r in (SIHEUNG.region, 41130))
    accounts = {name: Account.create() for name in IDENTITIES if name != "anonymous"}
    op.register(net.manifest.registry, [accounts[n].address for n in
                                        ("citizen", "other_citizen")], "citizen")  # fmt: skip
    op.register(net.manifest.registry, [accounts["merchant"].address], "merchant")
    op.register_merchant(siheung, accounts["merchant"].address, SIHEUNG.region, 56111, 0, False)
    op.send(siheung, encode_issue(accounts["citizen"].address, 50_000, 45_000), "issue")
    grants = [
        (siheung, "auditor", "AUDITOR_ROLE"),
        (seongnam, "other_auditor", "AUDITOR_ROLE"),
        (siheung, "program_manager", "PROGRAM_MANAGER_ROLE"),
        (siheung, "admin", "DEFAULT_ADMIN_ROLE"),
        (siheung, "admin", "AUDITOR_ROLE"),
    ]
    op.send_calls(
        [(token, encode_function("grantRole", [role_id(r), accounts[w].address]))
         for token, w, r in grants],
        "grantRole",
    )  # fmt: skip
    # Staff send their own transactions (grant-role): the local chain charges gas.
    op.send_many([(accounts[w].address, b"", 10**18) for w in ("admin", "citizen")], "fund")
    # The package's suites sign in again and again from one loopback client, after the fuzzer
    # has failed thousands of sign-ins from it: the throttle is tested in tests/gateway/access.
    env = net.gateway_env(database_url, poll_interval_s="0.1", login_attempts_per_window="100000")
    with GatewayProcess(env, log_path=workdir / "gateway.log") as gateway:
        anonymous = httpx.Client(base_url=gateway.url, timeout=30)
        headers = {"anonymous": {}}
        for name, account in accounts.items():
            headers[name] = sign_in(anonymous, bytes(account.key))
        world = World(net, gateway, siheung, seongnam, accounts, headers, database_url)
        admin = world.client("admin")
        until(lambda: siheung in admin.get("/v1/me").json()["roles"], "the roles indexed")
        try:
            yield world
        finally:
            if net.node is not None:
                net.node.stop()
