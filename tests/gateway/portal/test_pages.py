"""Every page of the portal, opened by a role that may use it: it loads without a script
error or an error box, passes axe-core with no serious or critical violation, and is
screenshotted under docs/portal/ (the README shows them)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.portal import PAGES
from tests.gateway.http.conftest import World

from .conftest import page_errors, screenshot, serious_violations, sign_in

# Who opens each section's pages: the admin holds every officer and auditor role used here.
OPENER = {"officer": "admin", "auditor": "admin", "merchant": "merchant", "resident": "citizen"}
# Pages whose buttons run the check they exist for, before the screenshot.
RUN = {"auditor.reconcile", "auditor.ledger", "auditor.code", "auditor.verify"}


@pytest.fixture(scope="module")
def signed_in(open_as: Any, world: World) -> dict[str, Any]:
    pages = {}
    for who in sorted(set(OPENER.values())):
        page = open_as(who)
        sign_in(page, world)
        pages[who] = page
    return pages


def _settled(page: Any) -> None:
    page.wait_for_load_state("networkidle")
    # A function, not an expression string: polling a string evals it, which the CSP forbids.
    page.wait_for_function("() => !document.querySelector('#content .loading')")


def test_the_sign_in_page_passes_axe(open_as: Any, world: World) -> None:
    page = open_as("anonymous")
    page.goto("/portal")
    _settled(page)
    assert serious_violations(page) == []


@pytest.mark.parametrize("key", [p.key for p in PAGES])
def test_every_page_loads_and_passes_axe(signed_in: dict[str, Any], world: World, key: str) -> None:
    found = next(p for p in PAGES if p.key == key)
    page = signed_in[OPENER[found.section]]
    query = f"?token={world.siheung}" + ("&id=1" if key == "officer.program" else "")
    page.goto(found.path + query)
    _settled(page)
    if key in RUN:
        page.click("#run")
        page.locator("#verdict, #result .error").first.wait_for(timeout=180_000)
    if key == "officer.merchants":
        page.locator("#merchants table").wait_for()
    assert page.locator(".refused").count() == 0
    errors = page.locator(".error").all_inner_texts()
    assert errors == [], errors
    assert page_errors(page) == []
    assert serious_violations(page) == []
    screenshot(page, key.replace(".", "-"))


def test_a_registrar_suspends_and_reactivates_a_merchant(
    signed_in: dict[str, Any], world: World
) -> None:
    page = signed_in["admin"]
    merchant = world.accounts["merchant"].address
    page.goto(f"/portal/officer/merchants?token={world.siheung}")
    row = page.locator("#merchants tbody tr", has_text=merchant)
    row.wait_for()
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        # The first question is turned down: nothing is sent.
        (dialog.accept if len(asked) > 1 else dialog.dismiss)()

    page.on("dialog", answer)
    row.get_by_role("button", name="정지").click()
    row.get_by_role("button", name="정지").click()
    assert len(asked) == 2, asked
    assert merchant in asked[0]
    row.locator('[data-state="suspended"]').wait_for(timeout=30_000)
    api = world.client("admin").get(f"/v1/tokens/{world.siheung}/merchants").json()
    assert {m["merchant"]: m["status"] for m in api["items"]}[merchant] == "suspended"
    row = page.locator("#merchants tbody tr", has_text=merchant)
    row.get_by_role("button", name="✓ 재개").click()  # a text label, not the mark alone
    row.locator('[data-state="active"]').wait_for(timeout=30_000)
