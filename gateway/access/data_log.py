"""The personal-data access log: each read of a person's money by someone else.

A resident reads who looked at their balances, pockets and history (``GET /v1/me/access-log``);
a municipality's auditors read all of it for their city.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select

from gateway.db.tables import access as a

__all__ = ["DataAccess", "for_subject", "for_token", "record"]


@dataclass(frozen=True, slots=True)
class DataAccess:
    at: float
    subject: str
    actor: str
    role: str | None
    token: str | None
    what: str
    request_id: str | None


def record(
    engine: Engine,
    *,
    subject: str,
    actor: str,
    role: str | None,
    what: str,
    token: str | None = None,
    request_id: str | None = None,
    now: float | None = None,
) -> None:
    row = {"at": time.time() if now is None else now, "subject": subject.lower(), "actor": actor,
           "role": role, "token": token.lower() if token else None, "what": what[:200],
           "request_id": request_id}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(a.data_access_log).values(row))


def _rows(engine: Engine, where: object, limit: int) -> list[DataAccess]:
    d = a.data_access_log.c
    columns = [c for c in a.data_access_log.c if c.name != "id"]
    query = select(*columns).where(where).order_by(d.at.desc(), d.id.desc()).limit(limit)  # type: ignore[arg-type]
    with engine.connect() as conn:
        return [DataAccess(**row._asdict()) for row in conn.execute(query)]


def for_subject(engine: Engine, subject: str, *, limit: int = 200) -> list[DataAccess]:
    return _rows(engine, a.data_access_log.c.subject == subject.lower(), limit)


def for_token(engine: Engine, token: str, *, limit: int = 500) -> list[DataAccess]:
    return _rows(engine, a.data_access_log.c.token == token.lower(), limit)
