"""The funder report: each funder's share of discount subsidies and cashback under the plan
version in force at each event, merchants' own extras, the all-time report equal to the
chain's funderTotals and extraTotal to the won, and periods that add up to it exactly."""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chain.protocol.calls import (
    FundingShare,
    encode_activate_funding_plan,
    encode_propose_funding_plan,
    encode_set_extra_discount,
    funder_id,
)
from chain.reader import TokenReader
from gateway.audit.funders import FunderReport, funder_report
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import DAY, City

V1 = (FundingShare(funder_id("state"), 5_000, 4_000),
      FundingShare(funder_id("siheung"), 5_000, 6_000))  # fmt: skip
V2 = (FundingShare(funder_id("state"), 3_333, 2_000),
      FundingShare(funder_id("gyeonggi"), 1_667, 3_001),
      FundingShare(funder_id("siheung"), 5_000, 4_999))  # fmt: skip


def _plan(city: City, shares: tuple[FundingShare, ...]) -> None:
    city.op.send(city.token, encode_propose_funding_plan(shares), "proposeFundingPlan")
    city.warp(DAY + 1)  # the rules' change delay
    city.op.send(city.token, encode_activate_funding_plan(), "activateFundingPlan")


def _two_plans(city: City) -> tuple[int, int]:
    """A sale before any plan, sales and payments (cashback, a shop's own extra) under plan 1
    and under plan 2, in amounts whose shares round; answers the time each plan began."""
    shop, extra_shop = city.merchant(), city.merchant()
    city.act(extra_shop, encode_set_extra_discount(1_000))  # 10% off, funded by the shop
    a, b, c = city.citizens(3)
    city.issue(a, 100_000, 90_000)  # before any plan: nobody's
    _plan(city, V1)
    v1 = city.now()
    city.issue(b, 33_333, 30_001)
    city.pay(b, shop, 12_345)
    city.pay(b, extra_shop, 7_777)
    _plan(city, V2)
    v2 = city.now()
    city.issue(c, 55_555, 50_002)
    city.pay(c, shop, 23_457)
    city.pay(c, extra_shop, 9_999)
    city.pay(a, extra_shop, 3_333)
    return v1, v2


def _owed(report: FunderReport) -> dict[str, tuple[int, int]]:
    return {f.name: (f.subsidy, f.cashback) for f in report.funders}


class FunderTests:
    def test_all_time_equals_the_chain_and_periods_add_up(self, city: City, engine: Engine) -> None:
        v1, v2 = _two_plans(city)
        city.index(engine)
        everything = funder_report(engine, city.chain_id, city.token, None, None, city.rpc)
        assert everything.reconciled is True
        reader = TokenReader(city.rpc, to_checksum_address(city.token))
        names = ("state", "siheung", "gyeonggi")
        chain = dict(zip(names, reader.funder_totals([funder_id(n) for n in names]), strict=True))
        assert _owed(everything) == chain  # funderTotals, to the won
        assert everything.cashback > 0
        assert everything.unplanned_subsidy == 10_000
        shares = sum(s + c for s, c in chain.values())
        assert shares == everything.subsidy + everything.cashback - 10_000
        (extra,) = everything.merchant_extras
        assert extra.extras == extra.chain_extra_total > 0

        # Periods: plan 1's days and plan 2's add up to all time exactly, each funder.
        first = funder_report(engine, city.chain_id, city.token, 1, v2)
        second = funder_report(engine, city.chain_id, city.token, v2, city.now() + 1)
        assert first.reconciled is None
        assert second.reconciled is None
        for name in names:
            one, two = _owed(first).get(name, (0, 0)), _owed(second).get(name, (0, 0))
            assert (one[0] + two[0], one[1] + two[1]) == chain[name]
        assert _owed(first)["gyeonggi"] == (0, 0)  # not a funder under plan 1
        assert first.subsidy == 10_000 + 3_332
        assert second.subsidy == 5_553
        assert first.merchant_extras_total + second.merchant_extras_total == extra.extras
        only_plan_1 = funder_report(engine, city.chain_id, city.token, v1, v2)
        assert only_plan_1.unplanned_subsidy == 0
        assert _owed(only_plan_1)["state"][0] == 3_332 * 5_000 // 10_000


class FunderRouteTests:
    def test_the_funder_report_over_http(
        self, city: City, engine: Engine, client: TestClient
    ) -> None:
        _v1, v2 = _two_plans(city)
        city.index(engine)
        url = f"/v1/audit/{city.token}/funders"
        body = client.get(url).json()
        assert body["reconciled"] is True
        assert {f["name"] for f in body["funders"]} == {"state", "siheung", "gyeonggi"}
        period = client.get(url, params={"since": v2, "until": city.now() + 1}).json()
        assert period["reconciled"] is None
        assert period["subsidy"] == 5_553
        wrong = client.get(url, params={"since": v2, "until": v2})
        assert (wrong.status_code, wrong.json()["code"]) == (400, "InvalidRequest")


class TestFundersSQLite(SQLiteBackend, FunderTests, FunderRouteTests):
    pass


class TestFundersPostgres(PostgresBackend, FunderTests, FunderRouteTests):
    pass
