"""The indexer against a live anvil: every event decoded, reindex == live follow, reorgs,
crashes mid-range, municipalities found mid-range. Each class runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from rich.console import Console
from sqlalchemy import Engine, event, text

import gateway.db.tables  # noqa: F401  (every table on the metadata)
from chain.protocol.abi import load_abi
from chain.protocol.calls import Reward, encode_cancel_payment, encode_reward_batch, funder_id
from gateway.cli.progress import rich_progress
from gateway.db import create_engine_for, metadata
from gateway.db.tables import index as index_tables
from gateway.indexer import Indexer, Progress, ReorgTooDeepError
from gateway.indexer.decode import INDEXED_CONTRACTS, EventDecoder
from gateway.indexer.store import BlockRef, CheckpointMovedError, IndexStore
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import (
    OTHER_REGION,
    REGION,
    REWARD_PROGRAM,
    ZERO,
    Net,
    activity,
    count,
    dump,
    payment_record,
    pid,
    rows,
)

NEWCOMER = to_checksum_address("0x" + "ab" * 20)
STRANGER = to_checksum_address("0x" + "cd" * 20)


def _by(engine: Engine, table: str, **where: object) -> list[Any]:
    return [r for r in rows(engine, table) if all(getattr(r, k) == v for k, v in where.items())]


def _reindexed(net: Net, engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    net.indexer(engine).reindex()
    return dump(engine)


class IndexerTests:
    def test_every_event_is_decoded_into_its_table(self, chain: Net, engine: Engine) -> None:
        w = {name: wallet.lower for name, wallet in chain.wallets.items()}
        report = chain.indexer(engine).sync_once()
        assert report.to_block == report.head == chain.head()
        token = chain.token.address.lower()
        (municipality,) = rows(engine, "index_municipalities")
        assert (municipality.token, municipality.region) == (token, REGION)
        assert municipality.symbol == "SHG"
        assert municipality.admin == w["operator"]

        identities = {
            r.account: (r.kind, r.frozen) for r in rows(engine, "index_identities", "account")
        }
        assert identities[w["c1"]] == (1, False)
        assert identities[w["m2"]] == (2, False)
        assert identities[w["i1"]] == (3, False)
        assert identities[w["c5"]] == (1, True)
        assert identities[w["c4"]] == (1, False)  # frozen, then unfrozen
        assert identities[w["c8"]] == (1, True)  # frozen by its recovery
        assert count(engine, "index_identity_events") == 19
        merchants = {r.merchant: r for r in rows(engine, "index_merchants", "merchant")}
        assert (merchants[w["m2"]].category, merchants[w["m2"]].tier) == (4711, 2)
        assert merchants[w["m2"]].status == 1
        assert merchants[w["m1"]].region == REGION

        sales = [(r.buyer, r.face, r.paid, r.subsidy) for r in rows(engine, "index_sales")]
        assert sales[:2] == [
            (w["c1"], 100_000, 90_000, 10_000),
            (w["c2"], 200_000, 190_000, 10_000),
        ]
        payments = rows(engine, "index_payments")
        assert len(payments) == 12
        first = payments[0]
        assert (first.payer, first.merchant, first.amount, first.cashback) == (
            w["c1"],
            w["m1"],
            30_000,
            3_000,
        )
        pocket_paid = _by(engine, "index_payments", payment_id="0x" + pid(4).hex())[0]
        assert pocket_paid.from_pockets == 20_000
        assert pocket_paid.from_general == 5_000
        assert pocket_paid.pockets == [{"program_id": 1, "amount": 20_000}]
        cancelled = rows(engine, "index_cancellations")[:2]
        assert [(c.amount, c.returned) for c in cancelled] == [(25_000, 4_500), (6_000, 0)]
        assert cancelled[0].payment_tx_hash == pocket_paid.tx_hash
        moves = [
            (m.holder, m.program_id, m.reason, m.pocket_delta, m.spent_delta)
            for m in rows(engine, "index_pocket_moves")
        ]
        assert moves[:4] == [
            (w["c1"], 1, "payment", -20_000, 20_000),
            (w["c1"], 1, "cancellation", 20_000, -20_000),
            (w["c2"], 1, "payment", -10_000, 10_000),
            (w["c3"], 2, "payment", -6_000, 6_000),  # cancelled after the close: only burned
        ]
        p1, p2, _ = rows(engine, "index_programs", "program_id")
        assert (p1.budget, p1.granted, p1.claimed_count, p1.spent, p1.closed) == (
            100_000,
            40_000,
            3,
            10_000,
            False,
        )
        assert p1.root == "0x" + chain.facts["tree1"].root.hex()
        assert p1.categories == []
        assert (p2.granted, p2.spent, p2.closed, p2.returned) == (8_000, 6_000, True, 4_000)
        assert p2.categories == [5611]
        assert p2.revenue_cap_waived
        grants = [
            (g.program_id, g.recipient, g.grant_index, g.amount)
            for g in rows(engine, "index_grants")
        ]
        assert grants == [
            (1, w["c1"], 0, 20_000),
            (1, w["c2"], 1, 15_000),
            (1, w["c3"], 2, 5_000),
            (2, w["c3"], 0, 8_000),
        ]
        (close,) = rows(engine, "index_program_closes")
        assert (close.granted, close.spent, close.returned) == (8_000, 6_000, 4_000)
        assert [(g.sender, g.amount) for g in rows(engine, "index_gifts")] == [
            (w["c2"], 10_000),
            (w["c2"], 1_000),
        ]
        (redeemed,) = rows(engine, "index_redemptions")
        assert (redeemed.merchant, redeemed.amount, redeemed.ref) == (
            w["m1"],
            20_000,
            "0x" + pid(99).hex(),
        )
        (refund,) = rows(engine, "index_refunds")
        # 9,500 left, of which 4,500 is cashback: only the 5,000 bought is refunded, at 90%.
        assert (refund.holder, refund.face, refund.cash) == (w["c3"], 5_000, 4_500)
        rules = [(r.version, r.action) for r in rows(engine, "index_rule_changes")]
        assert rules == [(1, "activated"), (2, "proposed"), (2, "cancelled"), (2, "proposed")]
        assert rows(engine, "index_rule_changes")[1].rules["holdingCap"] == 1_500_000
        assert [r.paused for r in rows(engine, "index_pauses")] == [True, False]
        assert [(r.category, r.blocked) for r in rows(engine, "index_institution_categories")] == [
            (7211, True)
        ]
        (relayed,) = rows(engine, "index_relayed")
        assert (relayed.signer, relayed.nonce, relayed.success) == (w["c2"], 0, True)
        assert relayed.forwarder == chain.manifest.forwarder.lower()
        granted_roles = _by(engine, "index_role_changes", contract=token, action="granted")
        assert len(granted_roles) == 6  # the admin at initialisation, then five roles
        (revoked,) = _by(engine, "index_role_changes", action="revoked")
        assert (revoked.contract, revoked.account, revoked.sender) == (
            token,
            w["operator"],
            w["operator"],
        )
        # Every row knows its block: same hash and time as the chain's.
        block = chain.rpc.get_block(first.block_number)
        assert first.block_hash == block["hash"]
        assert first.block_time == int(block["timestamp"], 16)

    def test_money_rules_are_decoded(self, chain: Net, engine: Engine) -> None:
        w = {name: wallet.lower for name, wallet in chain.wallets.items()}
        chain.indexer(engine).sync_once()
        facts = chain.facts
        invoice = {name: "0x" + value.hex() for name, value in facts["invoices"].items()}
        assert [
            (r.merchant, r.invoice_id, r.payer, r.amount, r.expiry)
            for r in rows(engine, "index_invoices")
        ] == [
            (w["m4"], invoice["A"], w["c6"], 10_000, 0),
            (w["m4"], invoice["B"], w["c6"], 0, 0),
            (w["m4"], invoice["C"], w["c6"], 5_000, facts["invoice_c_expiry"]),
            (w["m4"], invoice["D"], ZERO, 0, 0),
        ]
        assert [r.invoice_id for r in rows(engine, "index_invoice_cancels")] == [invoice["B"]]
        plans = rows(engine, "index_funding_changes")
        assert [(r.version, r.action) for r in plans] == [
            (1, "proposed"),
            (1, "activated"),
            (2, "proposed"),
            (2, "cancelled"),
            (2, "proposed"),
            (2, "activated"),
        ]
        assert [(s["name"], s["subsidy_bps"], s["cashback_bps"]) for s in plans[4].shares] == [
            ("state", 3_333, 2_000),
            ("gyeonggi", 1_667, 3_001),
            ("siheung", 5_000, 4_999),
        ]
        assert plans[4].shares[0]["funder"] == "0x" + funder_id("state").hex()
        assert (plans[1].subsidy_at, plans[1].shares) == (25_000, None)
        assert [
            (r.merchant, r.extra_bps, r.platform, r.platform_fee_bps)
            for r in rows(engine, "index_merchant_terms")
        ] == [(w["m5"], 0, True, 500), (w["m4"], 1_000, False, 0)]
        assert [(r.category, r.excluded) for r in rows(engine, "index_category_exclusions")] == [
            (4711, True)
        ]
        assert [(r.merchant, r.excluded) for r in rows(engine, "index_merchant_exclusions")] == [
            (w["m2"], True)
        ]
        (limits,) = rows(engine, "index_institution_limits")
        assert (limits.institution, limits.per_payment, limits.per_month) == (
            w["i1"],
            50_000,
            200_000,
        )
        (blocked,) = rows(engine, "index_institution_blocked")
        assert (blocked.institution, blocked.category, blocked.blocked) == (w["i1"], 7211, True)
        (employee,) = rows(engine, "index_employees")
        assert (employee.institution, employee.employee, employee.monthly_limit) == (
            w["i1"],
            w["c7"],
            100_000,
        )
        # Payments carry what the events around their Paid said: extra, platform, fee, employee.
        (by_invoice,) = _by(engine, "index_payments", payment_id=invoice["A"])
        assert (by_invoice.amount, by_invoice.extra, by_invoice.cashback) == (9_000, 1_000, 900)
        (platform,) = _by(engine, "index_payments", payment_id="0x" + pid(0x2000).hex())
        assert (platform.merchant, platform.amount, platform.extra) == (w["m4"], 18_000, 2_000)
        assert (platform.platform, platform.fee, platform.cashback) == (w["m5"], 900, 1_800)
        (spent,) = _by(engine, "index_payments", employee=w["c7"])
        assert (spent.payer, spent.amount, spent.extra, spent.cashback) == (w["i1"], 7_200, 800, 0)
        assert [(r.seq, r.amount) for r in rows(engine, "index_employee_payments")] == [
            (spent.seq, 7_200)
        ]
        assert [r.extra for r in rows(engine, "index_merchant_funded")] == [
            1_000, 2_000, 1_000, 800, 1_000
        ]  # fmt: skip
        (through,) = rows(engine, "index_platform_payments")
        assert (through.platform, through.shop, through.fee) == (w["m5"], w["m4"], 900)
        # Partial, repeated cancellations: their own parts, the merchant-funded share cut as
        # the token cuts it, pockets restored (into the recovery wallet after a recovery).
        parts = [
            (c.amount, c.cancelled_total, c.from_general, c.cashback, c.fee, c.extra, c.returned,
             c.program_amounts, c.recipient)
            for c in rows(engine, "index_cancellations")[2:]
        ]  # fmt: skip
        assert parts == [
            (5_000, 5_000, 5_000, 500, 250, 555, 4_500, [], w["c6"]),
            (3_000, 8_000, 3_000, 300, 150, 333, 2_700, [], w["c6"]),
            (4_000, 4_000, 2_000, 200, 0, 444, 1_800, [2_000], w["c6"]),
            (1_000, 5_000, 0, 0, 0, 111, 0, [1_000], w["c6"]),
            (9_000, 9_000, 6_000, 600, 0, 1_000, 5_400, [3_000], w["c9"]),
        ]
        program = REWARD_PROGRAM
        moves = [
            (m.holder, m.reason, m.pocket_delta, m.spent_delta)
            for m in _by(engine, "index_pocket_moves", program_id=program)
        ]
        assert moves == [
            (w["c6"], "payment", -7_000, 7_000),
            (w["c6"], "cancellation", 2_000, -2_000),
            (w["c6"], "cancellation", 1_000, -1_000),
            (w["c8"], "payment", -3_000, 3_000),
            (w["c8"], "recovery", -1_500, 0),
            (w["c9"], "recovery", 1_500, 0),
            (w["c9"], "cancellation", 3_000, -3_000),
        ]
        # The reward program: granted by rewards, spent net of the cancellations.
        (rewards_program,) = _by(engine, "index_programs", program_id=program)
        assert rewards_program.root == "0x" + keccak(text="dongne.reward-program").hex()
        assert (rewards_program.budget, rewards_program.granted, rewards_program.spent) == (
            50_000,
            13_500,
            4_000,
        )
        assert [(r.program_id, r.daily_cap, r.monthly_cap) for r in
                rows(engine, "index_reward_programs")] == [(program, 10_000, 0)]  # fmt: skip
        assert [(r.recipient, r.amount) for r in rows(engine, "index_rewards")] == [
            (w["c6"], 7_000),
            (w["c8"], 3_000),
            (w["c7"], 2_000),
            (w["c8"], 1_500),
        ]
        assert rows(engine, "index_rewards")[2].attestation_id == "0x" + pid(0x3003).hex()
        # Recovery: the registry's steps, then the token's moves.
        assert [
            (r.action, r.lost, r.recipient, r.sender) for r in rows(engine, "index_recoveries")
        ] == [
            ("started", w["c8"], w["c9"], w["operator"]),
            ("cancelled", w["c8"], None, w["operator"]),
            ("started", w["c8"], w["c9"], w["operator"]),
            ("finalized", w["c8"], w["c9"], None),
        ]
        assert rows(engine, "index_recoveries")[0].registry == chain.registry.address.lower()
        assert [r.delay for r in rows(engine, "index_recovery_delays")] == [60]
        (moved,) = rows(engine, "index_wallet_recoveries")
        assert (moved.lost, moved.recipient, moved.balance) == (w["c8"], w["c9"], 24_600)
        (pocket,) = rows(engine, "index_pocket_recoveries")
        assert (pocket.program_id, pocket.lost, pocket.recipient, pocket.amount) == (
            program,
            w["c8"],
            w["c9"],
            1_500,
        )

    def test_transfers_add_up_to_the_chain(self, chain: Net, engine: Engine) -> None:
        chain.indexer(engine).sync_once()
        with engine.connect() as conn:
            supply = conn.execute(
                text(
                    "SELECT coalesce(sum(CASE WHEN sender = :zero THEN amount ELSE 0 END), 0)"
                    " - coalesce(sum(CASE WHEN recipient = :zero THEN amount ELSE 0 END), 0)"
                    " FROM index_transfers"
                ),
                {"zero": "0x" + "00" * 20},
            ).scalar_one()
        assert int(supply) == chain.view("totalSupply")

    def test_reindex_equals_live_follow(
        self, chain: Net, engine: Engine, other_engine: Engine
    ) -> None:
        live = chain.indexer(engine, batch_blocks=1)  # one block a range, as when following
        live.sync_once()
        for n in range(6):
            activity(chain, 2, variant=n)
            live.sync_once()
        chain.act("operator", "register", NEWCOMER, 1, contract=chain.registry)
        live.sync_once()
        assert dump(engine) == _reindexed(chain, other_engine)
        seen: list[Progress] = []
        console = Console(file=io.StringIO(), width=120)
        with rich_progress(console) as bar:

            def progress(step: Progress) -> None:
                seen.append(step)
                bar(step)

            report = live.reindex(progress)
        assert dump(engine) == dump(other_engine)
        assert seen[-1].block == report.to_block == chain.head()
        assert seen[-1].events == report.events > 0
        assert "indexing" in console.file.getvalue()

    def test_an_answer_written_in_parts_equals_one_written_whole(
        self, chain: Net, engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        parted = chain.indexer(engine, batch_blocks=10_000)
        parted.fetcher.part_logs = 1  # every block with logs ends a part
        seen: list[Progress] = []
        report = parted.sync_once(seen.append)
        assert len(seen) > report.ranges  # answers came in several parts, one commit each
        assert dump(engine) == _reindexed(chain, other_engine)
        # Killed between two parts of one answer: the parts written stay, the rest follows.
        activity(chain, 4, variant=3)
        before = dump(engine)
        writes = 0
        write = IndexStore.write_range

        def dying(store: IndexStore, *args: Any) -> Any:
            nonlocal writes
            writes += 1
            if writes == 2:
                raise RuntimeError("killed")
            return write(store, *args)

        monkeypatch.setattr(IndexStore, "write_range", dying)
        with pytest.raises(RuntimeError, match="killed"):
            parted.sync_once()
        assert dump(engine) != before  # the first part is in
        monkeypatch.setattr(IndexStore, "write_range", write)
        parted.sync_once()
        assert dump(engine) == _reindexed(chain, other_engine)

    @pytest.mark.parametrize(("depth", "replacement"), [(64, 70), (12, 2)])
    def test_reorg_leaves_the_index_exact(
        self, chain: Net, engine: Engine, other_engine: Engine, depth: int, replacement: int
    ) -> None:
        tree = chain.facts["tree1"]
        now = chain.now()
        short = (tree.root, 5_000, now - 10, now + 30, False, [], pid(79))
        chain.act("operator", "createProgram", short)  # program 4, soon expired
        indexer = chain.indexer(engine)
        indexer.sync_once()
        fork_point = chain.head()
        snapshot = chain.node.snapshot()
        # The fork to be dropped touches every kind of state the index folds.
        chain.act("operator", "register", STRANGER, 1, contract=chain.registry)
        chain.act("operator", "updateMerchant", chain.wallets["m1"].address, 5612, 1)
        chain.act("c2", "claim", 1, 3, 1_000, tree.proof(3))
        chain.act("c2", "pay", chain.wallets["m1"].address, 12_000, pid(555), [1])
        # ...and the money rules' folds: a reward (granted), a pocket payment partly cancelled
        # (spent, pockets), a payment's companion events.
        m4, c7 = chain.wallets["m4"].address, chain.wallets["c7"].address
        reward = Reward(pid(0x3999), c7, 500)
        chain.send("operator", chain.token.address, encode_reward_batch(REWARD_PROGRAM, [reward]))
        receipt = chain.act("c7", "pay", m4, 1_000, pid(556), [REWARD_PROGRAM])
        record = payment_record(chain, receipt)
        chain.send("m4", chain.token.address, encode_cancel_payment(record, 400))
        chain.warp(60)  # mines a block
        chain.act("operator", "closeProgram", 4)
        indexer.sync_once()
        (closed,) = _by(engine, "index_programs", program_id=4)
        assert closed.closed
        activity(chain, depth - 9, variant=1)
        indexer.sync_once()
        assert chain.head() == fork_point + depth
        assert chain.node.revert(snapshot)
        activity(chain, replacement, variant=2)
        report = indexer.sync_once()
        assert report.reorg_depth == depth
        assert report.to_block == chain.head() == fork_point + replacement
        assert dump(engine) == _reindexed(chain, other_engine)
        assert _by(engine, "index_identities", account=STRANGER.lower()) == []
        assert _by(engine, "index_grants", grant_index=3) == []
        (reopened,) = _by(engine, "index_programs", program_id=4)
        assert not reopened.closed
        assert reopened.returned is None

    def test_killed_mid_range_resumes_exactly(
        self, chain: Net, engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        indexer = chain.indexer(engine, confirmations=25)
        indexer.sync_once()
        before = dump(engine)
        calls = 0
        insert = IndexStore._insert

        def dying(store: IndexStore, conn: Any, table: Any, batch: list[Any]) -> None:
            nonlocal calls
            calls += 1
            if calls == 4:  # three tables in, the process "dies" inside the transaction
                raise RuntimeError("killed")
            insert(store, conn, table, batch)

        monkeypatch.setattr(IndexStore, "_insert", dying)
        indexer.confirmations = 0
        with pytest.raises(RuntimeError, match="killed"):
            indexer.sync_once()
        assert calls == 4
        assert dump(engine) == before
        monkeypatch.setattr(IndexStore, "_insert", insert)
        report = indexer.sync_once()
        assert report.from_block == before["checkpoint"][0][0] + 1
        assert dump(engine) == _reindexed(chain, other_engine)

    def test_municipality_deployed_inside_a_range(
        self, chain: Net, engine: Engine, other_engine: Engine
    ) -> None:
        indexer = chain.indexer(engine)
        indexer.sync_once()
        first = chain.head() + 1
        other = chain.municipality(OTHER_REGION, "Seongnam Voucher", "SNM")
        w = chain.wallets
        for role in ("ISSUER_ROLE", "MERCHANT_REGISTRAR_ROLE"):
            chain.act(
                "operator",
                "grantRole",
                chain.view(role, contract=other),
                w["operator"].address,
                contract=other,
            )
        chain.act(
            "operator",
            "registerMerchant",
            w["m3"].address,
            OTHER_REGION,
            5611,
            0,
            False,
            contract=other,
        )
        chain.act("operator", "issue", w["c1"].address, 50_000, 47_500, contract=other)
        chain.act("c1", "pay", w["m3"].address, 7_000, pid(31), [], contract=other)
        report = indexer.sync_once()
        assert (report.from_block, report.ranges) == (first, 1)
        token = other.address.lower()
        assert [m.token for m in rows(engine, "index_municipalities")][1] == token
        assert [(s.buyer, s.face) for s in _by(engine, "index_sales", token=token)] == [
            (w["c1"].lower, 50_000)
        ]
        assert len(_by(engine, "index_payments", token=token)) == 1
        assert len(_by(engine, "index_merchants", token=token)) == 1
        assert len(_by(engine, "index_rule_changes", token=token)) == 1  # its initial rules
        assert dump(engine) == _reindexed(chain, other_engine)

    def test_confirmations_hold_back_the_tip(self, chain: Net, engine: Engine) -> None:
        report = chain.indexer(engine, confirmations=3).sync_once()
        assert report.to_block == chain.head() - 3
        checkpoint = IndexStore(engine, 31337).checkpoint()
        assert checkpoint is not None
        assert checkpoint.head == chain.head()

    def test_run_forever_follows_the_head_until_stopped(self, chain: Net, engine: Engine) -> None:
        indexer = chain.indexer(engine, poll_interval=0.02)
        stop = threading.Event()
        thread = threading.Thread(target=indexer.run_forever, args=(stop,))
        thread.start()
        try:
            chain.act("c2", "gift", chain.wallets["c1"].address, 77)
            deadline = time.monotonic() + 10
            while not _by(engine, "index_gifts", amount=77) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _by(engine, "index_gifts", amount=77)
        finally:
            stop.set()
            thread.join(timeout=10)
        assert not thread.is_alive()

    def test_reorg_deeper_than_the_stored_hashes_needs_a_reindex(
        self, chain: Net, engine: Engine
    ) -> None:
        indexer = chain.indexer(engine)
        indexer.sync_once()
        with engine.begin() as conn:  # as if every stored block had been replaced
            conn.execute(text("UPDATE index_blocks SET hash = '0xdead'"))
            conn.execute(text("UPDATE index_checkpoints SET block_hash = '0x00'"))
        with pytest.raises(ReorgTooDeepError):
            indexer.sync_once()

    def test_a_range_is_written_only_over_the_checkpoint_it_follows(
        self, chain: Net, engine: Engine
    ) -> None:
        indexer = chain.indexer(engine)
        indexer.sync_once()
        before = dump(engine)
        # As a second indexer on the same database would, with a stale view of the checkpoint.
        with pytest.raises(CheckpointMovedError):
            indexer.store.write_range([], None, BlockRef(10**6, "0x01"), 10**6, {})
        assert dump(engine) == before

    def test_migrations_match_the_table_definitions(self, engine: Engine) -> None:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diffs if "index_" in repr(d)] == []


class TestIndexerSQLite(IndexerTests, SQLiteBackend):
    def test_statements_fit_the_connections_parameter_limit(
        self, chain: Net, tmp_path: Path, other_engine: Engine
    ) -> None:
        # A build (or an application) may set SQLITE_LIMIT_VARIABLE_NUMBER below the default:
        # here the widest table's one row, so any statement of two rows or more would fail.
        limit = max(len(table.columns) for table in index_tables.ALL_TABLES)
        engine = create_engine_for(f"sqlite:///{tmp_path / 'limited.db'}")

        def lower(connection: sqlite3.Connection, _record: Any) -> None:
            connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)

        event.listen(engine, "connect", lower)
        engine.dispose()  # the migration's connections had the default limit
        try:
            with engine.connect() as conn:
                driver = cast(sqlite3.Connection, conn.connection.driver_connection)
                assert driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) == limit
            assert chain.indexer(engine, max_range_logs=4).sync_once().events > 0
            assert count(engine, "index_grants") > 1
            assert dump(engine) == _reindexed(chain, other_engine)
        finally:
            engine.dispose()


class TestIndexerPostgres(IndexerTests, PostgresBackend):
    pass


def test_every_event_of_the_network_is_kept() -> None:
    """Every event the contracts emit has a table, but for the ones with nothing to keep."""
    emitted = {
        str(entry["name"])
        for name in INDEXED_CONTRACTS
        for entry in load_abi(name)
        if entry.get("type") == "event"
    }
    # SignedPaymentSkipped: a signed payment a batch passed over moved nothing and changed no
    # state (its nonce stays unused); the submitter (the relayer) records why, per request.
    skipped = {
        "Approval",
        "EIP712DomainChanged",
        "Initialized",
        "MunicipalityInitialized",
        "SignedPaymentSkipped",
    }
    assert emitted - EventDecoder(31337).events == skipped


def test_indexer_refuses_a_node_of_another_chain(built_chain: Net, sqlite_engine: Engine) -> None:
    manifest = built_chain.manifest
    other = type(manifest)(chain_id=1, operator=manifest.operator, contracts=manifest.contracts)
    with pytest.raises(Exception, match="chain"):
        Indexer(sqlite_engine, built_chain.rpc, other).sync_once()


def test_a_payment_logged_before_the_paid_split_is_still_indexed() -> None:
    """Review of issue 17's gas diet: ``Paid`` lost its two pocket lists (they moved to
    ``PaidWithPockets``), which changed its topic; a network upgraded from the previous
    version holds payments logged as the old 9-field ``Paid``, and a reindex skipped every one
    of them silently. They decode into the same row as a ``PaidWithPockets``."""
    from eth_abi.abi import encode as abi_encode

    payer, merchant = "0x" + "11" * 20, "0x" + "22" * 20
    payment_id = "0x" + "33" * 32
    types = "address,address,bytes32,uint256,uint256,uint256,uint256,uint256[],uint256[]"
    topic = "0x" + keccak(text=f"Paid({types})").hex()
    log = {
        "address": "0x" + "44" * 20,
        "topics": [topic, "0x" + "00" * 12 + payer[2:], "0x" + "00" * 12 + merchant[2:],
                   payment_id],
        "data": "0x" + abi_encode(
            ["uint256", "uint256", "uint256", "uint256", "uint256[]", "uint256[]"],
            [7, 10_000, 4_000, 40, [3, 5], [6_000, 0]],
        ).hex(),
        "blockHash": "0x" + "55" * 32,
        "transactionHash": "0x" + "66" * 32,
        "logIndex": "0x2",
    }  # fmt: skip
    decoded = EventDecoder(31337).decode(log, 9, 1_700_000_000)  # type: ignore[arg-type]
    assert decoded is not None
    assert decoded.table == "index_payments"
    row = decoded.row
    assert isinstance(row, dict)
    assert (row["payer"], row["merchant"], row["seq"]) == (payer, merchant, 7)
    assert (row["amount"], row["from_general"], row["cashback"]) == (10_000, 4_000, 40)
    assert row["from_pockets"] == 6_000
    assert row["pockets"] == [{"program_id": 3, "amount": 6_000}]
    assert row["program_ids"] == [3, 5]
    # The tooling reads the same record from a receipt (to cancel such a payment).
    from chain.protocol.calls import paid_record

    record = paid_record(log["topics"], bytes.fromhex(log["data"][2:]))
    assert record is not None
    assert (record.seq, record.amount, record.program_ids) == (7, 10_000, (3, 5))
