"""Read models over the index against the chain's own views (balanceOf, pocketOf,
totalSupply). One index of the scenario per class; each class runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from chain.protocol.calls import PaymentRecord, funder_id
from chain.protocol.hashing import ZERO_ADDRESS
from gateway import queries
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import FUNDERS, REWARD_PROGRAM, WALLET_NAMES, Net, pid


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
            for program_id in (1, 2, REWARD_PROGRAM):
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
        # The first scenario's four sales, then c6's, c8's and c7's.
        assert (board.sales, board.issued_face, board.issued_paid) == (7, 830_000, 787_000)
        assert board.subsidy == 43_000
        assert (board.redemptions, board.redeemed) == (1, 20_000)
        assert (board.refunds, board.refunded_face, board.refunded_cash) == (1, 5_000, 4_500)
        # Cashback paid (before cancellations took some back): 10% of the general part at
        # tier 0, 5% at tier 2, none for the institution.
        assert board.cashback == 3_000 + 1_000 + 500 + 4_500 + 900 + 1_800 + 200 + 600
        assert (board.payments, board.gifts, board.gift_volume) == (12, 2, 11_000)
        holders = [w.address for w in net.wallets.values()]
        assert board.holders == sum(1 for a in holders if net.view("balanceOf", a) > 0)
        assert (board.merchants, board.programs, board.policy_budget) == (4, 3, 160_000)
        assert (board.policy_granted, board.policy_spent) == (48_000 + 13_500, 16_000 + 4_000)
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
        p1, p2, p3 = queries.programs(indexed, token)
        assert (p1.budget, p1.granted, p1.claimed_count, p1.spent) == (100_000, 40_000, 3, 10_000)
        assert (p1.progress_pct, p1.returned, p1.closed) == (40.0, None, False)
        assert (p2.closed, p2.returned, p2.categories) == (True, 4_000, [5611])
        assert queries.program(indexed, token, 2) == p2
        assert (p3.program_id, p3.granted, p3.spent) == (REWARD_PROGRAM, 13_500, 4_000)
        assert (p3.kind, p3.daily_cap, p3.monthly_cap) == ("reward", 10_000, 0)
        assert (p1.kind, p1.daily_cap) == ("merkle", None)
        assert queries.program(indexed, token, 4) is None

    def test_history_rebuilds_payment_records(self, built_chain: Net, indexed: Engine) -> None:
        """A payment's history entry holds its on-chain record, with what was cancelled so far:
        the token accepts it as the record of a payment still on file."""
        net = built_chain
        c6 = net.wallets["c6"].address
        items = queries.history(indexed, c6, limit=200).items
        payments = [i for i in items if i.kind == "payment"]
        assert len(payments) == 3
        checked = 0
        for item in payments:
            d = item.details
            record = PaymentRecord(
                str(d["payer"]),
                int(str(d["seq"])),
                bytes.fromhex(str(d["payment_id"])[2:]),
                item.amount,
                int(str(d["from_general"])),
                int(str(d["cashback"])),
                tuple(d["program_ids"]),  # type: ignore[arg-type]
                tuple(d["program_amounts"]),  # type: ignore[arg-type]
                extra=int(str(d["extra"])),
                platform=str(d["platform"] or ZERO_ADDRESS),
                fee=int(str(d["fee"])),
                cancelled=int(str(d["cancelled"])),
            )
            merchant = str(item.counterparty)
            assert net.view("isPaymentOnRecord", merchant, record.as_tuple()), d
            checked += 1
        assert checked == 3
        by_id = {i.details["payment_id"]: i for i in payments}
        through = by_id["0x" + pid(0x2000).hex()].details
        assert (through["platform"], through["fee"], through["cancelled"]) == (
            net.wallets["m5"].address,
            900,
            8_000,
        )
        pocket = by_id["0x" + pid(0x2001).hex()].details
        assert (pocket["program_ids"], pocket["program_amounts"]) == ([REWARD_PROGRAM], [7_000])
        assert (pocket["extra"], pocket["cancelled"]) == (1_000, 5_000)
        cancellations = [
            (i.amount, i.direction, i.details["cancelled_total"], i.details["program_amounts"])
            for i in reversed(items)
            if i.kind == "cancellation"
        ]
        assert cancellations == [
            (5_000, "in", 5_000, []),
            (3_000, "in", 8_000, []),
            (4_000, "in", 4_000, [2_000]),
            (1_000, "in", 5_000, [1_000]),
        ]
        rewards = [(i.amount, i.details["program_id"]) for i in items if i.kind == "reward"]
        assert rewards == [(7_000, REWARD_PROGRAM)]

    def test_history_of_employees_rewards_and_recoveries(
        self, built_chain: Net, indexed: Engine
    ) -> None:
        w = built_chain.wallets
        c7 = [(i.kind, i.direction, i.amount) for i in queries.history(indexed, w["c7"].address)
              .items]  # fmt: skip
        assert ("payment", "out", 7_200) in c7  # spent the institution's money
        assert ("reward", "in", 2_000) in c7
        spent = next(i for i in queries.history(indexed, w["c7"].address).items
                     if i.kind == "payment")  # fmt: skip
        assert spent.details["employee"] == w["c7"].address
        assert spent.details["payer"] == w["i1"].address
        lost = queries.history(indexed, w["c8"].address).items
        assert [(i.kind, i.direction, i.amount) for i in lost[:1]] == [
            ("cancellation", "in", 9_000)  # its payment, cancelled after: money went to c9
        ]
        assert [(i.kind, i.direction, i.amount, i.details["program_id"]) for i in lost[1:3]] == [
            ("recovery", "out", 1_500, REWARD_PROGRAM),
            ("recovery", "out", 24_600, None),
        ]
        found = queries.history(indexed, w["c9"].address).items
        assert [(i.kind, i.direction, i.amount, i.counterparty) for i in found] == [
            ("cancellation", "in", 9_000, w["m4"].address),
            ("recovery", "in", 1_500, w["c8"].address),
            ("recovery", "in", 24_600, w["c8"].address),
        ]
        assert found[0].details["recipient"] == w["c9"].address
        assert found[0].details["payer"] == w["c8"].address

    def test_payment_requests_and_invoices(self, built_chain: Net, indexed: Engine) -> None:
        net = built_chain
        w = net.wallets
        ids = {name: "0x" + value.hex() for name, value in net.facts["invoices"].items()}
        expiry = net.facts["invoice_c_expiry"]
        page = queries.payment_requests(indexed, w["c6"].address, now=expiry - 1)
        assert [(i.invoice_id, i.status) for i in page.items] == [
            (ids["C"], "open"),
            (ids["B"], "cancelled"),
            (ids["A"], "paid"),
        ]
        paid = page.items[2]
        assert (paid.amount, paid.paid_seq, paid.paid_by) == (10_000, 0, w["c6"].address)
        assert paid.paid_tx_hash is not None
        assert paid.cancelled_time is None
        assert page.items[1].cancelled_time is not None
        later = queries.payment_requests(indexed, w["c6"].address, status="expired", now=expiry)
        assert [(i.invoice_id, i.expiry) for i in later.items] == [(ids["C"], expiry)]
        assert queries.payment_requests(indexed, w["c6"].address, status="open", now=expiry) \
            .items == []  # fmt: skip
        assert queries.payment_requests(indexed, w["c7"].address).items == []
        m4 = w["m4"].address
        every = queries.merchant_invoices(indexed, m4, now=expiry - 1)
        assert [(i.invoice_id, i.payer) for i in every.items] == [
            (ids["D"], None),
            (ids["C"], w["c6"].address),
            (ids["B"], w["c6"].address),
            (ids["A"], w["c6"].address),
        ]
        assert [i.invoice_id for i in queries.merchant_invoices(
            indexed, m4, status="open", now=expiry - 1).items] == [ids["D"], ids["C"]]  # fmt: skip
        paged, cursor = [], None
        while True:
            part = queries.merchant_invoices(indexed, m4, cursor=cursor, limit=1, now=expiry - 1)
            paged.extend(part.items)
            if part.next_cursor is None:
                break
            cursor = part.next_cursor
        assert paged == every.items
        assert queries.merchant_invoices(indexed, w["m1"].address).items == []

    def test_funding_equals_the_chain(self, built_chain: Net, indexed: Engine) -> None:
        """Two plan versions (and a withdrawn proposal): totals, what each version funded and
        every funder's share, as the token's own views compute them."""
        net = built_chain
        found = queries.funding(indexed, net.token.address)
        assert found is not None
        assert (found.subsidy_total, found.cashback_total) == tuple(net.view("fundingTotals"))
        assert [v.version for v in found.versions] == [1, 2]
        assert found.pending is None
        for version in found.versions:
            assert (version.subsidy, version.cashback) == tuple(
                net.view("fundedBy", version.version)
            )
        assert [s.name for s in found.versions[1].shares] == ["state", "gyeonggi", "siheung"]
        assert [f.name for f in found.funders] == ["state", "siheung", "gyeonggi"]
        for name in FUNDERS:
            (mine,) = [f for f in found.funders if f.name == name]
            assert mine.funder == "0x" + funder_id(name).hex()
            assert (mine.subsidy, mine.cashback) == tuple(net.view("funderTotals", funder_id(name)))
        # The funders of a version add up to it to the won.
        assert sum(f.subsidy for f in found.funders) == sum(v.subsidy or 0 for v in found.versions)
        extras = sum(net.view("merchantOf", w.address)[-1] for w in net.wallets.values())
        assert found.merchant_extras == extras
        assert queries.funding(indexed, "0x" + "12" * 20) is None

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
