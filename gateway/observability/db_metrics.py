"""Database errors, counted where SQLAlchemy sees them (every statement of every service)."""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

from gateway.observability.registry import REGISTRY

__all__ = ["DB_ERRORS", "instrument_engine"]

DB_ERRORS = Counter(
    "dongne_db_errors", "database errors by kind (OperationalError: unreachable or locked; "
    "IntegrityError: a constraint)", ["kind"], registry=REGISTRY,
)  # fmt: skip
for _kind in ("OperationalError", "IntegrityError"):  # the usual kinds exist at 0
    DB_ERRORS.labels(kind=_kind)


def _count(context: ExceptionContext) -> None:
    error = context.sqlalchemy_exception or context.original_exception
    DB_ERRORS.labels(kind=type(error).__name__).inc()


def instrument_engine(engine: Engine) -> None:
    """Counts the engine's errors (connecting included); idempotent per engine."""
    if not event.contains(engine, "handle_error", _count):
        event.listen(engine, "handle_error", _count)
