"""The national QR rail in Seongnam (41130), through the CLI, the SDK and HTTP only.

Seongnam's vouchers are sold and paid on the national QR rail, and since August public bodies
pay their business expenses with it: the demo's public body (Seongnam Urban Development Corp)
holds ₩1,000,000 bought at face value, may pay ₩300,000 at most at a time and ₩1,000,000 a
month, never at bars, golf courses or gambling businesses. Its officer lets two employees
spend from it within their own monthly limits; they pay shops by scanning the shop's QR code,
which costs the shop nothing. The rules refuse each overreach with a typed exception; the
shops are settled; nobody funds a subsidy; the auditor reconciles and verifies the code.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.devnet.demo import (
    PUBLIC_BODY,
    PUBLIC_BODY_BUDGET,
    PUBLIC_BODY_PER_MONTH,
    PUBLIC_BODY_PER_PAYMENT,
)
from wallet_sdk import PaymentRequest
from wallet_sdk import exceptions as x

from .closing import audit, file_bank_accounts, funder_report, settle
from .conftest import Cast, LocalDongne, play
from .money import expect_balance, ref32, static_code

SEONGNAM = 41130
GOLF, BAR = 91121, 56211  # KSIC: golf courses, entertainment bars (blocked for the body)
CAST = {
    "body": PUBLIC_BODY,  # the institution's wallet, held by its finance officer
    "jaehyun": "Citizen 16",  # an employee: ₩200,000 a month
    "soyoung": "Citizen 17",  # an employee: ₩100,000 a month, later removed
    "noodles": "Seongnam Noodle house",  # tier 0, KSIC 56111
    "grocery": "Seongnam Grocery",  # tier 1, KSIC 47121
    "golf": "Seongnam Golf course",  # KSIC 91121, blocked for the body
    "bar": "Seongnam Bar",  # KSIC 56211, blocked for the body
}


@dataclass
class Rail(Cast):
    REGION = SEONGNAM
    spent: int = 0  # by the public body this month

    def pay_for_work(self, employee: str, merchant: str, amount: int) -> None:
        """The employee scans the shop's printed QR code and pays from the body's wallet."""
        scanned = PaymentRequest.parse(static_code(self.net, merchant, self.token, "업무추진비"))
        submission = self[employee].pay_as_employee(
            self.token, self.address("body"), scanned.merchant, amount
        )
        self[employee].wait(submission)
        self.spent += amount


def the_officer_authorises_employees(r: Rail) -> None:
    staff = r.net.staff
    staff.set_employee(r["body"], r.token, r.address("jaehyun"), 200_000)
    staff.set_employee(r["body"], r.token, r.address("soyoung"), 100_000)
    expect_balance(r["body"], r.token, PUBLIC_BODY_BUDGET)


def a_team_lunch_paid_by_qr_with_no_fee(r: Rail) -> None:
    """The shop receives the whole ₩150,000 (no merchant fee on the QR rail); a public body
    earns no cashback."""
    r.pay_for_work("jaehyun", r.address("noodles"), 150_000)
    expect_balance(r["noodles"], r.token, 150_000)
    expect_balance(r["body"], r.token, PUBLIC_BODY_BUDGET - 150_000)
    expect_balance(r["jaehyun"], r.token, 0)  # the employee's own wallet is untouched


def the_employee_limit_refuses_the_next_one(r: Rail) -> None:
    with pytest.raises(x.VoucherEmployeeLimitExceeded) as over:
        r["jaehyun"].pay_as_employee(r.token, r.address("body"), r.address("noodles"), 60_000)
    assert (over.value.employee, over.value.would_be, over.value.limit) == (
        r.address("jaehyun"), 210_000, 200_000)  # fmt: skip


def blocked_categories_refuse_golf_and_bars(r: Rail) -> None:
    for shop, category in ((r.address("golf"), GOLF), (r.address("bar"), BAR)):
        with pytest.raises(x.VoucherCategoryBlocked) as blocked:
            r["soyoung"].pay_as_employee(r.token, r.address("body"), shop, 30_000)
        assert (blocked.value.merchant, blocked.value.category) == (shop, category)


def the_body_limits_per_payment_and_per_month(r: Rail) -> None:
    """₩350,000 at once is over the ₩300,000 per payment; the city then lowers the body's
    month to ₩400,000, and ₩260,000 more would pass it while ₩250,000 fits exactly."""
    r.net.staff.set_employee(r["body"], r.token, r.address("jaehyun"), PUBLIC_BODY_PER_MONTH)
    with pytest.raises(x.VoucherInstitutionPaymentCapExceeded) as once:
        r["jaehyun"].pay_as_employee(r.token, r.address("body"), r.address("grocery"), 350_000)
    assert (once.value.amount, once.value.cap) == (350_000, PUBLIC_BODY_PER_PAYMENT)
    r.net.staff.set_institution_limits(SEONGNAM, r.address("body"), PUBLIC_BODY_PER_PAYMENT,
                                       400_000)  # fmt: skip
    with pytest.raises(x.VoucherInstitutionMonthlyCapExceeded) as month:
        r["jaehyun"].pay_as_employee(r.token, r.address("body"), r.address("grocery"), 260_000)
    assert (month.value.would_be, month.value.cap) == (r.spent + 260_000, 400_000)
    r.pay_for_work("jaehyun", r.address("grocery"), 250_000)
    expect_balance(r["body"], r.token, PUBLIC_BODY_BUDGET - 400_000)


def a_removed_employee_can_no_longer_pay(r: Rail) -> None:
    r.net.staff.set_employee(r["body"], r.token, r.address("soyoung"), 0)
    with pytest.raises(x.VoucherNotEmployee) as removed:
        r["soyoung"].pay_as_employee(r.token, r.address("body"), r.address("noodles"), 10_000)
    assert removed.value.employee == r.address("soyoung")


def shops_are_settled_in_full(r: Rail) -> None:
    redeemed = {r.address("noodles"): 150_000, r.address("grocery"): 250_000}
    file_bank_accounts(r.net, SEONGNAM, {r.address("noodles"): 56111,
                                         r.address("grocery"): 47121})  # fmt: skip
    for who in ("noodles", "grocery"):
        r[who].wait(r[who].redeem(r.token, redeemed[r.address(who)], ref32(f"seongnam/{who}")))
    settle(r.net, r.token, r.started, redeemed)


def nobody_funds_a_subsidy_and_the_auditor_reconciles(r: Rail) -> None:
    """Public money is bought at face value and earns no cashback: nothing for any funder."""
    funder_report(r.net, SEONGNAM, subsidy=0, cashback=0, funders={}, since=r.started)
    audit(r.net, r.token)


STORY = (
    the_officer_authorises_employees,
    a_team_lunch_paid_by_qr_with_no_fee,
    the_employee_limit_refuses_the_next_one,
    blocked_categories_refuse_golf_and_bars,
    the_body_limits_per_payment_and_per_month,
    a_removed_employee_can_no_longer_pay,
    shops_are_settled_in_full,
    nobody_funds_a_subsidy_and_the_auditor_reconciles,
)


@pytest.mark.slow
def test_public_body_expenses_on_the_qr_rail(dongne: LocalDongne) -> None:
    play(STORY, Rail(dongne, CAST))
