"""Alembic environment: migrations run on the connection `gateway.db.upgrade` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import gateway.db.tables  # noqa: F401  (registers every table on the metadata)
from gateway.db.schema import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` on the command line
    raise RuntimeError("run migrations through gateway.db.upgrade(engine)")
run_migrations(connection)
