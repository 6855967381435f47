"""Automatic settlement: a batch per closed day at the cut-off, issued once; merchants'
redemptions and residents' refunds' cash as payout lines; lines held without an account and
released by a later batch; the bank's fixed-width file, its JSON twin and their control
totals; a window that does not reconcile is recorded, not paid, and released once it does."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, select

from chain.protocol.calls import encode_refund
from gateway.audit import bank_file, payouts, settlement
from gateway.audit.payees import BankAccount, mask_account, unusable
from gateway.audit.settlement_lines import merchant_settlements
from gateway.audit.settlement_schedule import Cutoffs, next_cutoff, previous_cutoff, run_due
from gateway.db import metadata
from gateway.db.tables import distribution as d
from gateway.db.tables import index as t
from gateway.db.tables import registry as g
from gateway.http.settlement_task import SETTLEMENT_LEASE, settle_once
from gateway.relayer.lease import Lease
from gateway.settings import Settings
from tests.fixtures.databases import PostgresBackend, SQLiteBackend
from tests.fixtures.wallets import Wallet

from .conftest import DAY, City


def _merchant_account(engine: Engine, city: City, shop: Wallet, number: str) -> None:
    row = {"chain_id": city.chain_id, "token": city.token.lower(),
           "merchant": shop.address.lower(), "business_name": "시흥 국수집",
           "business_number": "1234567891", "address": "경기도 시흥시 정왕동 1",
           "legal_dong": "4139013200", "category": 56111, "market": 0, "bank_code": "004",
           "bank_account": number, "account_holder": "김국수", "status": "registered",
           "tier": 0, "applied_at": time.time(), "updated_at": time.time()}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(g.merchant_profiles).values(row))


def _resident_account(engine: Engine, city: City, who: Wallet) -> None:
    row = {"chain_id": city.chain_id, "wallet": who.address.lower(), "bank_code": "088",
           "bank_account": "110-222-333444", "account_holder": "이환불",
           "updated_at": time.time()}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(g.resident_accounts).values(row))


@dataclass
class Day:
    cutoffs: Cutoffs
    cutoff: int  # the cut-off closing the day the money moved
    paid_shop: Wallet  # has an account
    held_shop: Wallet  # has none (yet)
    refunder: Wallet


def _a_day(city: City, engine: Engine) -> Day:
    """Before a cut-off a few minutes ahead: two shops redeem (one without an account), a
    resident refunds (face 15,000 at the price paid: cash 13,500); then the day closes."""
    start = city.now()
    at = datetime.fromtimestamp(start + 300, settlement.KST)
    cutoffs = Cutoffs(default=at.strftime("%H:%M"))
    cutoff = next_cutoff(start, cutoffs.of(41390))
    paid_shop, held_shop = city.merchant(), city.merchant()
    buyer, refunder = city.citizens(2)
    city.issue(buyer, 200_000)
    city.issue(refunder, 100_000, 90_000)
    city.pay(buyer, paid_shop, 60_000)
    city.pay(buyer, held_shop, 40_000)
    city.pay(refunder, paid_shop, 85_000)  # 85% of what it bought: past the 80% threshold
    city.redeem(paid_shop, 50_000)
    city.redeem(paid_shop, 10_000)
    city.redeem(held_shop, 30_000)
    city.act(refunder, encode_refund())
    assert city.now() < cutoff, "the day's money must move before its cut-off"
    _merchant_account(engine, city, paid_shop, "123-45-678901")
    _resident_account(engine, city, refunder)
    city.warp_to(cutoff + 5)
    city.index(engine)
    return Day(cutoffs, cutoff, paid_shop, held_shop, refunder)


def _catch_up(engine: Engine, city: City, cutoffs: Cutoffs) -> list[settlement.SettlementBatch]:
    """Passes until nothing is due (a fresh network may have days to catch up)."""
    issued: list[settlement.SettlementBatch] = []
    while batches := run_due(engine, city.chain_id, city.now(), cutoffs):
        issued += batches
    return issued


def _file(engine: Engine, batch: settlement.SettlementBatch) -> bank_file.BankFile:
    with engine.connect() as conn:
        lines = payouts.file_lines(conn, batch.reference)
    return bank_file.bank_json(batch, lines)


class SettlementFileTests:
    def test_each_closed_day_is_issued_once_with_refunds_and_held_lines(
        self, city: City, engine: Engine
    ) -> None:
        day = _a_day(city, engine)
        issued = _catch_up(engine, city, day.cutoffs)
        ours = [b for b in issued if b.until == day.cutoff]
        assert len(ours) == 1
        batch = ours[0]
        assert (batch.origin, batch.status, batch.reconciled) == ("auto", "released", True)
        assert batch.since == previous_cutoff(day.cutoff - 1, day.cutoffs.of(41390))
        # Windows follow one another: no gap, no overlap, from the first to this one.
        every = settlement.list_batches(engine, city.chain_id, city.token)
        assert all(a.until == b.since for a, b in itertools.pairwise(every))
        # The scheduler again (a restart reads only the table): nothing more, still one.
        assert run_due(engine, city.chain_id, city.now(), day.cutoffs) == []
        again = settlement.list_batches(engine, city.chain_id, city.token)
        assert [b.reference for b in again] == [b.reference for b in every]

        assert (batch.total, batch.burned, batch.refund_cash, batch.refund_face) == (
            90_000, 90_000, 13_500, 15_000,
        )  # fmt: skip
        lines = {(line.kind, line.payee): line for line in batch.lines}
        paid = lines[("redemption", day.paid_shop.address.lower())]
        held = lines[("redemption", day.held_shop.address.lower())]
        refund = lines[("refund", day.refunder.address.lower())]
        assert (paid.status, paid.amount, paid.events, paid.bank_account) == (
            "released", 60_000, 2, "123-45-678901",
        )  # fmt: skip
        assert (held.status, held.reason, held.amount, held.released_in) == (
            "held", "NoBankAccount", 30_000, None,
        )  # fmt: skip
        assert (refund.status, refund.amount, refund.burned) == ("released", 13_500, 15_000)

        # The bank file: header and trailer totals are the sum of its lines, which are the
        # burns and the refunds' cash less what is held; the JSON twin reads back from it.
        content = _file(engine, batch)
        raw = bank_file.bank_file(content)
        assert all(len(r) == bank_file.RECORD_BYTES for r in raw.split(b"\r\n")[:-1])
        assert bank_file.parse_bank_file(raw) == content
        amounts = [line.amount for line in content.lines]
        assert content.header.total == content.trailer.total == sum(amounts) == batch.payable
        assert content.header.count == content.trailer.count == 2
        assert sum(amounts) == batch.burned + batch.refund_cash - held.amount
        assert {(x.kind, x.account, x.holder) for x in content.lines} == {
            ("redemption", "123-45-678901", "김국수"),
            ("refund", "110-222-333444", "이환불"),
        }
        assert content.header.value_date > datetime.fromtimestamp(
            day.cutoff, settlement.KST
        ).strftime("%Y%m%d")
        tampered = raw.replace(b"000000000060000", b"000000000006000")
        with pytest.raises(ValueError, match="control totals"):
            bank_file.parse_bank_file(tampered)

        # The held shop files its account; the next day's batch pays its held line under
        # the line's first reference, and the shop sees it released, the account masked.
        before = merchant_settlements(engine, city.chain_id, city.token, day.held_shop.address)
        assert [(s.status, s.reason) for s in before] == [("held", "NoBankAccount")]
        _merchant_account(engine, city, day.held_shop, "555-66-778899")
        city.redeem(day.paid_shop, 1_000)
        city.warp_to(day.cutoff + DAY + 5)
        city.index(engine)
        (next_day,) = run_due(engine, city.chain_id, city.now(), day.cutoffs)
        assert (next_day.since, next_day.until) == (day.cutoff, day.cutoff + DAY)
        carried = _file(engine, next_day)
        assert [(x.line_reference, x.amount, x.account) for x in carried.lines] == [
            (held.line_reference, 30_000, "555-66-778899"),
            (f"{next_day.reference}-00001", 1_000, "123-45-678901"),
        ]
        assert next_day.payable == 31_000
        after = merchant_settlements(engine, city.chain_id, city.token, day.held_shop.address)
        assert [(s.status, s.released_in, s.bank_account) for s in after] == [
            ("released", next_day.reference, "***-***-8899")
        ]
        # Paid once: the third day releases nothing held any more.
        city.warp_to(day.cutoff + 2 * DAY + 5)
        city.index(engine)
        (third,) = run_due(engine, city.chain_id, city.now(), day.cutoffs)
        assert (third.payable, _file(engine, third).lines) == (0, [])
        assert payouts.mark_paid(engine, city.chain_id, next_day.reference) == 2
        paid_later = merchant_settlements(engine, city.chain_id, city.token, day.held_shop.address)
        assert [s.status for s in paid_later] == ["paid"]

    def test_a_window_that_does_not_reconcile_waits_unpaid(
        self, city: City, engine: Engine
    ) -> None:
        day = _a_day(city, engine)
        _catch_up(engine, city, day.cutoffs)  # the days before ours, if any
        every = settlement.list_batches(engine, city.chain_id, city.token)
        (ours,) = [b.reference for b in every if b.until == day.cutoff]
        with engine.begin() as conn:  # forget our batch, and the index loses one of its burns
            conn.execute(
                delete(d.settlement_batches).where(d.settlement_batches.c.reference == ours)
            )
            payouts.forget(conn, ours)
            x = t.transfers.c
            burn = conn.execute(
                select(t.transfers).where(
                    x.sender == day.held_shop.address.lower(), x.recipient == "0x" + "00" * 20
                )
            ).one()
            conn.execute(delete(t.transfers).where(x.tx_hash == burn.tx_hash,
                                                   x.log_index == burn.log_index))  # fmt: skip
        (waiting,) = run_due(engine, city.chain_id, city.now(), day.cutoffs)
        assert (waiting.status, waiting.reconciled, waiting.payable) == ("unreconciled", False, 0)
        assert {line.status for line in waiting.lines} == {"pending", "held"}
        assert run_due(engine, city.chain_id, city.now(), day.cutoffs) == []  # not skipped
        with engine.begin() as conn:  # the index has the burn again (a reindex)
            conn.execute(insert(t.transfers).values(burn._asdict()))
        (released,) = run_due(engine, city.chain_id, city.now(), day.cutoffs)
        assert (released.reference, released.status) == (waiting.reference, "released")
        assert released.payable == 60_000 + 13_500

    def test_only_the_lease_holder_settles(self, city: City, engine: Engine) -> None:
        day = _a_day(city, engine)
        cut = datetime.fromtimestamp(day.cutoff, settlement.KST).strftime("%H:%M")
        settings = Settings(rpc_url=city.network.rpc_url, settlement_cutoff_kst=cut)
        manifest = city.network.manifest
        first = Lease(engine, "replica-a", 60.0, SETTLEMENT_LEASE)
        second = Lease(engine, "replica-b", 60.0, SETTLEMENT_LEASE)
        assert settle_once(settings, manifest, engine, first) >= 1
        assert settle_once(settings, manifest, engine, second) == 0  # a standby replica
        assert settle_once(settings, manifest, engine, first) == 0  # nothing new is due
        ours = [
            b
            for b in settlement.list_batches(engine, city.chain_id, city.token)
            if b.until == day.cutoff
        ]
        assert [b.origin for b in ours] == ["auto"]

    def test_the_migration_makes_the_tables_defined(self, engine: Engine) -> None:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diffs if "settlement" in repr(d)] == []


class FileRouteTests:
    def test_the_bank_file_and_its_json_twin_over_http(
        self, city: City, engine: Engine, client: TestClient
    ) -> None:
        day = _a_day(city, engine)
        since = previous_cutoff(day.cutoff - 1, day.cutoffs.of(41390))
        base = f"/v1/audit/{city.token}/settlements"
        issued = client.post(base, json={"since": since, "until": day.cutoff})
        assert issued.status_code == 201, issued.text
        reference = issued.json()["reference"]
        bank = client.get(f"{base}/{reference}/file", params={"format": "bank"})
        assert bank.headers["content-type"] == "text/plain; charset=cp949"
        twin = client.get(f"{base}/{reference}/file", params={"format": "json"}).json()
        parsed = bank_file.parse_bank_file(bank.content)
        assert parsed.model_dump() == twin
        assert twin["header"]["total"] == twin["trailer"]["total"] == 60_000 + 13_500
        assert issued.json()["origin"] == "manual"
        paid = client.post(f"{base}/{reference}/paid")
        assert paid.json() == {"reference": reference, "lines": 2}
        again = client.post(f"{base}/{reference}/paid")
        assert (again.status_code, again.json()["code"]) == (409, "SettlementAlreadyPaid")
        missing = client.get(f"{base}/STL-nope/file")
        assert (missing.status_code, missing.json()["code"]) == (404, "NotFound")


class TestSettlementFilesSQLite(SQLiteBackend, SettlementFileTests, FileRouteTests):
    pass


class TestSettlementFilesPostgres(PostgresBackend, SettlementFileTests, FileRouteTests):
    pass


def test_an_account_the_file_cannot_carry_whole_is_held() -> None:
    """A number cut to the file's 20 characters would pay someone else's account."""
    assert unusable(None) == "NoBankAccount"
    assert unusable(BankAccount("004", "123-45-678901", "김국수")) is None
    assert unusable(BankAccount("004", "1234567890-1234567890-1", "김국수")) == "InvalidBankAccount"
    assert unusable(BankAccount("04", "123", "김국수")) == "InvalidBankAccount"
    assert unusable(BankAccount("004", "12a-45", "김국수")) == "InvalidBankAccount"
    assert mask_account("123-45-678901") == "***-***-8901"
    long_name = bank_file._text("가나다라마바사아자차카", 20)  # two bytes a syllable
    assert (len(long_name), long_name.decode(bank_file.ENCODING)) == (20, "가나다라마바사아자차")
