"""Demo wallets on the sign-in page: only for a gateway started with a demo key file and
secret, listening on loopback (``dongne up --demo``), to the URL printed with the secret;
everywhere else the path does not exist (in-process checks: test_security.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from gateway.devnet.process import GatewayProcess
from tests.gateway.http.conftest import World

from .conftest import screenshot

SECRET = "the-run-secret-printed-by-dongne-up"


def _demo_gateway(world: World, workdir: Path, **extra: str) -> GatewayProcess:
    keys = workdir / "portal-demo-keys.json"
    wallets = [
        {"role": "citizen", "name": "Citizen 1", "region": 41390,
         "address": world.accounts["citizen"].address,
         "private_key": "0x" + bytes(world.accounts["citizen"].key).hex()},
    ]  # fmt: skip
    keys.write_text(json.dumps(wallets))
    env = world.net.gateway_env(
        f"sqlite:///{workdir / 'gateway.db'}",
        poll_interval_s="0.1",
        portal_demo_keys=str(keys),
        portal_demo_secret=SECRET,
    )
    env.update({f"DONGNE_{k.upper()}": v for k, v in extra.items()})
    return GatewayProcess(env, log_path=workdir / "gateway.log")


def test_demo_wallets_sign_in_on_a_loopback_demo_gateway(
    world: World, browser: Any, tmp_path: Path
) -> None:
    with _demo_gateway(world, tmp_path) as gateway:
        wallets = f"{gateway.url}/portal/demo/wallets"
        listed = httpx.get(wallets, headers={"x-dongne-demo": SECRET}).json()
        assert httpx.get(wallets).status_code == 404  # the secret is required
        assert [w["address"] for w in listed["wallets"]] == [world.accounts["citizen"].address]
        context = browser.new_context(base_url=gateway.url, viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"/portal/?demo={SECRET}")  # as `dongne up --demo` prints it
            button = page.locator('.demo-wallet[data-role="citizen"]')
            button.wait_for()
            # Taken from the URL once, and kept for the tab only.
            assert page.url.endswith("/portal")
            assert page.evaluate("sessionStorage.getItem('dongne.demo_secret')") == SECRET
            screenshot(page, "signin-demo")
            button.click()  # signs here with the demo key: no browser wallet at all
            page.wait_for_url("**/portal/resident/wallet")
            page.locator("#h-balances + .table table").wait_for()
            assert errors == []
        finally:
            context.close()


def test_the_demo_path_does_not_exist_off_loopback(world: World, tmp_path: Path) -> None:
    # The same key file, but the gateway is published under a name others reach.
    with _demo_gateway(world, tmp_path, public_url="http://dongne.example:8000") as gateway:
        answer = httpx.get(f"{gateway.url}/portal/demo/wallets", headers={"x-dongne-demo": SECRET})
        assert (answer.status_code, answer.json()["code"]) == (404, "RouteNotFound")
        assert 'id="demo"' not in httpx.get(f"{gateway.url}/portal").text
