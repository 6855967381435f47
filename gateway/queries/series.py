"""A municipality's figures per day (Korea Standard Time), for the portal's charts.

Flows (sales, payments, cashback, gifts, redemptions) are sums of the day's events; stocks
(circulating supply, holders, registered merchants) are their values at the end of the day.
Every day of the window has a bucket, zeros included, so a chart's x axis has no gaps. The
figures come from the same indexed events as :func:`gateway.queries.dashboard`, so the last
day's stocks equal the dashboard's when the window ends today.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, func, select, union_all

from chain.protocol.hashing import ZERO_ADDRESS
from gateway.db.tables import index as t
from gateway.queries.municipalities import municipality_rows
from gateway.queries.scope import as_int, chain_of

__all__ = ["KST_OFFSET_S", "DailyBucket", "DailySeries", "daily_series", "kst_day"]

KST_OFFSET_S = 9 * 3600  # Korea has kept UTC+9 all year since 1988
_DAY_S = 86_400


def kst_day(unix_time: int) -> date:
    """The calendar day in Korea of a unix time."""
    return datetime.fromtimestamp(unix_time + KST_OFFSET_S, UTC).date()


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


@dataclass(frozen=True, slots=True)
class DailyBucket:
    day: str  # ISO date in KST
    sales: int
    sales_face: int
    sales_paid: int
    subsidy: int
    payments: int
    payment_volume: int
    cashback: int
    gifts: int
    gift_volume: int
    redemptions: int
    redeemed: int
    circulating: int  # at the end of the day
    holders: int  # wallets with a general balance at the end of the day
    merchants: int  # merchants registered by the end of the day


@dataclass(frozen=True, slots=True)
class DailySeries:
    token: str
    first_day: str
    last_day: str
    days: list[DailyBucket]


_FLOWS: list[tuple[str, dict[str, str]]] = [
    ("sales", {"sales": "*", "sales_face": "face", "sales_paid": "paid", "subsidy": "subsidy"}),
    ("payments", {"payments": "*", "payment_volume": "amount", "cashback": "cashback"}),
    ("gifts", {"gifts": "*", "gift_volume": "amount"}),
    ("redemptions", {"redemptions": "*", "redeemed": "amount"}),
]


def _flows(
    conn: Connection, chain: int, token: str, first: int, last: int
) -> dict[int, dict[str, int]]:
    by_day: dict[int, dict[str, int]] = {}
    for table_name, figures in _FLOWS:
        table = getattr(t, table_name)
        day = (table.c.block_time + KST_OFFSET_S) // _DAY_S
        columns = [
            (func.count() if column == "*" else func.sum(table.c[column])).label(name)
            for name, column in figures.items()
        ]
        query = (
            select(day.label("day"), *columns)
            .where(table.c.chain_id == chain, table.c.token == token)
            .where(day >= first, day <= last)
            .group_by(day)
        )
        for row in conn.execute(query):
            bucket = by_day.setdefault(as_int(row.day), {})
            bucket.update((name, as_int(row._mapping[name])) for name in figures)
    return by_day


# The stocks fold every transfer since the token began, and the route is public: one fold per
# (token, last indexed block and hash, last day) serves every caller until the indexer moves
# on, so a stream of anonymous requests costs one scan per new block, not one each.
_STOCKS_CACHE: OrderedDict[tuple[int, int, str, str, int], list[tuple[int, int, int]]] = (
    OrderedDict()
)
_STOCKS_CACHE_SIZE = 64
_STOCKS_LOCK = threading.Lock()


def _indexed_block(conn: Connection, chain: int) -> str:
    """The last indexed block's number and hash: after a reorg the number may come back with
    other contents, the hash does not."""
    c = t.checkpoints.c
    found = conn.execute(select(c.block_number, c.block_hash).where(c.chain_id == chain)).first()
    return "none" if found is None else f"{found.block_number}:{found.block_hash}"


def _cached_stocks(
    conn: Connection, engine: Engine, chain: int, token: str, last: int
) -> list[tuple[int, int, int]]:
    key = (id(engine), chain, token, _indexed_block(conn, chain), last)
    with _STOCKS_LOCK:
        found = _STOCKS_CACHE.get(key)
        if found is not None:
            _STOCKS_CACHE.move_to_end(key)
            return found
    stocks = _stocks(conn, chain, token, last)
    with _STOCKS_LOCK:
        _STOCKS_CACHE[key] = stocks
        while len(_STOCKS_CACHE) > _STOCKS_CACHE_SIZE:
            _STOCKS_CACHE.popitem(last=False)
    return stocks


def _stocks(conn: Connection, chain: int, token: str, last: int) -> list[tuple[int, int, int]]:
    """(day, circulating, holders) at the end of every day with a transfer, up to ``last``."""
    x = t.transfers.c
    day = (x.block_time + KST_OFFSET_S) // _DAY_S
    mine = (x.chain_id == chain, x.token == token, day <= last)
    moves = union_all(
        select(day.label("day"), x.recipient.label("account"), x.amount.label("delta")).where(
            *mine
        ),
        select(day.label("day"), x.sender.label("account"), (-x.amount).label("delta")).where(
            *mine
        ),
    ).subquery()
    query = (
        select(moves.c.day, moves.c.account, func.sum(moves.c.delta).label("delta"))
        .group_by(moves.c.day, moves.c.account)
        .order_by(moves.c.day)
    )
    balances: dict[str, int] = {}
    holders = 0
    circulating = 0
    out: list[tuple[int, int, int]] = []
    for row in conn.execute(query):
        delta = as_int(row.delta)
        if row.account == ZERO_ADDRESS:
            circulating -= delta  # the zero address's outflow is what was minted
        else:
            before = balances.get(row.account, 0)
            after = before + delta
            balances[row.account] = after
            holders += (after > 0) - (before > 0)
        current = as_int(row.day)
        if out and out[-1][0] == current:
            out[-1] = (current, circulating, holders)
        else:
            out.append((current, circulating, holders))
    return out


def _merchant_counts(conn: Connection, chain: int, token: str, last: int) -> list[tuple[int, int]]:
    m = t.merchant_events.c
    day = (m.block_time + KST_OFFSET_S) // _DAY_S
    query = (
        select(day.label("day"), func.count().label("n"))
        .where(m.chain_id == chain, m.token == token, m.action == "registered", day <= last)
        .group_by(day)
        .order_by(day)
    )
    total = 0
    out: list[tuple[int, int]] = []
    for row in conn.execute(query):
        total += as_int(row.n)
        out.append((as_int(row.day), total))
    return out


def daily_series(
    engine: Engine,
    token: str,
    *,
    days: int,
    until: date | None = None,
    chain_id: int | None = None,
) -> DailySeries | None:
    """``days`` daily buckets ending with ``until`` (today in KST by default); None for an
    unknown token."""
    tok = token.lower()
    last_day = until or kst_day(int(datetime.now(UTC).timestamp()))
    first_day = last_day - timedelta(days=days - 1)
    first, last = _day_number(first_day), _day_number(last_day)
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        found = municipality_rows(conn, chain, tok)
        if not found:
            return None
        flows = _flows(conn, chain, tok, first, last)
        stocks = _cached_stocks(conn, engine, chain, tok, last)
        merchants = _merchant_counts(conn, chain, tok, last)
    buckets: list[DailyBucket] = []
    stock, shops = (0, 0, 0), 0
    si = mi = 0
    for number in range(first, last + 1):
        while si < len(stocks) and stocks[si][0] <= number:
            stock = stocks[si]
            si += 1
        while mi < len(merchants) and merchants[mi][0] <= number:
            shops = merchants[mi][1]
            mi += 1
        flow = flows.get(number, {})
        buckets.append(
            DailyBucket(
                day=(date(1970, 1, 1) + timedelta(days=number)).isoformat(),
                sales=flow.get("sales", 0),
                sales_face=flow.get("sales_face", 0),
                sales_paid=flow.get("sales_paid", 0),
                subsidy=flow.get("subsidy", 0),
                payments=flow.get("payments", 0),
                payment_volume=flow.get("payment_volume", 0),
                cashback=flow.get("cashback", 0),
                gifts=flow.get("gifts", 0),
                gift_volume=flow.get("gift_volume", 0),
                redemptions=flow.get("redemptions", 0),
                redeemed=flow.get("redeemed", 0),
                circulating=stock[1],
                holders=stock[2],
                merchants=shops,
            )
        )
    return DailySeries(found[0].token, first_day.isoformat(), last_day.isoformat(), buckets)
