"""The national traditional-market voucher (Onnuri, region 0), through the CLI, the SDK and
HTTP only.

Sold at 5-15% off with the state paying the discount (the demo sold every citizen ₩200,000
for ₩180,000); spent like cash at market stalls in several cities (Siheung, Seongnam, Busan)
and nowhere else; no cashback; the rest refunded in cash once 60% is spent, at the price paid
(the subsidy stays with the state), refused at 59%. Stalls are settled; the state's bill is
every sale's discount; the auditor reconciles and verifies the code.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.devnet.city_rules import market_rules
from wallet_sdk import exceptions as x

from .closing import FunderBill, audit, file_bank_accounts, funder_report, settle
from .conftest import Cast, LocalDongne, play
from .money import expect_balance, history, ref32, scan_and_pay, static_code

NATIONAL = 0
RULES = market_rules()
DEMO_FACE, DEMO_PAID = 200_000, 180_000  # the demo's sale to each of its 20 citizens
DEMO_CITIZENS = 20
CAST = {
    "hana": "Citizen 18",  # shops in three cities' markets, then cashes the rest
    "minseo": "Citizen 19",  # buys more at the deepest discount allowed
    "fish": "Market fish stall",  # a market in Siheung
    "produce": "Market produce stall",  # a market in Seongnam
    "dried": "Market dried-fish stall",  # Jagalchi market, Busan
    "bakery": "Siheung Bakery",  # an ordinary shop, not a market store
}


@dataclass
class Market(Cast):
    REGION = NATIONAL

    def pay_at_stall(self, who: str, stall: str, amount: int) -> None:
        """The stall's printed QR code, the amount typed by the buyer."""
        code = static_code(self.net, self.address(stall), self.token, stall)
        scan_and_pay(self[who], code, amount)


def sold_within_the_discount_bounds(m: Market) -> None:
    """15% off is the deepest discount the app may sell at; 20% is refused. Minseo buys in
    the app and pays from her bank account."""
    refused = m.net.staff.sale_discount(m.token, 2_000)
    assert refused.json()["code"] == "VoucherDiscountOutOfBounds", refused.text
    assert m.net.staff.sale_discount(m.token, RULES.max_discount_bps).status_code == 200
    order = m.net.buy(m["minseo"], m.token, 100_000)
    assert 100_000 - order.price == 100_000 * RULES.max_discount_bps // 10_000 == 15_000
    expect_balance(m["minseo"], m.token, DEMO_FACE + 100_000)


def spent_at_market_stalls_in_three_cities(m: Market) -> None:
    """₩118,000 at stalls in Siheung, Seongnam and Busan: no cashback; an ordinary bakery
    cannot take the market voucher."""
    m.pay_at_stall("hana", "fish", 50_000)
    m.pay_at_stall("hana", "produce", 40_000)
    m.pay_at_stall("hana", "dried", 28_000)
    with pytest.raises(x.VoucherNotMerchant) as refused:
        m["hana"].pay(m.token, m.address("bakery"), 10_000)
    assert refused.value.account == m.address("bakery")
    expect_balance(m["hana"], m.token, DEMO_FACE - 118_000)
    for stall, amount in (("fish", 50_000), ("produce", 40_000), ("dried", 28_000)):
        expect_balance(m[stall], m.token, amount)
    assert {p.details["cashback"] for p in history(m["hana"], m.token, "payment")} == {0}


def cash_refund_refused_at_59_percent_paid_at_60(m: Market) -> None:
    """59% spent is not enough; after ₩2,000 more (60%) the remaining ₩80,000 is refunded at
    the price paid: ₩80,000 less its ₩8,000 discount subsidy."""
    with pytest.raises(x.VoucherRefundThresholdNotMet) as early:
        m["hana"].refund(m.token)
    assert (early.value.spent_bps, early.value.required_bps) == (5_900, RULES.refund_threshold_bps)
    m.pay_at_stall("hana", "fish", 2_000)
    m["hana"].wait(m["hana"].refund(m.token))
    # The refund's cash goes to Hana's bank account in the settlement (see the stalls').
    expect_balance(m["hana"], m.token, 0)
    remaining = DEMO_FACE - 120_000
    subsidy = remaining * (DEMO_FACE - DEMO_PAID) // DEMO_FACE
    (refund,) = history(m["hana"], m.token, "refund")
    assert (refund.amount, refund.details["cash"]) == (remaining, remaining - subsidy) == (
        80_000, 72_000)  # fmt: skip


def stalls_are_settled(m: Market) -> None:
    redeemed = {m.address("fish"): 52_000, m.address("produce"): 40_000,
                m.address("dried"): 28_000}  # fmt: skip
    stalls = {m.address(who): 47_211 for who in ("fish", "produce", "dried")}
    file_bank_accounts(m.net, NATIONAL, stalls, (m.address("hana"),))
    for who in ("fish", "produce", "dried"):
        m[who].wait(m[who].redeem(m.token, redeemed[m.address(who)], ref32(f"onnuri/{who}")))
    settle(m.net, m.token, m.started, redeemed, refunds={m.address("hana"): 72_000})


def the_state_pays_every_discount(m: Market) -> None:
    subsidy = DEMO_CITIZENS * (DEMO_FACE - DEMO_PAID) + 15_000
    funder_report(m.net, NATIONAL, subsidy=subsidy, cashback=0,
                  funders={"state": FunderBill(subsidy, 0)}, since=m.started,
                  in_window={"state": FunderBill(15_000, 0)})  # fmt: skip


def the_auditor_reconciles(m: Market) -> None:
    audit(m.net, m.token)


STORY = (
    sold_within_the_discount_bounds,
    spent_at_market_stalls_in_three_cities,
    cash_refund_refused_at_59_percent_paid_at_60,
    stalls_are_settled,
    the_state_pays_every_discount,
    the_auditor_reconciles,
)


@pytest.mark.slow
def test_market_voucher_nationwide(dongne: LocalDongne) -> None:
    play(STORY, Market(dongne, CAST))
