"""Settlement batches from redemptions: per-merchant totals in a window, the bank file, and the
totals reconciled with the burns."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, delete

from gateway.audit import settlement
from gateway.db.tables import index as t
from gateway.errors import GatewayError
from tests.fixtures.databases import PostgresBackend, SQLiteBackend
from tests.fixtures.wallets import Wallet

from .conftest import City


@dataclass
class Redeemed:
    since: int
    until: int
    m1: Wallet
    m2: Wallet


def _redemptions(city: City) -> Redeemed:
    """Two merchants paid by citizens; three redemptions inside a window, one before, one after."""
    m1, m2 = city.merchant(), city.merchant()
    c1, c2 = city.citizens(2)
    for citizen in (c1, c2):
        city.issue(citizen, 200_000)
    city.pay(c1, m1, 90_000)
    city.pay(c2, m1, 40_000)
    city.pay(c2, m2, 70_000)
    city.redeem(m1, 1_000, b"before".rjust(32, b"\0"))
    city.warp(60)
    since = city.now()
    city.redeem(m1, 30_000, b"m1-a".rjust(32, b"\0"))
    city.redeem(m2, 20_000, b"m2-a".rjust(32, b"\0"))
    city.redeem(m1, 10_000, b"m1-b".rjust(32, b"\0"))
    city.warp(60)
    until = city.now()
    city.redeem(m1, 5_000, b"after".rjust(32, b"\0"))
    return Redeemed(since, until, m1, m2)


class SettlementTests:
    def test_batch_per_merchant_reconciled_with_burns(self, city: City, engine: Engine) -> None:
        r = _redemptions(city)
        city.index(engine)
        batch = settlement.issue_batch(
            engine, city.chain_id, city.token, r.since, r.until, indexed_until=city.now()
        )
        assert batch.reference.startswith("STL-41390-")
        assert (batch.redemptions, batch.total, batch.burned) == (3, 60_000, 60_000)
        assert batch.reconciled
        assert batch.unmatched == []
        assert batch.issued_total == 60_000
        lines = {line.merchant: line for line in batch.merchants}
        one, two = lines[r.m1.address], lines[r.m2.address]
        assert (one.redemptions, one.amount, two.redemptions, two.amount) == (2, 40_000, 1, 20_000)
        assert [bytes.fromhex(ref[2:]).lstrip(b"\0") for ref in one.refs] == [b"m1-a", b"m1-b"]
        assert {one.line_reference, two.line_reference} == {
            f"{batch.reference}-00001",
            f"{batch.reference}-00002",
        }

        rows = list(csv.reader(io.StringIO(settlement.batch_csv(batch))))
        assert rows[0][:5] == ["record", "reference", "merchant", "redemptions", "amount"]
        details = {row[2]: row for row in rows[1:-1]}
        assert [row[0] for row in rows[1:]] == ["D", "D", "T"]
        assert details[r.m1.address][3:5] == ["2", "40000"]
        assert rows[-1][1:5] == [batch.reference, city.token, "3", "60000"]

        again = settlement.get_batch(engine, city.chain_id, batch.reference)
        assert (again.total, again.issued_total, again.reconciled) == (60_000, 60_000, True)
        assert [
            b.reference for b in settlement.list_batches(engine, city.chain_id, city.token)
        ] == [batch.reference]

    def test_windows_open_or_overlapping_are_refused(self, city: City, engine: Engine) -> None:
        r = _redemptions(city)
        city.index(engine)
        with pytest.raises(GatewayError) as open_window:
            settlement.issue_batch(
                engine, city.chain_id, city.token, r.since, r.until, indexed_until=r.until - 1
            )
        assert (open_window.value.code, open_window.value.status) == (
            "SettlementWindowOpen",
            409,
        )
        now = city.now()
        settlement.issue_batch(
            engine, city.chain_id, city.token, r.since, r.until, indexed_until=now
        )
        with pytest.raises(GatewayError) as overlap:
            settlement.issue_batch(
                engine, city.chain_id, city.token, r.since + 1, r.until + 1, indexed_until=now + 9
            )
        assert overlap.value.code == "SettlementOverlap"
        later = settlement.issue_batch(
            engine, city.chain_id, city.token, r.until, now + 1, indexed_until=now + 1
        )
        assert (later.redemptions, later.total) == (1, 5_000)  # the next window, no gap

    def test_a_redemption_without_its_burn_stops_the_batch(
        self, city: City, engine: Engine
    ) -> None:
        r = _redemptions(city)
        city.index(engine)
        preview = settlement.preview_batch(engine, city.chain_id, city.token, r.since, r.until)
        victim = preview.merchants[0]
        x = t.transfers.c
        with engine.begin() as conn:  # the index loses one burn: redeemed money not destroyed
            conn.execute(
                delete(t.transfers).where(
                    x.sender == victim.merchant.lower(),
                    x.recipient == "0x" + "00" * 20,
                    x.block_time >= r.since,
                    x.block_time < r.until,
                    x.amount == 10_000 if victim.amount == 40_000 else x.amount == 20_000,
                )
            )
        broken = settlement.preview_batch(engine, city.chain_id, city.token, r.since, r.until)
        assert not broken.reconciled
        assert len(broken.unmatched) == 1
        assert broken.total - broken.burned in (10_000, 20_000)
        with pytest.raises(GatewayError) as refused:
            settlement.issue_batch(
                engine, city.chain_id, city.token, r.since, r.until, indexed_until=city.now()
            )
        assert refused.value.code == "SettlementUnreconciled"
        assert refused.value.arguments["unmatched"] == broken.unmatched


class TestSettlementSQLite(SQLiteBackend, SettlementTests):
    pass


class TestSettlementPostgres(PostgresBackend, SettlementTests):
    pass
