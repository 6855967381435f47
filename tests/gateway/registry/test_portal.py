"""The public directory page in a real Chromium: a visitor without a wallet finds a
registered shop by name, and the page shows nothing private."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.http.conftest import until
from tests.gateway.portal.conftest import CHROMIUM, CHROMIUM_ARGS, page_errors, serious_violations
from tests.gateway.registry.conftest import RegistryWorld
from tests.gateway.registry.profiles import PRIVATE_VALUES, business_number
from tests.gateway.registry.test_flow import application, send_as

playwright_api = pytest.importorskip("playwright.sync_api")


def _registered_shop(world: RegistryWorld) -> str:
    """The other shop, applied and registered (its own name: independent of other tests)."""
    wallet = world.accounts["other_shop"].address
    base = f"/v1/tokens/{world.siheung}/merchant-applications"
    body = application(business_name="포털 꽃집", business_number=business_number("161803398"))
    assert world.client("other_shop").post(base, json=body).status_code == 201
    approval = world.client("registrar").post(f"{base}/{wallet}/approve", json={}).json()
    send_as(world, "registrar", approval["call"])
    anonymous = world.client("anonymous")
    directory = f"/v1/tokens/{world.siheung}/directory"
    until(lambda: anonymous.get(directory, params={"q": "꽃집"}).json()["items"], "registered")
    return wallet


def test_a_visitor_finds_a_shop_without_signing_in(world: RegistryWorld) -> None:
    wallet = _registered_shop(world)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=world.gateway.url, locale="ko-KR")
            page: Any = context.new_page()
            page.dongne_errors = []
            page.on("pageerror", lambda error: page.dongne_errors.append(str(error)))
            page.goto(f"/portal/resident/shops?token={world.siheung}")
            page.locator("#shops table").wait_for(timeout=30_000)
            page.fill("#shops-q", "꽃집")
            page.click("#shops-find")
            # The unfiltered list already holds this shop: wait for the search's answer (one
            # row), not for the row (seen before the search rendered, 3 rows, in one CI run).
            playwright_api.expect(page.locator("#shops tbody tr")).to_have_count(1, timeout=30_000)
            row = page.locator("#shops tbody tr", has_text="포털 꽃집")
            assert wallet[:6] in row.inner_text()
            assert page.locator("h1").inner_text() == "가맹점 찾기"  # Korean by default
            content = page.content()
            assert not any(value in content for value in PRIVATE_VALUES)
            assert page_errors(page) == []
            assert serious_violations(page) == []
        finally:
            browser.close()
