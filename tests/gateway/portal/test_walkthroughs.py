"""A walkthrough per role in Chromium, against the gateway and anvil: what each page shows is
what the API answers, and each role's main task works end to end."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gateway.audit.ledger import check_trailer
from tests.gateway.http.conftest import World
from wallet_sdk.qr import PaymentRequest

from .conftest import ROOT, inject_script, screenshot, sign_in

JSQR = ROOT / "node_modules" / "jsqr" / "dist" / "jsQR.js"


def _won(amount: int) -> str:
    return f"₩{amount:,}"


def test_the_officer_dashboard_shows_the_api_figures_and_charts(open_as: Any, world: World) -> None:
    page = open_as("admin")
    sign_in(page, world)
    assert page.url.endswith("/portal/officer/dashboard")
    page.locator(".chart svg").first.wait_for()
    figures = world.client("anonymous").get(f"/v1/tokens/{world.siheung}/dashboard").json()
    shown = {
        name: page.locator(f'[data-figure="{name}"] dd').inner_text()
        for name in ("issued_face", "payments", "payment_volume", "circulating", "holders")
    }
    assert shown == {
        "issued_face": _won(figures["issued_face"]),
        "payments": f"{figures['payments']:,}",
        "payment_volume": _won(figures["payment_volume"]),
        "circulating": _won(figures["circulating"]),
        "holders": f"{figures['holders']:,}",
    }
    assert page.locator(".chart").count() == 5
    # The series' last day closes at the dashboard's stocks.
    series = world.client("anonymous").get(f"/v1/tokens/{world.siheung}/series").json()
    assert series["days"][-1]["circulating"] == figures["circulating"]
    assert sum(d["payments"] for d in series["days"]) == figures["payments"]
    screenshot(page, "officer-dashboard")
    page.goto("/portal/officer/dashboard?lang=en")
    page.locator(".chart svg").first.wait_for()
    assert page.locator('[data-figure="payments"] dt').inner_text() == "Payments"
    screenshot(page, "officer-dashboard-en")


def test_the_resident_sees_pockets_soonest_expiry_first(open_as: Any, world: World) -> None:
    page = open_as("citizen")
    sign_in(page, world)
    assert page.url.endswith("/portal/resident/wallet")
    table = page.locator("#h-balances + .table table")
    table.wait_for()
    rows = table.locator("tbody tr").all_inner_texts()
    assert rows, "no pockets shown"
    balances = (
        world.client("citizen")
        .get(f"/v1/wallets/{world.accounts['citizen'].address}/balances")
        .json()
    )
    general = next(b["general"] for b in balances if b["token"].lower() == world.siheung)
    assert any(_won(general) in row for row in rows)
    expiries = [r.split("\t")[-1] for r in rows]
    dated = [e for e in expiries if "KST" in e]
    assert dated == sorted(dated)  # soonest first; undated (general) pockets last
    assert expiries[len(dated) :] == [e for e in expiries if "KST" not in e]
    page.locator("#h-caps + .table table").wait_for()
    page.locator("#h-history + .table table").wait_for()
    screenshot(page, "resident-wallet")


def test_the_merchant_poster_qr_decodes_to_its_payment_uri(open_as: Any, world: World) -> None:
    page = open_as("merchant")
    sign_in(page, world)
    assert page.url.endswith("/portal/merchant/sales")
    page.locator('[data-figure="gross"]').first.wait_for()
    # The fixture's redemption, paid by an issued settlement batch line.
    redeemed = page.locator("#h-settle ~ .table", has_text="0x5e5e").locator("tbody tr")
    redeemed.wait_for()
    lines = (
        world.client("merchant")
        .get(
            f"/v1/merchants/{world.accounts['merchant'].address}/settlements",
            params={"token": world.siheung},
        )
        .json()
    )
    assert len(lines) == 1
    assert lines[0]["line_reference"] in redeemed.inner_text(), redeemed.inner_text()
    page.goto("/portal/merchant/poster")
    page.fill("#shop-name", "동네 국수집")
    page.locator("#shop-name").dispatch_event("change")
    page.wait_for_function(
        "() => document.querySelector('#poster .shop')?.textContent === '동네 국수집'"
        " && document.querySelector('#qr')?.complete"
    )
    inject_script(page, JSQR)
    decoded = page.evaluate(
        """() => {
          const img = document.querySelector('#qr');
          const canvas = document.createElement('canvas');
          canvas.width = img.naturalWidth * 2; canvas.height = img.naturalHeight * 2;
          const ctx = canvas.getContext('2d');
          ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
          ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
          const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
          return jsQR(data.data, canvas.width, canvas.height)?.data ?? null;
        }"""
    )
    assert decoded is not None, "the poster's QR did not decode"
    request = PaymentRequest.parse(decoded)
    assert request.merchant.lower() == world.accounts["merchant"].address.lower()
    assert request.token.lower() == world.siheung
    assert request.label == "동네 국수집"
    assert request.amount is None  # a static code: the payer types the amount
    assert "Siheung" in page.locator("#poster .city-logo").inner_text()
    screenshot(page, "merchant-poster")
    page.goto("/portal/merchant/invoice")
    page.fill("#amount", "23000")
    page.click("#make")
    uri = page.locator("#qr").get_attribute("alt") or ""
    invoice = PaymentRequest.parse(uri)
    assert (invoice.amount, invoice.is_invoice) == (23_000, True)


def test_the_auditor_reconciles_and_downloads_a_verified_ledger(open_as: Any, world: World) -> None:
    page = open_as("auditor")
    sign_in(page, world)
    assert page.url.endswith("/portal/auditor/reconcile")
    page.click("#run")
    verdict = page.locator("#verdict")
    verdict.wait_for()
    api = world.client("auditor").get(f"/v1/audit/{world.siheung}/reconcile").json()
    assert api["ok"] is True
    assert verdict.get_attribute("class") == "ok"
    screenshot(page, "auditor-reconcile")
    page.goto("/portal/auditor/ledger")
    page.click("#run")
    page.locator("#verdict.ok").wait_for()
    with page.expect_download() as download:
        page.click("#save")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = check_trailer(text)
    assert rows >= 2  # the sale and the payment at least
    assert page.locator("#verdict").get_attribute("data-rows") == str(rows)
    screenshot(page, "auditor-ledger")
    for path in ("/portal/auditor/staff-log", "/portal/auditor/access-log"):
        page.goto(path)
        page.locator("#content table, #content .empty").first.wait_for()
        assert not page.locator(".error").count(), page.locator(".error").all_inner_texts()


def test_every_page_lists_only_local_urls(open_as: Any, world: World) -> None:
    page = open_as("admin")
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, world)
    page.locator(".chart svg").first.wait_for()
    outside = [u for u in requested if not re.match(re.escape(world.gateway.url), u)]
    assert outside == [], outside
