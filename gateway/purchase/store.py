"""Purchase orders in the database: the row as a dataclass, and the one way to change state.

Every transition is a compare-and-set (``UPDATE ... WHERE state IN (expected)``) committed
before the gateway acts on it, so two workers (or a worker and a redelivered webhook) never
both act on one order, and a crash leaves the order in a state that says what to do next.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields

from sqlalchemy import Connection, Engine, RowMapping, func, select, update

from gateway.db.tables import purchase as p

__all__ = [
    "Order",
    "last_recorded_nonce",
    "load",
    "load_by_id",
    "move",
    "move_in",
    "orders_in",
    "orders_of",
    "pending_totals",
]

_O = p.purchase_orders.c


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    chain_id: int
    token: str
    buyer: str
    idempotency_key: str
    face: int
    price: int
    discount_bps: int
    state: str
    provider: str
    payment_id: str | None
    bank_code: str | None
    account_number: str | None
    account_holder: str | None
    expires_at: float
    deposited: int | None
    paid_at: float | None
    tx_hash: str | None
    tx_nonce: int | None
    raw_tx: bytes | None
    block_number: int | None
    refund_id: str | None
    error_code: str | None
    error_detail: str | None
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, row: RowMapping) -> Order:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


def load(conn: Connection, order_id: str) -> Order | None:
    row = conn.execute(select(p.purchase_orders).where(_O.id == order_id)).mappings().first()
    return None if row is None else Order.of(row)


def move(
    engine: Engine, order_id: str, expected: Sequence[str], state: str, **values: object
) -> bool:
    """Sets ``state`` (and ``values``) if the order is still in one of ``expected``."""
    with engine.begin() as conn:
        return move_in(conn, order_id, expected, state, **values)


def move_in(
    conn: Connection, order_id: str, expected: Sequence[str], state: str, **values: object
) -> bool:
    query = (
        update(p.purchase_orders)
        .where(_O.id == order_id, _O.state.in_(list(expected)))
        .values(state=state, updated_at=time.time(), **values)
    )
    return conn.execute(query).rowcount == 1


def orders_of(
    engine: Engine, chain_id: int, buyer: str, token: str | None, limit: int
) -> list[Order]:
    query = select(p.purchase_orders).where(_O.chain_id == chain_id, _O.buyer == buyer.lower())
    if token is not None:
        query = query.where(_O.token == token.lower())
    query = query.order_by(_O.created_at.desc(), _O.id).limit(limit)
    with engine.connect() as conn:
        return [Order.of(row) for row in conn.execute(query).mappings()]


def orders_in(engine: Engine, chain_id: int, states: Sequence[str], limit: int) -> list[Order]:
    query = (
        select(p.purchase_orders)
        .where(_O.chain_id == chain_id, _O.state.in_(list(states)))
        .order_by(_O.created_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [Order.of(row) for row in conn.execute(query).mappings()]


def pending_totals(engine: Engine, chain_id: int, token: str, buyer: str) -> tuple[int, int]:
    """Face and price of ``buyer``'s orders whose vouchers are not on chain yet but may be."""
    query = select(func.coalesce(func.sum(_O.face), 0), func.coalesce(func.sum(_O.price), 0))
    query = query.where(
        _O.chain_id == chain_id,
        _O.token == token.lower(),
        _O.buyer == buyer.lower(),
        _O.state.in_(p.PENDING_STATES),
    )
    with engine.connect() as conn:
        face, price = conn.execute(query).one()
    return int(face), int(price)


def load_by_id(engine: Engine, order_id: str) -> Order | None:
    with engine.connect() as conn:
        return load(conn, order_id)


def last_recorded_nonce(engine: Engine, chain_id: int) -> int | None:
    """The highest nonce of an issue recorded and not known mined (orders in ``issuing``):
    the next issue is signed above it, even when that transaction never left."""
    query = select(func.max(_O.tx_nonce)).where(_O.chain_id == chain_id, _O.state == p.ISSUING)
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    return None if found is None else int(found)
