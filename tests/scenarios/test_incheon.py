"""Incheon's city currency (I-Money, region 28000), through the CLI, the SDK and HTTP only.

Residents charge at face value up to ₩500,000 a month; cashback is 10% at merchants with
revenue up to ₩300M and 5% elsewhere, on ₩300,000 of spending a month, paid 7:3 by the city
and the district (Namdong-gu); a bakery adds a 5% discount it funds itself; the city's delivery
app keeps 1% brokerage. Mid-month the district raises its share (a new funding plan, visible a
day ahead). Shops and the app are settled; each funder's bill is exact to the won; the auditor
reconciles and verifies the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chain.protocol.calls import FundingShare, funder_id
from gateway.devnet.city_rules import DELIVERY_FEE_BPS, INCHEON_FUNDING, incheon_rules
from wallet_sdk import exceptions as x

from .closing import FunderBill, audit, file_bank_accounts, funder_report, settle
from .conftest import Cast, LocalDongne, play
from .money import expect_balance, history, invoice, ref32, scan_and_pay

INCHEON = 28000
RULES = incheon_rules()
BPS = 10_000
BAKERY_EXTRA_BPS = 500
# The district's larger share from mid-month: city 6, district 4 of every 10.
FUNDING_V2 = (
    FundingShare(funder_id("incheon"), 6_000, 6_000),
    FundingShare(funder_id("incheon-namdong"), 4_000, 4_000),
)
CAST = {
    "hyejin": "Citizen 13",  # charges up to the cap, spends past the monthly cashback base
    "dongwook": "Citizen 14",  # the bakery's own discount on top of cashback
    "yerin": "Citizen 15",  # orders through the delivery app
    "bakery": "Incheon Bakery",  # tier 0, KSIC 10712
    "noodles": "Incheon Noodle house",  # tier 0: revenue up to ₩300M
    "grocery": "Incheon Grocery",  # tier 1: above ₩300M
    "delivery": "Incheon Delivery app",  # a platform merchant, 1% brokerage
}


@dataclass
class Incheon(Cast):
    REGION = INCHEON
    cashback: list[int] = field(default_factory=lambda: [0])  # per funding plan version

    def earned(self, amount: int) -> None:
        """Cashback paid under the funding plan in force."""
        self.cashback[-1] += amount


def residents_charge_up_to_the_monthly_cap(i: Incheon) -> None:
    """In the app at face value (Incheon pays cashback, no discount), from residents' bank
    accounts; the cap refuses the order before any money moves."""
    assert i.net.staff.sale_discount(i.token, 0).status_code == 200
    charges = {"hyejin": RULES.monthly_purchase_cap, "dongwook": 300_000, "yerin": 200_000}
    for who, face in charges.items():
        assert i.net.buy(i[who], i.token, face).price == face
    with pytest.raises(x.VoucherMonthlyPurchaseCapExceeded):
        i["hyejin"].buy(i.token, 10_000)
    for who, face in charges.items():
        expect_balance(i[who], i.token, face)


def cashback_ten_percent_below_300m_five_above(i: Incheon) -> None:
    """₩200,000 at a small shop earns ₩20,000; ₩150,000 at a larger one earns 5% of the
    ₩100,000 left of the ₩300,000 monthly base; after that, nothing."""
    scan_and_pay(i["hyejin"], invoice(i.net, i.address("noodles"), i.token, 200_000, "Catering"))
    scan_and_pay(i["hyejin"], invoice(i.net, i.address("grocery"), i.token, 150_000, "Kimchi"))
    scan_and_pay(i["hyejin"], invoice(i.net, i.address("noodles"), i.token, 10_000, "Jjolmyeon"))
    small = 200_000 * RULES.cashback_bps_tier0 // BPS
    large = (RULES.cashback_monthly_base - 200_000) * RULES.cashback_bps_tier1 // BPS
    assert (small, large) == (20_000, 5_000)
    expect_balance(i["hyejin"], i.token, 500_000 - 360_000 + small + large)
    paid = sorted(int(str(p.details["cashback"])) for p in history(i["hyejin"], i.token, "payment"))
    assert paid == [0, large, small]
    i.earned(small + large)


def a_bakery_adds_its_own_discount(i: Incheon) -> None:
    """The bakery funds 5% off itself: Dongwook is charged ₩19,000 for ₩20,000 of bread, the
    bakery receives ₩19,000, and the city's 10% cashback is on what he paid."""
    i["bakery"].wait(i["bakery"].set_extra_discount(i.token, BAKERY_EXTRA_BPS))
    i["dongwook"].wait(i["dongwook"].pay(i.token, i.address("bakery"), 20_000))
    charged = 20_000 - 20_000 * BAKERY_EXTRA_BPS // BPS
    cashback = charged * RULES.cashback_bps_tier0 // BPS
    assert (charged, cashback) == (19_000, 1_900)
    expect_balance(i["dongwook"], i.token, 300_000 - charged + cashback)
    expect_balance(i["bakery"], i.token, charged)
    i.earned(cashback)


