"""Signing in to the portal: SIWE with the injected wallet, pages by role, sign-out, the
language switch, local assets only, and no demo wallets outside a loopback demo network
(and without its secret: test_demo.py, test_security.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.gateway.http.conftest import World

from .conftest import screenshot, sign_in


def test_pages_are_korean_by_default_and_load_nothing_from_elsewhere(world: World) -> None:
    http = httpx.Client(base_url=world.gateway.url)
    home = http.get("/portal")
    assert home.status_code == 200
    assert '<html lang="ko">' in home.text
    assert "지갑으로 로그인" in home.text
    english = http.get("/portal/officer/dashboard", params={"lang": "en"})
    assert '<html lang="en">' in english.text
    assert "Dashboard" in english.text
    # The choice sticks (a cookie), and every URL a page names is on this origin.
    assert http.get("/portal").text.startswith('<!doctype html>\n<html lang="en">')
    for page in (home, english):
        external = re.findall(r"""(?:src|href)=["'](?:https?:)?//[^"']+""", page.text)
        assert external == [], external
    assert http.get("/portal/vendor/echarts.min.js").status_code == 200
    assert http.get("/portal/static/build/wallet.js").status_code == 200
    missing = http.get("/portal/officer/nothing")
    assert (missing.status_code, missing.json()["code"]) == (404, "RouteNotFound")
    escape = http.get("/portal/static/../../settings.py")
    assert escape.status_code == 404


def test_the_demo_path_does_not_exist_outside_demo_mode(world: World) -> None:
    http = httpx.Client(base_url=world.gateway.url)
    answer = http.get("/portal/demo/wallets")
    assert (answer.status_code, answer.json()["code"]) == (404, "RouteNotFound")
    assert 'id="demo"' not in http.get("/portal").text


def test_a_citizen_signs_in_with_the_injected_wallet_and_out(open_as: Any, world: World) -> None:
    page = open_as("citizen")
    page.goto("/portal")
    screenshot(page, "signin")
    sign_in(page, world)
    assert page.url.endswith("/portal/resident/wallet")
    address = world.accounts["citizen"].address
    assert page.locator("#who code").get_attribute("title") == address.lower()
    # The menu shows a resident's pages only.
    assert page.locator('#nav [data-audience="resident"]').is_visible()
    assert page.locator('#nav [data-audience="officer"]').is_hidden()
    # What the pages remember in localStorage (the city, a shop's name) goes with the session.
    page.evaluate("localStorage.setItem('dongne.token', '0x1'); localStorage.setItem('other', 'x')")
    page.click("#signout")
    page.wait_for_url(re.compile(r"/portal$"))
    assert page.evaluate("sessionStorage.getItem('dongne.session')") is None
    assert page.evaluate("Object.keys(localStorage)") == ["other"]


def test_anonymous_visitors_and_citizens_are_refused_the_officer_pages(
    open_as: Any, world: World
) -> None:
    anonymous = open_as("anonymous")
    anonymous.goto("/portal/officer/dashboard")
    refused = anonymous.locator(".refused")
    refused.wait_for()
    assert "AuthRequired" in refused.inner_text()
    citizen = open_as("citizen")
    sign_in(citizen, world)
    for path in ("/portal/officer/dashboard", "/portal/officer/programs", "/portal/auditor/ledger"):
        citizen.goto(path)
        citizen.locator(".refused").wait_for()
        assert citizen.locator(".chart").count() == 0
