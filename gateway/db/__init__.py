"""The gateway database: one SQLAlchemy metadata, the tables, Alembic migrations, the engine."""

from gateway.db.engine import create_engine_for, upgrade
from gateway.db.schema import metadata

__all__ = ["create_engine_for", "metadata", "upgrade"]