def the_district_raises_its_share(i: Incheon) -> None:
    """A new funding plan is visible a day before it applies; then it is activated."""
    i.net.staff.propose_funding_plan(INCHEON, FUNDING_V2)
    pending = i.net.get(f"/v1/tokens/{i.token}/funding")["pending"]
    assert pending is None or pending["version"] == 2  # the index may still be a block behind
    i.net.clock.advance(RULES.change_delay + 1)
    i.net.staff.activate_funding_plan(INCHEON)
    i.cashback.append(0)


def an_order_through_the_delivery_app(i: Incheon) -> None:
    """₩30,000 of noodles ordered in the city's delivery app: the shop receives ₩29,700, the
    app ₩300 (1%), Yerin ₩3,000 cashback at the shop's rate."""
    order = i["yerin"].pay_through_platform(i.token, i.address("delivery"),
                                            i.address("noodles"), 30_000)  # fmt: skip
    i["yerin"].wait(order)
    fee = 30_000 * DELIVERY_FEE_BPS // BPS
    cashback = 30_000 * RULES.cashback_bps_tier0 // BPS
    assert (fee, cashback) == (300, 3_000)
    expect_balance(i["yerin"], i.token, 200_000 - 30_000 + cashback)
    expect_balance(i["delivery"], i.token, fee)
    expect_balance(i["noodles"], i.token, 210_000 + 30_000 - fee)
    i.earned(cashback)


def shops_and_the_app_are_settled(i: Incheon) -> None:
    shops = {i.address("noodles"): 56111, i.address("grocery"): 47121,
             i.address("bakery"): 10712, i.address("delivery"): 63120}  # fmt: skip
    file_bank_accounts(i.net, INCHEON, shops)
    redeemed = {
        i.address("noodles"): 210_000 + 29_700,
        i.address("grocery"): 150_000,
        i.address("bakery"): 19_000,
        i.address("delivery"): 300,
    }
    for who in ("noodles", "grocery", "bakery", "delivery"):
        i[who].wait(i[who].redeem(i.token, redeemed[i.address(who)], ref32(f"incheon/{who}")))
    settle(i.net, i.token, i.started, redeemed)


def each_funder_owes_its_share_to_the_won(i: Incheon) -> None:
    """Plan 1 (7:3) funds the cashback before the change, plan 2 (6:4) after; the bakery's
    own discount is the bakery's, not the city's."""
    assert i.cashback == [20_000 + 5_000 + 1_900, 3_000]
    bills = {"incheon": 0, "incheon-namdong": 0}
    for plan, cashback in zip((INCHEON_FUNDING, FUNDING_V2), i.cashback, strict=True):
        city = cashback * plan[0].cashback_bps // BPS
        bills["incheon"] += city
        bills["incheon-namdong"] += cashback - city
    assert bills == {"incheon": 18_830 + 1_800, "incheon-namdong": 8_070 + 1_200}
    funders = {name: FunderBill(0, owed) for name, owed in bills.items()}
    funder_report(i.net, INCHEON, subsidy=0, cashback=sum(i.cashback), funders=funders,
                  since=i.started, merchant_extras=20_000 - 19_000)  # fmt: skip


def the_auditor_reconciles(i: Incheon) -> None:
    audit(i.net, i.token)


STORY = (
    residents_charge_up_to_the_monthly_cap,
    cashback_ten_percent_below_300m_five_above,
    a_bakery_adds_its_own_discount,
    the_district_raises_its_share,
    an_order_through_the_delivery_app,
    shops_and_the_app_are_settled,
    each_funder_owes_its_share_to_the_won,
    the_auditor_reconciles,
)


@pytest.mark.slow
def test_incheon_stacked_cashback(dongne: LocalDongne) -> None:
    play(STORY, Incheon(dongne, CAST))
