"""The portal in a real browser: Debian's Chromium driven by Playwright against one gateway
process on anvil (the HTTP suite's world: eight identities with on-chain roles), shared by
every walkthrough of the package.

Each identity's browser context gets an injected EIP-1193 provider (``window.ethereum``)
backed by its test key in this process: it signs messages and sends transactions to anvil,
as MetaMask would, so the pages run exactly the code a real wallet drives.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from chain.operator import role_id
from chain.protocol.contracts import encode_function
from chain.rpc import RpcClient
from tests.gateway.http.conftest import World, _world, until
from wallet_sdk import DongneClient, LocalKey

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("DONGNE_CHROMIUM", "/usr/bin/chromium")
# No downloads, no background traffic: the tests run on a closed network.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-dev-shm-usage",
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "portal"


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One gateway on SQLite (the HTTP suite covers PostgreSQL), with some money moved so the
    charts and pages have figures: a payment, and the merchant's sales."""
    workdir = tmp_path_factory.mktemp("portal")
    for world in _world(workdir, f"sqlite:///{workdir / 'gateway.db'}"):
        _prepare(world)
        yield world


def _prepare(world: World) -> None:
    net = world.net
    # The program manager commits programs with their own key: the local chain has gas.
    net.operator.send_many([(world.accounts["program_manager"].address, b"", 10**18)], "fund")
    # The admin also keeps the merchant register and the fraud settings, so one officer
    # walks through every officer page.
    admin = world.accounts["admin"].address
    net.operator.send_calls(
        [(world.siheung, encode_function("grantRole", [role_id(name), admin]))
         for name in ("MERCHANT_REGISTRAR_ROLE", "FRAUD_OFFICER_ROLE")],
        "grantRole",
    )  # fmt: skip
    citizen = LocalKey.from_private_key("0x" + bytes(world.accounts["citizen"].key).hex())
    with DongneClient(world.gateway.url, citizen) as client:
        client.wait(client.pay(world.siheung, world.accounts["merchant"].address, 12_000))
    mine = world.client("admin")
    until(
        lambda: "MERCHANT_REGISTRAR_ROLE" in mine.get("/v1/me").json()["roles"][world.siheung],
        "the admin's new roles indexed",
    )
    _allowance(world)
    _settled_redemption(world)
    anonymous = world.client("anonymous")
    until(
        lambda: anonymous.get(f"/v1/tokens/{world.siheung}/dashboard").json()["payments"] >= 1,
        "the payment indexed",
    )


def _allowance(world: World) -> None:
    """Program 1: ₩30,000 to the citizen, committed and pushed, so the program pages and the
    resident's pockets have something to show (the browser creates program 2)."""
    manager = world.client("program_manager")
    citizen = world.accounts["citizen"].address
    job = manager.post(
        "/v1/distributions", params={"token": world.siheung}, content=f"{citizen},30000\n",
        headers={"content-type": "text/csv"},
    ).json()  # fmt: skip
    call = manager.get(f"/v1/distributions/{job['id']}/commit-call", params={"days": 30}).json()
    world.net.operator.send(world.siheung, bytes.fromhex(call["data"][2:]), "createProgram")
    status = f"/v1/distributions/{job['id']}"
    until(lambda: manager.get(status).json()["program_id"] is not None, "the commit indexed")
    assert manager.post(f"{status}/push").status_code == 202
    until(lambda: manager.get(status).json()["status"] == "done", "the push")


def _settled_redemption(world: World) -> None:
    """The merchant redeems ₩5,000 and the city issues the settlement batch paying it."""
    shop = LocalKey.from_private_key("0x" + bytes(world.accounts["merchant"].key).hex())
    with DongneClient(world.gateway.url, shop) as client:
        client.wait(client.redeem(world.siheung, 5_000, REDEMPTION_REF))
    # A later block closes the window: a batch covers only what the index has passed.
    time.sleep(1.1)
    world.net.operator.send_many([(world.accounts["admin"].address, b"", 1)], "tick")
    with RpcClient(world.net.rpc_url) as rpc:
        head = rpc.block_number()
        block = rpc.get_block(head)
    assert block is not None
    closed_at = int(str(block["timestamp"]), 16)
    anonymous = world.client("anonymous")
    until(lambda: anonymous.get("/v1/indexer/status").json()["block_number"] >= head, "the index")
    window = {"since": closed_at - 3600, "until": closed_at}
    issued = world.client("admin").post(f"/v1/audit/{world.siheung}/settlements", json=window)
    assert issued.status_code == 201, issued.text


