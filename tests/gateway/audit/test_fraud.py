"""Fraud flags: a clean month raises none; a month with a planted cash-out pattern raises
exactly the rules it breaks, each explained by its thresholds and evidence rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import Engine

from gateway.audit import fraud
from gateway.audit.settlement import KST
from gateway.devnet.localnet import SIHEUNG, LocalNetwork
from tests.fixtures.databases import PostgresBackend, SQLiteBackend
from tests.fixtures.wallets import Wallet

from .conftest import CAFE, DAY, GROCERY, City

MINUTE, HOUR = 60, 3_600


@dataclass
class Months:
    city: City
    clean: tuple[int, int]  # [since, until) of the clean month
    planted: tuple[int, int]
    bad: Wallet  # the merchant cashing out
    owner: Wallet  # its owner's personal wallet, declared by the city
    family: Wallet  # funded by the owner; buys and pays the shop at once
    burst: list[Wallet]
    ring: list[Wallet]
    honest: list[Wallet]  # citizens of the background activity
    shops: list[Wallet]


def _month_start(ts: int, ahead: int) -> int:
    day = datetime.fromtimestamp(ts, KST).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(ahead):
        day = day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)
    return int(day.timestamp())


def _ordinary_month(city: City, people: list[Wallet], shops: list[Wallet]) -> None:
    """A month of honest use: purchases, varied payments over days, two round payments far
    apart, a gift chain that does not come back, a redemption."""
    for person in people:
        city.issue(person, 150_000)
    amounts = [12_300, 8_700, 23_450, 4_500, 17_800, 31_200, 9_900, 15_600]
    for day in range(8):
        city.warp(DAY + 3 * HOUR)
        for i, person in enumerate(people):
            if (day + i) % 2 == 0:
                city.pay(person, shops[(day + i) % len(shops)], amounts[(day + 2 * i) % 8])
    city.pay(people[0], shops[0], 10_000)
    city.warp(4 * DAY)
    city.pay(people[1], shops[0], 20_000)
    city.gift(people[0], people[1], 20_000)
    city.warp(HOUR)
    city.gift(people[1], people[2], 15_000)
    city.redeem(shops[0], 50_000)


@pytest.fixture(scope="module")
def months(network: LocalNetwork) -> Iterator[Months]:
    assert network.node is not None
    snapshot = network.node.snapshot()
    city = City(network, network.manifest.token(SIHEUNG.region))
    shops = [city.merchant(), city.merchant(GROCERY, tier=1)]
    bad = city.merchant(CAFE)
    honest = city.citizens(4)
    owner, family, *others = city.citizens(9)
    burst, ring = others[:4], others[4:]
    first = _month_start(city.now(), 1)
    city.warp_to(first + 2 * HOUR)
    _ordinary_month(city, honest, shops)
    second = _month_start(first, 1)
    city.warp_to(second + 2 * HOUR)

    for person in [owner, *burst, *ring]:
        city.issue(person, 150_000 if person in ring else 200_000)
    city.warp(DAY)
    city.gift(owner, family, 50_000)  # the owner funds a family wallet
    city.warp(DAY)
    city.issue(family, 500_000)  # bought in the family's name at 10% off ...
    city.warp(10 * MINUTE)
    city.pay(family, bad, 480_000)  # ... and spent at the owner's shop ten minutes later
    city.warp(2 * DAY)
    for round_ in range(2):  # eight payments of exactly ₩50,000 within forty minutes
        for person in burst:
            city.pay(person, bad, 50_000)
            city.warp(5 * MINUTE if round_ == 0 else 4 * MINUTE)
    city.warp(3 * DAY)
    for sender, recipient in zip(ring, [*ring[1:], ring[0]], strict=True):
        city.gift(sender, recipient, 100_000)  # round the ring in three hours
        city.warp(HOUR)
    city.warp(DAY)
    _ordinary_month(city, honest, shops)
    third = _month_start(second, 1)
    try:
        yield Months(city, (first, second), (second, third), bad, owner, family, burst, ring,
                     honest, shops)  # fmt: skip
    finally:
        assert network.node.revert(snapshot)


def _city_thresholds() -> fraud.Thresholds:
    """Siheung's own: a small cafe (tier 0) is not expected to take over ₩800k a month."""
    config = fraud.Thresholds()
    config.revenue_tier.monthly_cap_by_tier = {0: 800_000, 1: 2_000_000, 2: 10_000_000}
    return config


