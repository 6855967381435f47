"""Database access: one SQLAlchemy engine per process, SQLite (WAL) by default or PostgreSQL.

Schema changes go through Alembic (`gateway/db/migrations`); `create_engine_for` upgrades a
database to the newest revision on start, so a fresh SQLite file or an empty PostgreSQL
schema both work with no manual step.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x646F6E676E65  # "dongne": the advisory lock key migrations hold


def _sqlite_pragmas(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers (the query API) run while the relayer and indexer write; NORMAL
    # synchronous is durable across process crashes in WAL mode (only an OS crash can lose
    # the last commits), which is the failure the relayer must survive.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine_for(url: str, *, migrate: bool = True) -> Engine:
    """An engine for `url` with the right dialect settings, migrated to the newest schema."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        if parsed.drivername == "postgresql":
            url = str(parsed.set(drivername="postgresql+psycopg"))
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    if migrate:
        upgrade(engine)
    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Runs Alembic migrations on `engine` up to `revision`."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Replicas starting together (`dongne gateway --replicas N`) would each create the
            # version table and the tables at once and all but one fail: one migrates at a
            # time, the others then find the schema current. Released at commit.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
