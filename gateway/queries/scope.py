"""What every query shares: which chain a database indexes, and how figures come out of SQL."""

from __future__ import annotations

from typing import SupportsInt, cast

from eth_utils.address import to_checksum_address
from sqlalchemy import (
    Connection,
    select,
)

from gateway.db.tables import index as t

MAX_PAGE = 200


class InvalidCursorError(ValueError):
    """A history cursor that this module did not produce."""


def chain_of(conn: Connection, chain_id: int | None) -> int:
    if chain_id is not None:
        return chain_id
    found = conn.execute(select(t.checkpoints.c.chain_id).limit(2)).scalars().all()
    return found[0] if len(found) == 1 else -1  # nothing indexed (or several chains): no rows


def as_int(value: object) -> int:
    """A count or sum as int (PostgreSQL sums bigints as Decimal; an empty sum is NULL)."""
    return 0 if value is None else int(cast(SupportsInt, value))


def checksum(address: str) -> str:
    return to_checksum_address(address)