class FraudTests:
    @pytest.fixture
    def indexed(self, months: Months, engine: Engine) -> Engine:
        months.city.index(engine)
        c = months.city
        fraud.set_thresholds(engine, c.chain_id, c.token, _city_thresholds())
        owner = fraud.WalletLink(months.bad.address, months.owner.address, "owner", "KYC")
        fraud.set_links(engine, c.chain_id, c.token, months.bad.address, [owner])
        return engine

    def test_a_clean_month_is_not_flagged(self, months: Months, indexed: Engine) -> None:
        c = months.city
        assert fraud.flags(indexed, c.chain_id, c.token, *months.clean) == []

    def test_the_planted_cash_out_is_flagged_and_explained(
        self, months: Months, indexed: Engine
    ) -> None:
        c = months.city
        flags = fraud.flags(indexed, c.chain_id, c.token, *months.planted)
        ring = sorted(w.address for w in months.ring)
        assert [(f.rule, f.subject) for f in flags] == [
            ("buy_then_pay", months.bad.address),
            ("circular_gifts", months.ring[0].address),
            ("linked_wallet_payment", months.bad.address),
            ("revenue_tier", months.bad.address),
            ("round_amount_burst", months.bad.address),
        ]
        by_rule = {f.rule: f for f in flags}

        buy = by_rule["buy_then_pay"]
        assert buy.wallets == [months.family.address]
        assert buy.amount == 480_000
        assert [(e.kind, e.amount) for e in buy.evidence] == [
            ("sale", 500_000),
            ("payment", 480_000),
        ]
        assert buy.thresholds == {"enabled": True, "window_minutes": 30, "min_share_bps": 8_000,
                                  "min_face": 50_000}  # fmt: skip
        assert all(e.tx_hash and e.tx_hash.startswith("0x") for e in buy.evidence)

        linked = by_rule["linked_wallet_payment"]
        assert linked.wallets == [months.family.address]
        link, paid = linked.evidence
        assert (link.kind, link.sender, link.recipient, link.amount) == (
            "gift", months.owner.address, months.family.address, 50_000
        )  # fmt: skip
        assert (paid.kind, paid.amount) == ("payment", 480_000)

        burst = by_rule["round_amount_burst"]
        assert burst.amount == 400_000
        assert len(burst.evidence) == 8
        assert burst.wallets == sorted(w.address for w in months.burst)
        assert burst.last_time - burst.first_time <= 40 * MINUTE

        tier = by_rule["revenue_tier"]
        assert tier.amount == 880_000
        assert tier.thresholds["monthly_cap_by_tier"] == {
            "0": 800_000,
            "1": 2_000_000,
            "2": 10_000_000,
        }
        assert tier.evidence[0].kind == "month_total"
        assert len(tier.evidence) == 10

        cycle = by_rule["circular_gifts"]
        assert sorted([cycle.subject, *cycle.wallets]) == ring
        assert [e.amount for e in cycle.evidence] == [100_000] * 3
        assert "->" in cycle.summary

    def test_thresholds_decide(self, months: Months, indexed: Engine) -> None:
        c = months.city
        defaults = fraud.flags(
            indexed, c.chain_id, c.token, *months.planted, config=fraud.Thresholds()
        )
        assert "revenue_tier" not in {f.rule for f in defaults}  # ₩25M a month at tier 0
        quiet = _city_thresholds()
        quiet.round_amount_burst.min_count = 9
        quiet.circular_gifts.enabled = False
        fraud.set_thresholds(indexed, c.chain_id, c.token, quiet)
        assert fraud.thresholds(indexed, c.chain_id, c.token) == quiet
        rules = {f.rule for f in fraud.flags(indexed, c.chain_id, c.token, *months.planted)}
        assert rules == {"buy_then_pay", "linked_wallet_payment", "revenue_tier"}


class TestFraudSQLite(SQLiteBackend, FraudTests):
    pass


class TestFraudPostgres(PostgresBackend, FraudTests):
    pass
