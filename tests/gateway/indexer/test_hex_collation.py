"""The indexer's address and hash columns compare bytes on PostgreSQL (``COLLATE "C"``,
migration ``0013_index_hex_collation``): a fresh schema has exactly the collations the table
definitions declare, and a schema migrated with rows in it keeps them, its keys and order, and
goes back down. SQLite: the migration changes nothing and the tables still create."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, String, create_engine, insert, select, text
from sqlalchemy.exc import IntegrityError

from gateway.db import create_engine_for
from gateway.db.engine import MIGRATIONS_DIR, upgrade
from gateway.db.tables import index as t

BEFORE = "0012_relay_shards"

_GRANT = {
    "chain_id": 31337,
    "block_number": 7,
    "block_hash": "0x" + "ab" * 32,
    "tx_hash": "0x" + "cd" * 32,
    "log_index": 0,
    "block_time": 1_700_000_000,
    "token": "0x" + "11" * 20,
    "program_id": 1,
    "recipient": "0x" + "22" * 20,
    "grant_index": 0,
    "amount": 5_000,
}


def _declared() -> dict[tuple[str, str], str | None]:
    """(table, column) -> the collation the definitions give it on PostgreSQL."""
    out: dict[tuple[str, str], str | None] = {}
    for table in t.ALL_TABLES:
        for column in table.columns:
            kind = column.type
            kind = kind._variant_mapping.get("postgresql", kind)
            if isinstance(kind, String):
                out[table.name, column.name] = kind.collation
    return out


def _collations(engine: Engine) -> dict[tuple[str, str], str | None]:
    """(table, column) -> the collation PostgreSQL has for the indexer's text columns (None:
    the database's default)."""
    query = text(
        "SELECT table_name, column_name, collation_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name LIKE 'index\\_%'"
        " AND data_type IN ('character varying', 'text')"
    )
    with engine.connect() as conn:
        return {(table, column): collation for table, column, collation in conn.execute(query)}


@contextmanager
def _schema(admin: Engine) -> Iterator[Engine]:
    name = f"t_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    engine = create_engine(admin.url, connect_args={"options": f"-csearch_path={name}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))


def _downgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


@pytest.mark.postgres
def test_a_fresh_schema_has_the_collations_the_tables_declare(postgres_admin: Engine) -> None:
    declared = _declared()
    assert declared["index_grants", "tx_hash"] == "C"
    assert declared["index_grants", "recipient"] == "C"
    assert declared["index_rule_changes", "action"] is None  # a word, not hex
    with _schema(postgres_admin) as engine:
        upgrade(engine)
        assert _collations(engine) == declared


@pytest.mark.postgres
def test_a_schema_with_rows_migrates_up_and_down(postgres_admin: Engine) -> None:
    with _schema(postgres_admin) as engine:
        upgrade(engine, BEFORE)
        later = dict(_GRANT, block_number=8, tx_hash="0x" + "0f" * 32)
        with engine.begin() as conn:
            conn.execute(insert(t.grants), [_GRANT, later])
        assert set(_collations(engine).values()) == {None}

        upgrade(engine)
        assert _collations(engine) == _declared()
        with engine.connect() as conn:
            hashes = conn.execute(select(t.grants.c.tx_hash).order_by(t.grants.c.tx_hash))
            assert list(hashes.scalars()) == [later["tx_hash"], _GRANT["tx_hash"]]
            # Joined with another table's address column (the default collation), sorted.
            conn.execute(text("CREATE TEMP TABLE other (who VARCHAR(42))"))
            conn.execute(text("INSERT INTO other VALUES (:who)"), {"who": _GRANT["recipient"]})
            joined = conn.execute(
                text(
                    "SELECT g.recipient FROM index_grants g JOIN other o ON g.recipient = o.who"
                    " WHERE g.recipient >= o.who ORDER BY g.recipient, o.who"
                )
            )
            assert joined.scalars().all() == [_GRANT["recipient"]] * 2
        with pytest.raises(IntegrityError), engine.begin() as conn:  # the unique key holds
            conn.execute(insert(t.grants), [dict(_GRANT, block_number=9)])

        _downgrade(engine, BEFORE)
        assert set(_collations(engine).values()) == {None}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM index_grants")).scalar_one() == 2


def test_sqlite_tables_create_and_take_rows(tmp_path: object) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path}/gateway.db")
    try:
        with engine.begin() as conn:
            conn.execute(insert(t.grants), [_GRANT])
            assert conn.execute(select(t.grants.c.recipient)).scalar_one() == _GRANT["recipient"]
    finally:
        engine.dispose()
