"""indexer: the address and hash columns of the indexer's tables compare bytes on PostgreSQL
(COLLATE "C"), as SQLite's already do

They hold lowercase ``0x`` hex, ASCII, so byte order is the order any collation gives them, and
the database's default collation only costs time: every row a catch-up writes goes into B-trees
keyed on them (the ``(chain_id, tx_hash, log_index)`` unique key of every event table), and a
linguistic collation compares through ``strcoll`` (and a copy of both strings) where "C" is one
``memcmp``. Mixed with the default collation (a join on another table's address column) the
non-default implicit collation wins, so no query changes.

The columns are those of the ``index_*`` tables typed ``VARCHAR(42)`` (an address) or
``VARCHAR(66)`` (a hash), as ``gateway.db.tables.index`` types them (``ADDRESS``, ``HASH``).
One ``ALTER TABLE`` a table: PostgreSQL rebuilds that table's indexes on them once (the rows
stay as they are: the type is the same). SQLite: nothing to do.

Operations: on PostgreSQL each ``ALTER TABLE`` holds the table's ACCESS EXCLUSIVE lock until the
migration commits (all of it runs in one transaction), so every ``index_*`` table is unreadable
from its rebuild to the end: the API's reads and the indexer wait. A few seconds on a small
index; on a large one (millions of grants and transfers) minutes: upgrade a large database in a
maintenance window, with the gateway replicas and the indexer stopped (see the README's
"Upgrading the gateway's database").

Revision ID: 0013_index_hex_collation
Revises: 0012_relay_shards
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_index_hex_collation"
down_revision = "0012_relay_shards"
branch_labels = None
depends_on = None

_HEX_LENGTHS = (42, 66)  # an address, a hash


def _hex_columns() -> dict[str, list[tuple[str, int]]]:
    """The indexer's hex columns, by table: (name, length)."""
    inspector = sa.inspect(op.get_bind())
    found: dict[str, list[tuple[str, int]]] = {}
    for table in sorted(inspector.get_table_names()):
        if not table.startswith("index_"):
            continue
        for column in inspector.get_columns(table):
            kind = column["type"]
            if isinstance(kind, sa.String) and kind.length in _HEX_LENGTHS:
                found.setdefault(table, []).append((column["name"], kind.length))
    return found


def _collate(collation: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    quote = bind.dialect.identifier_preparer.quote
    for table, columns in _hex_columns().items():
        changes = ", ".join(
            f'ALTER COLUMN {quote(name)} TYPE VARCHAR({length}) COLLATE "{collation}"'
            for name, length in columns
        )
        op.execute(f"ALTER TABLE {quote(table)} {changes}")


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
