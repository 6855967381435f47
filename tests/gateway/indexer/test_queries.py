"""Read models over the index against the chain's own views (balanceOf, pocketOf,
totalSupply). One index of the scenario per class; each class runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from gateway import queries
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import WALLET_NAMES, Net


class QueryTests:
    @pytest.fixture(scope="class")
    @classmethod
    def indexed(cls, built_chain: Net, class_engine: Engine) -> Engine:
        built_chain.indexer(class_engine).sync_once()
        return class_engine

    def test_balances_and_pockets_match_the_chain(self, built_chain: Net, indexed: Engine) -> None:
        net = built_chain
        for name in WALLET_NAMES:
            address = net.wallets[name].address
            found = queries.balances(indexed, address)
            general = found[0].general if found else 0
            assert general == net.view("balanceOf", address), name
            pockets = {p.program_id: p.amount for b in found for p in b.pockets}
            for program_id in (1, 2):
                assert pockets.get(program_id, 0) == net.view("pocketOf", program_id, address)
            for balance in found:
                assert balance.total == balance.general + sum(p.amount for p in balance.pockets)
        (c1,) = queries.balances(indexed, net.wallets["c1"].address.lower())
        assert c1.token == net.token.address
        assert c1.symbol == "SHG"
        # The cancelled pocket payment gave program 1 its 20,000 back.
        assert [(p.program_id, p.amount, p.closed) for p in c1.pockets] == [(1, 20_000, False)]

    def test_balances_of_an_unknown_wallet_are_empty(self, indexed: Engine) -> None:
        assert queries.balances(indexed, "0x" + "12" * 20) == []

    def test_dashboard_figures(self, built_chain: Net, indexed: Engine) -> None:
        net = built_chain
        board = queries.dashboard(indexed, net.token.address)
        assert board is not None
        assert board.circulating == net.view("totalSupply")
        assert (board.sales, board.issued_face, board.issued_paid) == (4, 650_000, 625_000)
        assert board.subsidy == 25_000
        assert (board.redemptions, board.redeemed) == (1, 20_000)
        assert (board.refunds, board.refunded_face, board.refunded_cash) == (1, 5_000, 4_500)
        assert board.cashback == 3_000 + 1_000 + 500 + 4_500
        assert (board.payments, board.gifts, board.gift_volume) == (7, 2, 11_000)
        holders = [w.address for w in net.wallets.values()]
        assert board.holders == sum(1 for a in holders if net.view("balanceOf", a) > 0)
        assert (board.merchants, board.programs, board.policy_budget) == (2, 2, 110_000)
        assert (board.policy_granted, board.policy_spent) == (48_000, 16_000)
        assert board.as_of_block == net.facts["head"]
        assert queries.dashboard(indexed, "0x" + "12" * 20) is None

    def test_history_pages_cover_everything_once(self, built_chain: Net, indexed: Engine) -> None:
        c1 = built_chain.wallets["c1"].address
        everything = queries.history(indexed, c1, limit=200)
        assert everything.next_cursor is None
        paged, cursor = [], None
        while True:
            page = queries.history(indexed, c1, cursor=cursor, limit=3)
            assert len(page.items) <= 3
            paged.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert paged == everything.items
        positions = [(i.block_number, i.log_index) for i in paged]
        assert positions == sorted(set(positions), reverse=True)
        kinds = [(i.kind, i.direction, i.amount) for i in reversed(paged)]
        assert kinds[:3] == [
            ("sale", "in", 100_000),
            ("payment", "out", 30_000),
            ("gift", "in", 10_000),
        ]
        assert ("grant", "in", 20_000) in kinds
        assert ("cancellation", "in", 25_000) in kinds
        assert len(kinds) == 7  # a sale, 2 payments, a cancellation, a grant, 2 gifts received

    def test_history_from_the_merchant_side(self, built_chain: Net, indexed: Engine) -> None:
        m1 = built_chain.wallets["m1"].address
        items = queries.history(indexed, m1).items
        kinds = {(i.kind, i.direction) for i in items}
        assert kinds == {("payment", "in"), ("cancellation", "out"), ("redemption", "out")}
        redemption = next(i for i in items if i.kind == "redemption")
        assert redemption.details["ref"] == "0x" + (99).to_bytes(32, "big").hex()
        only = queries.history(indexed, m1, token="0x" + "12" * 20)
        assert only.items == []

    def test_a_cursor_it_did_not_make_is_refused(self, indexed: Engine) -> None:
        for bad in ("nonsense", "!!", queries.encode_cursor(5, 1)[:-1] + "*"):
            with pytest.raises(queries.InvalidCursorError):
                queries.history(indexed, "0x" + "12" * 20, cursor=bad)

    def test_merchant_sales(self, built_chain: Net, indexed: Engine) -> None:
        (sales,) = queries.merchant_sales(indexed, built_chain.wallets["m1"].address)
        assert (sales.payments, sales.gross) == (
            6,
            30_000 + 40_000 + 25_000 + 10_000 + 6_000 + 45_000,
        )
        assert (sales.from_pockets, sales.cancellations, sales.cancelled) == (36_000, 2, 31_000)
        assert sales.net == sales.gross - 31_000
        assert (sales.redemptions, sales.redeemed) == (1, 20_000)
        assert sales.first_time is not None
        later = queries.merchant_sales(
            indexed, built_chain.wallets["m1"].address, since=sales.last_time
        )
        assert later[0].payments == 1  # the last payment only

    def test_programs(self, built_chain: Net, indexed: Engine) -> None:
        token = built_chain.token.address
        p1, p2 = queries.programs(indexed, token)
        assert (p1.budget, p1.granted, p1.claimed_count, p1.spent) == (100_000, 40_000, 3, 10_000)
        assert (p1.progress_pct, p1.returned, p1.closed) == (40.0, None, False)
        assert (p2.closed, p2.returned, p2.categories) == (True, 4_000, [5611])
        assert queries.program(indexed, token, 2) == p2
        assert queries.program(indexed, token, 3) is None

    def test_municipalities_and_status(self, built_chain: Net, indexed: Engine) -> None:
        (only,) = queries.municipalities(indexed)
        assert (only.token, only.region, only.name) == (
            built_chain.token.address,
            41390,
            "Siheung Voucher",
        )
        assert queries.municipality(indexed, only.token.lower()) == only
        status = queries.indexer_status(indexed)
        assert status is not None
        assert (status.chain_id, status.block_number, status.lag) == (
            31337,
            built_chain.facts["head"],
            0,
        )


class TestQueriesSQLite(QueryTests, SQLiteBackend):
    pass


class TestQueriesPostgres(QueryTests, PostgresBackend):
    pass


def test_an_empty_index_answers_nothing(sqlite_engine: Engine) -> None:
    assert queries.indexer_status(sqlite_engine) is None
    assert queries.municipalities(sqlite_engine) == []
    assert queries.history(sqlite_engine, "0x" + "12" * 20).items == []
