"""Busan's city currency (Dongbaekjeon, region 26000), through the CLI, the SDK and HTTP only.

Residents charge vouchers at face value (no discount: Busan pays cashback instead), pay shops
by QR with no merchant fee and get cashback by the shop's size (7% small, 5% mid-size); the
city pushes disaster relief straight into existing accounts in one batch and a second policy
fund with its own shops and a later deadline; payments spend the soonest-expiring fund first
and each fund only where its rules allow. Shops redeem and are settled; the state and the city
each see their share of the cashback; the auditor reconciles and verifies the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.devnet.city_rules import BUSAN_FUNDING, busan_rules
from wallet_sdk import exceptions as x

from .closing import FunderBill, audit, file_bank_accounts, funder_report, settle
from .conftest import SUSPENDED, Cast, LocalDongne, play
from .money import expect_balance, history, invoice, recipients_csv, ref32, scan_and_pay

BUSAN = 26000
RULES = busan_rules()
CHARGE = 300_000
RELIEF_GRANT = 200_000  # food and groceries, 30 days
YOUTH_GRANT = 150_000  # the youth fund: bakeries and restaurants, 90 days
RELIEF_CATEGORIES = "10712,47121"  # bakeries, groceries
YOUTH_CATEGORIES = "10712,56111"  # bakeries, restaurants
CAST = {
    "mina": "Citizen 10",  # charges, pays by QR with cashback
    "jun": "Citizen 11",  # relief + youth fund, spends soonest-expiring first
    "eunji": "Citizen 12",  # relief + youth fund, a restaurant takes only the youth fund
    "bakery": "Busan Bakery",  # tier 0, KSIC 10712
    "noodles": "Busan Noodle house",  # tier 0, KSIC 56111
    "grocery": "Busan Grocery",  # tier 1, KSIC 47121
    "department": "Busan Department store",  # tier 3: over the revenue cap
}


@dataclass
class Busan(Cast):
    REGION = BUSAN
    relief: int = 0  # program ids
    youth: int = 0
    cashback: int = 0  # paid so far


def residents_charge_at_face_value(b: Busan) -> None:
    """Busan sells at face value: the city sets its in-app discount to none (a discount is
    refused by its rules, in the app as at a sales agent); residents charge in the app from
    their bank accounts."""
    # Until the city sets it, the gateway's default (10% off) is out of Busan's bounds: the
    # order is refused before any money moves.
    with pytest.raises(x.VoucherDiscountOutOfBounds):
        b["mina"].buy(b.token, CHARGE)
    refused = b.net.staff.sale_discount(b.token, 500)
    assert refused.json()["code"] == "VoucherDiscountOutOfBounds", refused.text
    assert b.net.staff.sale_discount(b.token, 0).status_code == 200
    for who in ("mina", "jun", "eunji"):
        order = b.net.buy(b[who], b.token, CHARGE)
        assert (order.face, order.price, order.discount_bps) == (CHARGE, CHARGE, 0)
    reason = b.net.cli_error(
        "city", "sell", b.address("mina"), "--region", str(BUSAN),
        "--face", "100000", "--paid", "95000",
    )  # fmt: skip
    assert "VoucherDiscountOutOfBounds" in reason
    for who in ("mina", "jun", "eunji"):
        expect_balance(b[who], b.token, CHARGE)


def qr_payments_earn_cashback_by_merchant_tier(b: Busan) -> None:
    """7% back at a small shop, 5% at a mid-size one; the shops receive the full price (QR
    costs merchants nothing); a department store over the revenue cap is refused."""
    scan_and_pay(b["mina"], invoice(b.net, b.address("noodles"), b.token, 20_000, "돼지국밥"))
    scan_and_pay(b["mina"], invoice(b.net, b.address("grocery"), b.token, 10_000, "Grocery"))
    small, mid = (
        20_000 * RULES.cashback_bps_tier0 // 10_000,
        10_000 * RULES.cashback_bps_tier1 // 10_000,
    )
    assert (small, mid) == (1_400, 500)
    expect_balance(b["mina"], b.token, CHARGE - 30_000 + small + mid)
    expect_balance(b["noodles"], b.token, 20_000)
    expect_balance(b["grocery"], b.token, 10_000)
    cashback = {
        p.counterparty: p.details["cashback"] for p in history(b["mina"], b.token, "payment")
    }
    assert cashback == {b.address("noodles"): small, b.address("grocery"): mid}
    with pytest.raises(x.VoucherMerchantOverRevenueCap) as refused:
        b["mina"].pay(b.token, b.address("department"), 50_000)
    assert refused.value.merchant == b.address("department")
    b.cashback += small + mid


def push_fund(b: Busan, name: str, grant: int, days: int, categories: str) -> dict[str, Any]:
    """The city's recipient list for one fund (Jun and Eunji), committed and pushed."""
    rows = [(b.address(who), grant) for who in ("jun", "eunji")]
    created: dict[str, Any] = b.net.cli(
        "program", "create", "--region", str(BUSAN),
        "--csv", str(recipients_csv(b.workdir / f"{name}.csv", rows)),
        "--days", str(days), "--categories", categories,
    )  # fmt: skip
    assert (created["pushed"], created["total"]) == (2, 2 * grant)
    return created


