"""The indexer against a live anvil: every event decoded, reindex == live follow, reorgs,
crashes mid-range, municipalities found mid-range. Each class runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from eth_utils.address import to_checksum_address
from rich.console import Console
from sqlalchemy import Engine, text

import gateway.db.tables  # noqa: F401  (every table on the metadata)
from gateway.cli.progress import rich_progress
from gateway.db import metadata
from gateway.indexer import Indexer, Progress, ReorgTooDeepError
from gateway.indexer.store import BlockRef, CheckpointMovedError, IndexStore
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import (
    OTHER_REGION,
    REGION,
    Net,
    count,
    dump,
    pid,
    rows,
)

NEWCOMER = to_checksum_address("0x" + "ab" * 20)
STRANGER = to_checksum_address("0x" + "cd" * 20)


def _by(engine: Engine, table: str, **where: object) -> list[Any]:
    return [r for r in rows(engine, table) if all(getattr(r, k) == v for k, v in where.items())]


def _activity(net: Net, blocks: int, variant: int) -> None:
    """``blocks`` blocks of payments and gifts (one transaction each, automine)."""
    w = net.wallets
    for n in range(blocks):
        if n % 2:
            net.act("c1", "pay", w["m1"].address, 100 + variant + n, pid(1000 * variant + n), [])
        else:
            net.act("c2", "gift", w["c3"].address, 10 + variant + n)


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
        assert count(engine, "index_identity_events") == 12
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
        assert len(payments) == 7
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
        cancelled = rows(engine, "index_cancellations")
        assert [(c.amount, c.returned) for c in cancelled] == [(25_000, 4_500), (6_000, 0)]
        assert cancelled[0].payment_tx_hash == pocket_paid.tx_hash
        moves = [
            (m.holder, m.program_id, m.reason, m.pocket_delta, m.spent_delta)
            for m in rows(engine, "index_pocket_moves")
        ]
        assert moves == [
            (w["c1"], 1, "payment", -20_000, 20_000),
            (w["c1"], 1, "cancellation", 20_000, -20_000),
            (w["c2"], 1, "payment", -10_000, 10_000),
            (w["c3"], 2, "payment", -6_000, 6_000),  # cancelled after the close: only burned
        ]
        p1, p2 = rows(engine, "index_programs", "program_id")
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
        assert len(granted_roles) == 5  # the admin at initialisation, then four roles
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
            _activity(chain, 2, variant=n)
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

    @pytest.mark.parametrize(("depth", "replacement"), [(64, 70), (8, 2)])
    def test_reorg_leaves_the_index_exact(
        self, chain: Net, engine: Engine, other_engine: Engine, depth: int, replacement: int
    ) -> None:
        tree = chain.facts["tree1"]
        now = chain.now()
        short = (tree.root, 5_000, now - 10, now + 30, False, [], pid(79))
        chain.act("operator", "createProgram", short)  # program 3, soon expired
        indexer = chain.indexer(engine)
        indexer.sync_once()
        fork_point = chain.head()
        snapshot = chain.node.snapshot()
        # The fork to be dropped touches every kind of state the index folds.
        chain.act("operator", "register", STRANGER, 1, contract=chain.registry)
        chain.act("operator", "updateMerchant", chain.wallets["m1"].address, 5612, 1)
        chain.act("c2", "claim", 1, 3, 1_000, tree.proof(3))
        chain.act("c2", "pay", chain.wallets["m1"].address, 12_000, pid(555), [1])
        chain.warp(60)  # mines a block
        chain.act("operator", "closeProgram", 3)
        indexer.sync_once()
        (closed,) = _by(engine, "index_programs", program_id=3)
        assert closed.closed
        _activity(chain, depth - 6, variant=1)
        indexer.sync_once()
        assert chain.head() == fork_point + depth
        assert chain.node.revert(snapshot)
        _activity(chain, replacement, variant=2)
        report = indexer.sync_once()
        assert report.reorg_depth == depth
        assert report.to_block == chain.head() == fork_point + replacement
        assert dump(engine) == _reindexed(chain, other_engine)
        assert _by(engine, "index_identities", account=STRANGER.lower()) == []
        assert _by(engine, "index_grants", grant_index=3) == []
        (reopened,) = _by(engine, "index_programs", program_id=3)
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
    pass


class TestIndexerPostgres(IndexerTests, PostgresBackend):
    pass


def test_indexer_refuses_a_node_of_another_chain(built_chain: Net, sqlite_engine: Engine) -> None:
    manifest = built_chain.manifest
    other = type(manifest)(chain_id=1, operator=manifest.operator, contracts=manifest.contracts)
    with pytest.raises(Exception, match="chain"):
        Indexer(sqlite_engine, built_chain.rpc, other).sync_once()