REDEMPTION_REF = bytes.fromhex("5e" * 32)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"no Chromium at {CHROMIUM}: run bash scripts/bootstrap.sh")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class InjectedWallet:
    """An EIP-1193 provider backed by a test key, answering the page from this process."""

    def __init__(self, key: bytes, rpc_url: str) -> None:
        self.account = Account.from_key(key)
        self.w3 = Web3(Web3.HTTPProvider(rpc_url))
        self.sent: list[str] = []

    def __call__(self, method: str, params_json: str) -> str:
        params = json.loads(params_json or "[]")
        return json.dumps(self.answer(method, params))

    def answer(self, method: str, params: list[Any]) -> object:
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [self.account.address]
        if method == "eth_chainId":
            return hex(self.w3.eth.chain_id)
        if method == "personal_sign":
            message = encode_defunct(hexstr=params[0])
            return "0x" + bytes(self.account.sign_message(message).signature).hex()
        if method == "eth_sendTransaction":
            tx = params[0]
            built = {
                "from": self.account.address,
                "to": Web3.to_checksum_address(tx["to"]),
                "data": tx["data"],
                "value": int(tx.get("value") or "0x0", 16),
                "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
                "chainId": self.w3.eth.chain_id,
                "gasPrice": self.w3.eth.gas_price,
            }
            built["gas"] = int(self.w3.eth.estimate_gas(built) * 1.3)  # type: ignore[arg-type]
            signed = self.account.sign_transaction(built)
            sent = "0x" + bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)).hex()
            self.sent.append(sent)
            return sent
        if method == "eth_getTransactionReceipt":
            found = self.w3.provider.make_request("eth_getTransactionReceipt", params)  # type: ignore[arg-type]
            return found.get("result")
        raise ValueError(f"the test wallet does not support {method}")


# Forwards the page's EIP-1193 requests to the test wallet (exposed as __dongneWallet).
PROVIDER_SCRIPT = """
window.ethereum = {
  isDongneTestWallet: true,
  async request({ method, params }) {
    const answer = await window.__dongneWallet(method, JSON.stringify(params || []));
    return JSON.parse(answer);
  },
};
"""


@pytest.fixture(scope="package")
def open_as(world: World, browser: Any) -> Iterator[Callable[[str], Any]]:
    """``open_as(who)``: a new page in a fresh context (own storage) whose injected wallet holds
    ``who``'s key; ``anonymous`` gets no wallet at all."""
    contexts: list[Any] = []

    def open_page(who: str) -> Any:
        context = browser.new_context(
            base_url=world.gateway.url, viewport={"width": 1280, "height": 800}, locale="ko-KR"
        )
        contexts.append(context)
        if who != "anonymous":
            wallet = InjectedWallet(bytes(world.accounts[who].key), world.net.rpc_url)
            context.expose_function("__dongneWallet", wallet)
            context.add_init_script(PROVIDER_SCRIPT)
        page = context.new_page()
        page.set_default_timeout(30_000)
        # A script error fails the test that caused it (see page_errors).
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.dongne_errors = errors
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Any, world: World) -> None:
    """Signs in with the injected wallet from the sign-in page; waits for the home page."""
    page.goto("/portal")
    page.click("#wallet-signin")
    page.wait_for_url(lambda url: "/portal/" in url and not url.endswith("/portal"))


def page_errors(page: Any) -> list[str]:
    """The uncaught script errors of ``page`` so far."""
    return list(page.dongne_errors)


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def inject_script(page: Any, path: Path) -> None:
    """Runs a test library (axe-core, jsQR) in the page. Through the DevTools protocol, not a
    <script> tag: the portal's Content-Security-Policy (script-src 'self') rightly refuses
    inline scripts, and the pages are tested under it."""
    page.evaluate(path.read_text() + "\n;undefined")


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        inject_script(page, AXE)
    found = page.evaluate(
        "async () => (await axe.run(document, { resultTypes: ['violations'] })).violations"
        ".map(v => ({ id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str) -> None:
    """Takes a screenshot of the page; with ``DONGNE_SCREENSHOTS=1`` it replaces the committed
    one under docs/portal/ (shown in the README), otherwise it goes to a scratch folder so a
    test run leaves the checkout as it was."""
    folder = SCREENSHOTS if os.environ.get("DONGNE_SCREENSHOTS") else _SCRATCH
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


_SCRATCH = Path(tempfile.gettempdir()) / "dongne-portal-screenshots"


def api(world: World, who: str) -> httpx.Client:
    return world.client(who)
