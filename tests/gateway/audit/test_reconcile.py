"""Reconciliation of the index against the chain, ledger export and distribution verification:
clean on a faithful index, and every deliberately corrupted row caught."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from chain.protocol.calls import ProgramParams
from gateway import audit, distribution
from gateway.db.tables import index as t
from tests.fixtures.databases import PostgresBackend, SQLiteBackend
from tests.fixtures.wallets import Wallet

from .conftest import DAY, City


@dataclass
class Activity:
    citizens: list[Wallet]
    merchant: Wallet
    program_id: int
    job: distribution.JobStatus
    trees: Path
    since: int


def _activity(city: City, trees: Path, engine: Engine) -> Activity:
    """Sales, payments (general and pocket), a gift, a redemption and a pushed program."""
    shop = city.merchant()
    people = city.citizens(3)
    since = city.now()
    for person in people:
        city.issue(person, 100_000)
    rows = "".join(f"{p.address},{20_000 + 1_000 * i}\n" for i, p in enumerate(people))
    job = distribution.create_job(engine, trees, city.chain_id, city.token, rows)
    now = city.now()
    params = ProgramParams(bytes.fromhex(job.root[2:]), 100_000, now - 10, now + DAY)
    program_id = city.op.create_program(city.token, params)
    city.index(engine)
    distribution.push(engine, city.rpc, city.pusher, trees, job.id)
    city.pay(people[0], shop, 35_000, [program_id])  # 20,000 from the pocket
    city.pay(people[1], shop, 12_345)
    city.gift(people[2], people[1], 5_000)
    city.redeem(shop, 10_000)
    city.index(engine)
    return Activity(people, shop, program_id, job, trees, since)


class ReconcileTests:
    def test_clean_index_reconciles(self, city: City, engine: Engine, tmp_path: Path) -> None:
        _activity(city, tmp_path, engine)
        report = audit.reconcile(engine, city.rpc, city.chain_id, city.token)
        assert report.ok, report.differences
        assert report.total_supply_index == report.total_supply_chain > 0
        assert (report.holders, report.holders_checked, report.sampled) == (4, 4, False)
        assert (report.pockets_checked, report.programs_checked) == (3, 1)

    def test_corrupted_rows_are_each_reported(
        self, city: City, engine: Engine, tmp_path: Path
    ) -> None:
        a = _activity(city, tmp_path, engine)
        payer = a.citizens[1].address.lower()
        x, g, p = t.transfers.c, t.grants.c, t.programs.c
        with engine.begin() as conn:
            conn.execute(update(t.transfers).where(x.sender == payer).values(amount=x.amount + 1))
            conn.execute(
                update(t.grants)
                .where(g.recipient == a.citizens[2].address.lower())
                .values(amount=g.amount - 7)
            )
            conn.execute(update(t.programs).where(p.program_id == a.program_id).values(spent=1))
        report = audit.reconcile(engine, city.rpc, city.chain_id, city.token)
        found = {(d.kind, d.key): (d.index_value, d.chain_value) for d in report.differences}
        spent = f"program {a.program_id} spent"
        assert set(found) == {
            ("balance", a.citizens[1].address),
            ("balance", a.merchant.address),
            ("pocket", f"program {a.program_id} {a.citizens[2].address}"),
            ("program", spent),
            ("program_grants", f"program {a.program_id}"),
        }
        assert found[("program", spent)] == (1, 20_000)
        chain_balance = found[("balance", a.citizens[1].address)][1]
        assert found[("balance", a.citizens[1].address)] == (
            int(str(chain_balance)) - 1,
            chain_balance,
        )
        assert not report.ok

    def test_a_stated_random_sample(self, city: City, engine: Engine, tmp_path: Path) -> None:
        _activity(city, tmp_path, engine)
        first = audit.reconcile(engine, city.rpc, city.chain_id, city.token, sample_size=2, seed=7)
        again = audit.reconcile(engine, city.rpc, city.chain_id, city.token, sample_size=2, seed=7)
        assert (first.sampled, first.seed, first.holders_checked, first.holders) == (True, 7, 2, 4)
        assert first == again
        assert first.ok

    def test_ledger_export(self, city: City, engine: Engine, tmp_path: Path) -> None:
        a = _activity(city, tmp_path, engine)
        entries = list(audit.ledger_entries(engine, city.chain_id, city.token, since=a.since))
        kinds = [e.kind for e in entries]
        assert kinds.count("sale") == 3
        assert kinds.count("grant") == 3
        assert {"program", "payment", "gift", "redemption"} <= set(kinds)
        order = [(e.block_number, e.log_index) for e in entries]
        assert order == sorted(order)
        pocket_payment = next(e for e in entries if e.kind == "payment")
        assert pocket_payment.details["from_pockets"] == 20_000
        assert pocket_payment.sender == a.citizens[0].address

        text = "".join(audit.ledger_csv(iter(entries)))
        assert audit.check_trailer(text) == len(entries)
        body, trailer = text.rstrip("\n").rsplit("\n", 1)
        assert trailer.startswith("#trailer,rows=")
        rows = list(csv.DictReader(io.StringIO(body)))
        assert len(rows) == len(entries)
        assert tuple(rows[0]) == audit.LEDGER_COLUMNS
        assert json.loads(rows[0]["details"]) == entries[0].details
        jsonl = "".join(audit.ledger_jsonl(iter(entries)))
        assert audit.check_trailer(jsonl) == len(entries)
        *lines, _trailer = jsonl.splitlines()
        assert [json.loads(line)["kind"] for line in lines] == kinds
        altered = text.replace(rows[0]["tx_hash"], "0x" + "ee" * 32, 1)
        with pytest.raises(ValueError, match="cut or altered"):
            audit.check_trailer(altered)
        last = entries[-1].block_time
        late = list(audit.ledger_entries(engine, city.chain_id, city.token, since=last))
        assert late
        assert all(e.block_time >= last for e in late)
        assert list(audit.ledger_entries(engine, city.chain_id, city.token, until=0)) == []


class VerificationTests:
    def test_grants_verified_against_the_root_until_close(
        self, city: City, engine: Engine, tmp_path: Path
    ) -> None:
        a = _activity(city, tmp_path, engine)
        tree = distribution.load_tree(tmp_path, a.job.root)
        csv_text = "".join(f"{leaf.recipient},{leaf.amount}\n" for leaf in tree or [])
        saved = audit.verify_distribution(
            engine, city.chain_id, city.token, a.program_id, trees_dir=tmp_path
        )
        listed = audit.verify_distribution(
            engine, city.chain_id, city.token, a.program_id, csv_text=csv_text
        )
        assert (saved.ok, saved.list_source, listed.ok, listed.list_source) == (
            True,
            "saved_tree",
            True,
            "uploaded_list",
        )
        blind = audit.verify_distribution(engine, city.chain_id, city.token, a.program_id)
        assert not blind.ok
        assert blind.list_source == "none"
        wrong = audit.verify_distribution(
            engine,
            city.chain_id,
            city.token,
            a.program_id,
            csv_text=csv_text.replace("20000", "20001"),
        )
        assert any("not the committed root" in problem for problem in wrong.problems)

        city.warp(2 * DAY)
        city.op.call_function(city.token, "closeProgram", [a.program_id])
        city.index(engine)
        closed = audit.verify_distribution(
            engine, city.chain_id, city.token, a.program_id, trees_dir=tmp_path
        )
        assert closed.ok
        assert closed.closed
        assert closed.returned == closed.budget - closed.spent == 100_000 - 20_000

        g, c = t.grants.c, t.program_closes.c
        with engine.begin() as conn:
            row = conn.execute(select(t.grants).where(g.grant_index == 1)).one()._asdict()
            conn.execute(
                insert(t.grants).values({**row, "log_index": 999, "tx_hash": "0x" + "ab" * 32})
            )
            conn.execute(update(t.grants).where(g.grant_index == 2).values(amount=g.amount + 1))
            conn.execute(update(t.program_closes).values(returned=c.returned + 1))
        broken = audit.verify_distribution(
            engine, city.chain_id, city.token, a.program_id, trees_dir=tmp_path
        )
        assert sorted((i.index, i.reason) for i in broken.issues) == [
            (1, "duplicate"),
            (2, "not_a_leaf"),
        ]
        assert not broken.ok
        assert len(broken.problems) == 3


class TestReconcileSQLite(SQLiteBackend, ReconcileTests):
    pass


class TestReconcilePostgres(PostgresBackend, ReconcileTests):
    pass


class TestVerificationSQLite(SQLiteBackend, VerificationTests):
    pass


@pytest.mark.postgres
class TestVerificationPostgres(PostgresBackend, VerificationTests):
    pass