def relief_pushed_to_existing_accounts(b: Busan) -> None:
    """Two funds, each with its own shops and deadline, credited in one batch each to the
    accounts residents already have: no claim, no extra step."""
    relief = push_fund(b, "relief", RELIEF_GRANT, 30, RELIEF_CATEGORIES)
    youth = push_fund(b, "youth", YOUTH_GRANT, 90, YOUTH_CATEGORIES)
    assert int(relief["expiry"]) < int(youth["expiry"])
    b.relief, b.youth = int(relief["program_id"]), int(youth["program_id"])
    for who in ("jun", "eunji"):
        pockets = {b.relief: RELIEF_GRANT, b.youth: YOUTH_GRANT}
        expect_balance(b[who], b.token, CHARGE, pockets)


def funds_spent_soonest_expiring_first_each_by_its_rules(b: Busan) -> None:
    """At the bakery (both funds allowed) relief, expiring first, goes first and the youth
    fund covers the rest; at the grocery only relief would do, so, relief spent, the app pays
    from purchased money (with cashback); at the restaurant only the youth fund is allowed."""
    paid = b["jun"].pay(b.token, b.address("bakery"), 250_000)
    assert paid.program_ids == (b.relief, b.youth)
    b["jun"].wait(paid)
    left = RELIEF_GRANT + YOUTH_GRANT - 250_000
    expect_balance(b["jun"], b.token, CHARGE, {b.youth: left})
    paid = b["jun"].pay(b.token, b.address("grocery"), 20_000)
    assert paid.program_ids == ()  # the youth fund is not for groceries
    b["jun"].wait(paid)
    cashback = 20_000 * RULES.cashback_bps_tier1 // 10_000
    expect_balance(b["jun"], b.token, CHARGE - 20_000 + cashback, {b.youth: left})
    b.cashback += cashback

    with pytest.raises(x.ProgramCategoryNotAllowed) as refused:
        b["eunji"].pay(b.token, b.address("noodles"), 30_000, pockets=[b.relief])
    assert (refused.value.program_id, refused.value.category) == (b.relief, 56111)
    paid = b["eunji"].pay(b.token, b.address("noodles"), 30_000)
    assert paid.program_ids == (b.youth,)
    b["eunji"].wait(paid)
    pockets = {b.relief: RELIEF_GRANT, b.youth: YOUTH_GRANT - 30_000}
    expect_balance(b["eunji"], b.token, CHARGE, pockets)  # policy money earns no cashback
    (payment,) = history(b["eunji"], b.token, "payment")
    assert payment.details["cashback"] == 0


def shops_redeem_and_are_settled(b: Busan) -> None:
    shops = {b.address("bakery"): 10712, b.address("noodles"): 56111,
             b.address("grocery"): 47121}  # fmt: skip
    file_bank_accounts(b.net, BUSAN, shops)
    redeemed = {
        b.address("bakery"): 250_000,
        b.address("noodles"): 20_000 + 30_000,
        b.address("grocery"): 10_000 + 20_000,
    }
    for who in ("bakery", "noodles", "grocery"):
        amount = redeemed[b.address(who)]
        expect_balance(b[who], b.token, amount)
        b[who].wait(b[who].redeem(b.token, amount, ref32(f"busan/{who}/day-1")))
    settle(b.net, b.token, b.started, redeemed)


def a_suspended_shop_takes_no_payments(b: Busan) -> None:
    """The city suspends a shop (say, under investigation): payments to it are refused."""
    b.net.staff.suspend_merchant(BUSAN, b.address("noodles"))
    with pytest.raises(x.VoucherMerchantInactive) as refused:
        b["mina"].pay(b.token, b.address("noodles"), 5_000)
    assert (refused.value.merchant, refused.value.merchant_status) == (
        b.address("noodles"), SUSPENDED)  # fmt: skip


def the_state_and_the_city_see_their_share(b: Busan) -> None:
    """No discount was sold, so no subsidy; the cashback splits 40/60 to the won."""
    state, city = (share.cashback_bps for share in BUSAN_FUNDING)
    assert b.cashback == 1_400 + 500 + 1_000
    state_bill = b.cashback * state // 10_000
    funders = {"state": FunderBill(0, state_bill), "busan": FunderBill(0, b.cashback - state_bill)}
    assert funders["busan"].cashback == b.cashback * city // 10_000 == 1_740
    funder_report(b.net, BUSAN, subsidy=0, cashback=b.cashback, funders=funders,
                  since=b.started)  # fmt: skip


def the_auditor_reconciles(b: Busan) -> None:
    audit(b.net, b.token)
    for program in (b.relief, b.youth):
        report = b.net.get(f"/v1/audit/{b.token}/programs/{program}/verify")
        assert report["ok"], report["problems"]


STORY = (
    residents_charge_at_face_value,
    qr_payments_earn_cashback_by_merchant_tier,
    relief_pushed_to_existing_accounts,
    funds_spent_soonest_expiring_first_each_by_its_rules,
    shops_redeem_and_are_settled,
    a_suspended_shop_takes_no_payments,
    the_state_and_the_city_see_their_share,
    the_auditor_reconciles,
)


@pytest.mark.slow
def test_busan_city_currency(dongne: LocalDongne, tmp_path: Path) -> None:
    play(STORY, Busan(dongne, CAST, tmp_path))
