"""The portal's read models over the indexed scenario: daily series in Korea Standard Time
(closing at the dashboard's figures), rules with pending changes and history, a resident's
monthly caps, the merchant register and a wallet's identity. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from gateway import queries
from gateway.queries import series as series_module
from gateway.queries.series import kst_day
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import Net


def test_days_are_korean_calendar_days() -> None:
    # 2026-12-05 14:59:59 UTC is still the 5th in Seoul; a second later it is the 6th.
    assert kst_day(1_796_482_799) == date(2026, 12, 5)
    assert kst_day(1_796_482_800) == date(2026, 12, 6)


class PortalQueryTests:
    @pytest.fixture(scope="class")
    @classmethod
    def indexed(cls, built_chain: Net, class_engine: Engine) -> Engine:
        built_chain.indexer(class_engine).sync_once()
        return class_engine

    def test_the_stocks_are_folded_once_per_indexed_block(
        self, built_chain: Net, indexed: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Replays a review finding: the public series folded every transfer since genesis on
        every request; now one fold serves all callers until the indexer moves on."""
        folds: list[str] = []
        fold = series_module._stocks

        def counted(*args: object) -> list[tuple[int, int, int]]:
            folds.append("fold")
            return fold(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(series_module, "_stocks", counted)
        monkeypatch.setattr(series_module, "_STOCKS_CACHE", type(series_module._STOCKS_CACHE)())
        token = built_chain.token.address
        today = kst_day(built_chain.now())
        first = queries.daily_series(indexed, token, days=7, until=today)
        again = queries.daily_series(indexed, token, days=30, until=today)
        assert folds == ["fold"]
        assert first is not None
        assert again is not None
        assert first.days[-1] == again.days[-1]

    def test_the_daily_series_sums_and_closes_at_the_dashboard(
        self, built_chain: Net, indexed: Engine
    ) -> None:
        token = built_chain.token.address
        today = kst_day(built_chain.now())
        series = queries.daily_series(indexed, token, days=7, until=today)
        board = queries.dashboard(indexed, token)
        assert series is not None
        assert board is not None
        days = [b.day for b in series.days]
        assert days[-1] == today.isoformat() == series.last_day
        assert days == sorted(set(days))
        assert len(days) == 7  # dense: one bucket a day, empty days included
        total = {
            name: sum(getattr(b, name) for b in series.days)
            for name in ("sales", "sales_face", "sales_paid", "subsidy", "payments",
                         "payment_volume", "cashback", "gifts", "gift_volume", "redemptions",
                         "redeemed")
        }  # fmt: skip
        assert total == {
            "sales": board.sales, "sales_face": board.issued_face,
            "sales_paid": board.issued_paid, "subsidy": board.subsidy,
            "payments": board.payments, "payment_volume": board.payment_volume,
            "cashback": board.cashback, "gifts": board.gifts, "gift_volume": board.gift_volume,
            "redemptions": board.redemptions, "redeemed": board.redeemed,
        }  # fmt: skip
        last = series.days[-1]
        assert (last.circulating, last.holders) == (board.circulating, board.holders)
        assert last.merchants == 4  # m1, m2 and the money rules' m4, m5, whatever their status
        assert queries.daily_series(indexed, "0x" + "12" * 20, days=7) is None

    def test_rules_show_the_pending_change_and_the_history(
        self, built_chain: Net, indexed: Engine
    ) -> None:
        view = queries.rules_view(indexed, built_chain.token.address)
        assert view is not None
        actions = [c.action for c in view.history]
        assert actions[:3] == ["proposed", "cancelled", "proposed"]  # newest first
        assert [c.version for c in view.pending] == [view.history[0].version]
        assert view.pending[0].effective_at is not None
        assert view.pending[0].rules is not None

    def test_monthly_caps_count_this_months_purchases(
        self, built_chain: Net, indexed: Engine
    ) -> None:
        token, c1 = built_chain.token.address, built_chain.wallets["c1"].address
        caps = queries.monthly_caps(indexed, token, c1, now=built_chain.now())
        assert caps is not None  # the rules set at deployment are in force
        assert caps.purchased == 100_000
        assert caps.purchase_left == max(0, caps.purchase_cap - 100_000)
        assert caps.gift_received == 11_000  # 10,000 direct and 1,000 relayed from c2

    def test_the_merchant_register_filters_and_pages(
        self, built_chain: Net, indexed: Engine
    ) -> None:
        token = built_chain.token.address
        everyone = queries.merchant_list(indexed, token)
        assert everyone.total == 4  # m1, m2, m4 (its own discount), m5 (a platform)
        m2 = built_chain.wallets["m2"].address
        (found,) = queries.merchant_list(indexed, token, search=m2[2:12]).items
        assert (found.merchant, found.tier, found.status) == (m2, 2, "active")
        # `address` (a registrar's call on one shop) is the whole address, never a pattern.
        assert queries.merchant_list(indexed, token, address=m2).items == [found]
        assert queries.merchant_list(indexed, token, address=m2[:12]).total == 0
        assert queries.merchant_list(indexed, token, address=m2[:-1] + "%").total == 0
        assert queries.merchant_list(indexed, token, tier=2).total == 1
        assert queries.merchant_list(indexed, token, status="suspended").total == 0
        assert len(queries.merchant_list(indexed, token, limit=1).items) == 1

    def test_a_wallets_identity(self, built_chain: Net, indexed: Engine) -> None:
        m1 = queries.wallet_identity(indexed, built_chain.wallets["m1"].address)
        assert (m1.kind, m1.merchant_in) == ("merchant", [built_chain.token.address])
        c5 = queries.wallet_identity(indexed, built_chain.wallets["c5"].address)
        assert (c5.kind, c5.frozen, c5.merchant_in) == ("citizen", True, [])
        assert queries.wallet_identity(indexed, "0x" + "12" * 20).kind is None


class TestPortalQueriesSQLite(PortalQueryTests, SQLiteBackend):
    pass


class TestPortalQueriesPostgres(PortalQueryTests, PostgresBackend):
    pass
