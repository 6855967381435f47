"""How every scenario ends: merchants and refunding residents are paid to their bank accounts,
each funder sees what it owes, the auditor reconciles the index with the chain and verifies the
deployed code. And how the city learns those accounts: `dongne import merchants|residents`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.audit.bank_file import parse_bank_file
from gateway.registry.business_number import check_digit, format_business_number

from .conftest import LocalDongne, bank_account, eventually

MERCHANTS = (
    "wallet,business_name,business_number,address,legal_dong,category,tier,market,latitude,"
    "longitude,phone,email,bank_code,bank_account,account_holder"
)
RESIDENTS = "wallet,kyc_ref,bank_code,bank_account,account_holder"
BANK = "011"  # NH (농협)


@dataclass(frozen=True)
class FunderBill:
    """What one funder owes: its share of discount subsidies and of cashback, in won."""

    subsidy: int
    cashback: int


def business_number(wallet: str) -> str:
    first_nine = f"{int(wallet, 16) % 10**9:09d}"
    return format_business_number(first_nine + str(check_digit(first_nine)))


def file_bank_accounts(
    net: LocalDongne, region: int, shops: dict[str, int], residents: tuple[str, ...] = ()
) -> None:
    """The city's lists with each payee's bank account, one import each: shops (wallet ->
    KSIC category; registered already, so only their profiles are written) and residents."""
    dong = f"{region or 11110:05d}10100"  # the national voucher's stalls: any city's dong
    rows = [
        [shop, f"Shop {shop[2:8]}", business_number(shop), "1 Sijang-ro", dong, str(category),
         "0", "1" if region == 0 else "0", "", "", "", "", BANK, bank_account(shop),
         f"Shop {shop[2:8]}"]
        for shop, category in shops.items()
    ]  # fmt: skip
    net.staff.import_csv("merchants", region, MERCHANTS, rows)
    if residents:
        people = [[who, f"kyc-{who[2:10]}", BANK, bank_account(who), f"Resident {who[2:6]}"]
                  for who in residents]  # fmt: skip
        net.staff.import_csv("residents", None, RESIDENTS, people)


def settle(
    net: LocalDongne,
    token: str,
    since: int,
    redeemed: dict[str, int],
    refunds: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The settlement batch of the redemptions (and refunds' cash) since ``since``: it
    reconciles with the burns; the bank file pays each merchant what it redeemed and each
    refunding resident their cash, to the accounts they filed; its control totals are the sum
    of its lines = burns + refund cash; its JSON twin says the same to the won."""
    refunds = refunds or {}
    window = {"since": since, "until": net.clock.now() + 1}
    path = f"/v1/audit/{token}/settlements"

    def issue() -> dict[str, Any] | None:
        response = net.api.post(path, json=window)
        if response.status_code == 409 and response.json().get("code") == "SettlementWindowOpen":
            return None  # the index has not passed the window's end yet
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    batch = eventually(issue, "the settlement window is indexed")
    total = sum(redeemed.values())
    assert batch["reconciled"], batch["unmatched"]
    assert batch["total"] == batch["burned"] == total
    assert batch["redemptions"] == len(redeemed)
    assert {line["merchant"]: line["amount"] for line in batch["merchants"]} == redeemed
    assert batch["refund_cash"] == sum(refunds.values())
    held = [line for line in batch["lines"] if line["status"] == "held"]
    assert held == [], "every payee filed a bank account"
    raw = net.api.get(f"{path}/{batch['reference']}/file", params={"format": "bank"})
    assert raw.status_code == 200, raw.text
    twin = net.get(f"{path}/{batch['reference']}/file", format="json")
    parsed = parse_bank_file(raw.content)
    assert parsed.model_dump() == twin
    paid = total + sum(refunds.values())
    amounts = [line.amount for line in parsed.lines]
    assert parsed.header.total == parsed.trailer.total == sum(amounts) == paid
    assert parsed.header.count == parsed.trailer.count == len(amounts)
    expected = {("redemption", who.lower()): (bank_account(who), won)
                for who, won in redeemed.items()}  # fmt: skip
    expected |= {("refund", who.lower()): (bank_account(who), won) for who, won in refunds.items()}
    lines = {(line.kind, line.payee.lower()): (line.account, line.amount) for line in parsed.lines}
    assert lines == expected
    assert {line.bank_code for line in parsed.lines} == {BANK}
    return batch


def funder_report(
    net: LocalDongne,
    region: int,
    *,
    subsidy: int,
    cashback: int,
    funders: dict[str, FunderBill],
    since: int,
    merchant_extras: int = 0,
    since_first_plan: FunderBill | None = None,
    in_window: dict[str, FunderBill] | None = None,
) -> dict[str, Any]:
    """Who pays for the city's discounts and cashback: the auditor's funder report, all time
    (each funder's bill, reconciled with the token's own views on chain) and for the
    scenario's window since ``since`` (``in_window``, by default the same bills); the public
    funding page agrees. The bills add up to the totals, or to ``since_first_plan`` when the
    city adopted its first funding plan after selling (what came before has no funder)."""
    token = net.token(region)
    if funders:  # shares are cut by cumulative basis points: the bills add up to the won
        funded = since_first_plan or FunderBill(subsidy, cashback)
        assert sum(b.subsidy for b in funders.values()) == funded.subsidy
        assert sum(b.cashback for b in funders.values()) == funded.cashback

    def indexed() -> dict[str, Any] | None:
        report: dict[str, Any] = net.get(f"/v1/tokens/{token}/funding")
        done = (report["subsidy_total"], report["cashback_total"]) == (subsidy, cashback)
        return report if done and report["merchant_extras"] == merchant_extras else None

    public = eventually(indexed, f"the index's funding totals of {region}")
    assert {f["name"]: FunderBill(f["subsidy"], f["cashback"]) for f in public["funders"]} == (
        funders)  # fmt: skip

    def bills(report: dict[str, Any]) -> dict[str, FunderBill]:
        found = {f["name"]: FunderBill(f["subsidy"], f["cashback"]) for f in report["funders"]}
        return {name: bill for name, bill in found.items() if bill != FunderBill(0, 0)}

    report: dict[str, Any] = net.get(f"/v1/audit/{token}/funders")
    assert report["reconciled"] is True, report
    assert (report["subsidy"], report["cashback"]) == (subsidy, cashback)
    assert report["merchant_extras_total"] == merchant_extras
    assert bills(report) == {n: b for n, b in funders.items() if b != FunderBill(0, 0)}
    for funder in report["funders"]:  # to the won, as the chain's funderTotals says
        assert (funder["chain_subsidy"], funder["chain_cashback"]) == (
            funder["subsidy"], funder["cashback"])  # fmt: skip
    window = net.get(f"/v1/audit/{token}/funders", since=since, until=net.clock.now() + 1)
    assert window["reconciled"] is None  # a period is not checked against all-time views
    expected = funders if in_window is None else in_window
    assert bills(window) == {n: b for n, b in expected.items() if b != FunderBill(0, 0)}
    return report


def audit(net: LocalDongne, token: str) -> None:
    """Every balance, pocket and program the index derived matches the chain's own views; the
    deployed code is what the pinned sources compile to."""
    report: dict[str, Any] = net.get(f"/v1/audit/{token}/reconcile")
    assert report["ok"], report["differences"]
    assert report["total_supply_index"] == report["total_supply_chain"] > 0
    assert report["holders_checked"] > 0
    code = net.verify_code()
    assert code["ok"], code["failures"]
    assert {c["status"] for c in code["contracts"]} == {"match"}
