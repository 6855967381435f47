"""The relayer's persistence: synchronous SQLAlchemy Core calls, run in worker threads.

Every state change of a request is a row update here, and a batch transaction is stored with
its raw bytes before it is sent: this table is what lets a restarted gateway finish its work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, RowMapping, bindparam, insert, select, update

from gateway.db.tables.relayer import (
    FAILED,
    FORWARD,
    QUEUED,
    SUBMITTED,
    SUCCEEDED,
    batches,
    requests,
)


def queued_columns(created_at: float, trace: str | None, shard: int) -> dict[str, object]:
    """The columns every request row starts with, forwarded or signed payment: queued,
    nothing sent or decided yet."""
    return {
        "status": QUEUED, "tx_hash": None, "block_number": None, "error_code": None,
        "error_args": None, "created_at": created_at, "updated_at": created_at,
        "http_request_id": trace, "shard": shard,
    }  # fmt: skip


class NonceTakenError(Exception):
    """The database stored another live request with the same signer and nonce (scope)."""


@dataclass(frozen=True)
class StoredRequest:
    id: str
    signer: str
    target: str
    selector: str
    nonce: int
    deadline: int
    gas: int
    data: bytes
    signature: bytes
    status: str
    tx_hash: str | None
    block_number: int | None
    error_code: str | None
    error_args: dict[str, object] | None
    created_at: float
    updated_at: float
    http_request_id: str | None = None  # the X-Request-ID that brought it
    kind: str = FORWARD  # or PAYMENT (gateway.db.tables.relayer)
    nonce_scope: str = ""  # a payment's token: its nonce is the payer's sequence there

    def public(self) -> dict[str, object]:
        """The request as `GET /v1/requests/{id}` shows it."""
        error = None
        if self.error_code is not None:
            error = {"code": self.error_code, "args": self.error_args or {}}
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "signer": self.signer,
            "target": self.target,
            "selector": self.selector,
            "nonce": str(self.nonce),
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "error": error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class StoredBatch:
    tx_hash: str
    relayer: str
    relayer_nonce: int
    raw: bytes
    request_ids: list[str]
    submitted_at: float


# A request's outcome from the chain: written over anything but a success (a success is the
# chain's word and never turns into anything else, whichever replica writes last).
_OUTCOME_UPDATE = (
    update(requests)
    .where(requests.c.id == bindparam("rid"))
    .where(requests.c.status != SUCCEEDED)
    .values(
        status=bindparam("status"),
        tx_hash=bindparam("tx_hash"),
        block_number=bindparam("block_number"),
        error_code=bindparam("error_code"),
        error_args=bindparam("error_args"),
        updated_at=bindparam("updated_at"),
    )
)


class RequestStore:
    def __init__(self, engine: Engine, chain_id: int) -> None:
        self.engine = engine
        self.chain_id = chain_id
        # The batcher's writes (batches, outcomes) check the lease inside their transaction
        # (gateway.relayer.lease); None for a store used outside a relayer (tests, tools).
        self.fence: Callable[[Connection], None] | None = None

    def _fenced(self, conn: Connection) -> None:
        if self.fence is not None:
            self.fence(conn)

    def insert_requests(self, rows: Sequence[Mapping[str, object]]) -> set[str]:
        """Inserts accepted requests in one transaction and answers the ids now stored. A row
        is skipped, not an error, when its id is already stored (the same request through
        another replica: stored once) or when another live request holds its signer's nonce
        (the unique index ``ux_relay_requests_live_nonce``: the arbiter across replicas);
        the caller tells the two apart by the answer. Plain DBAPI executemany: on the hot
        path SQLAlchemy's per-row parameter processing cost more than the insert."""
        if not rows:
            return set()
        marker = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        columns = list(rows[0].keys())
        sql = (
            f"INSERT INTO {requests.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join([marker] * len(columns))}) ON CONFLICT DO NOTHING"
        )
        values = [tuple(_column_value(r[c]) for c in columns) for r in rows]
        ids = [str(r["id"]) for r in rows]
        with self.engine.begin() as conn:
            conn.exec_driver_sql(sql, values)
            stored = conn.execute(select(requests.c.id).where(requests.c.id.in_(ids))).scalars()
            return set(stored)

    def get(self, request_id: str) -> StoredRequest | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(requests).where(requests.c.id == request_id)).first()
        return _request(row._mapping) if row is not None else None

    def unfinished(self, shard: int | None = None) -> list[StoredRequest]:
        """Queued and submitted requests (of one shard), oldest first: the work a restart or
        a replica taking the shard over resumes."""
        query = (
            select(requests)
            .where(requests.c.status.in_((QUEUED, SUBMITTED)))
            .where(requests.c.chain_id == self.chain_id)
            .order_by(requests.c.created_at)
        )
        if shard is not None:
            query = query.where(requests.c.shard == shard)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_request(r._mapping) for r in rows]

    def live_holder(self, signer: str, nonce: int, scope: str = "") -> str | None:
        """The id of the request (not failed) that holds ``signer``'s ``nonce``, if any (of
        the forwarder, or of the token ``scope`` names)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(requests.c.id)
                .where(requests.c.chain_id == self.chain_id, requests.c.signer == signer)
                .where(requests.c.nonce_scope == scope)
                .where(requests.c.nonce == nonce, requests.c.status != FAILED)
            ).scalar()
        return None if found is None else str(found)

    def live_nonces(self, signer: str, since: int, scope: str = "") -> list[int]:
        """``signer``'s nonces (in ``scope``) from ``since`` on held by requests not final."""
        with self.engine.connect() as conn:
            return [
                int(n)
                for n in conn.execute(
                    select(requests.c.nonce)
                    .where(requests.c.chain_id == self.chain_id, requests.c.signer == signer)
                    .where(requests.c.nonce_scope == scope)
                    .where(requests.c.nonce >= since)
                    .where(requests.c.status.in_((QUEUED, SUBMITTED)))
                ).scalars()
            ]

    def queued_ids(self, shard: int) -> list[str]:
        """The ids of a shard's queued requests: the owner adopts those it does not hold yet
        (accepted by another replica). Ids only: polled every few tens of milliseconds."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(requests.c.id)
                    .where(requests.c.shard == shard, requests.c.status == QUEUED)
                    .where(requests.c.chain_id == self.chain_id)
                ).scalars()
            )

    def load(self, ids: Sequence[str]) -> list[StoredRequest]:
        """Rows by id, oldest first (missing ones left out)."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(requests).where(requests.c.id.in_(ids)).order_by(requests.c.created_at)
            ).all()
        return [_request(r._mapping) for r in rows]

    def assign_shards(self, shard_of: Callable[[str], int]) -> int:
        """Gives unfinished rows stored before sharding (shard NULL) their shard."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(requests.c.id, requests.c.signer)
                .where(requests.c.shard.is_(None))
                .where(requests.c.status.in_((QUEUED, SUBMITTED)))
            ).all()
            if rows:
                conn.execute(
                    update(requests)
                    .where(requests.c.id == bindparam("rid"))
                    .values(shard=bindparam("k")),
                    [{"rid": r.id, "k": shard_of(r.signer)} for r in rows],
                )
        return len(rows)

    def record_batch(self, batch: StoredBatch) -> None:
        """Stores a batch transaction and marks its requests submitted, atomically, before
        the transaction is sent."""
        now = time.time()
        with self.engine.begin() as conn:
            self._fenced(conn)
            conn.execute(
                insert(batches).values(
                    tx_hash=batch.tx_hash,
                    relayer=batch.relayer,
                    relayer_nonce=batch.relayer_nonce,
                    raw=batch.raw,
                    request_ids=batch.request_ids,
                    status="pending",
                    submitted_at=batch.submitted_at,
                )
            )
            conn.execute(
                update(requests)
                .where(requests.c.id.in_(batch.request_ids))
                .values(status=SUBMITTED, tx_hash=batch.tx_hash, updated_at=now)
            )

    def pending_batches(self, relayer: str | None = None) -> list[StoredBatch]:
        """Batches sent and not final (of one relayer key, i.e. one shard)."""
        query = (
            select(batches).where(batches.c.status == "pending").order_by(batches.c.submitted_at)
        )
        if relayer is not None:
            query = query.where(batches.c.relayer == relayer)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            StoredBatch(
                tx_hash=r.tx_hash,
                relayer=r.relayer,
                relayer_nonce=int(r.relayer_nonce),
                raw=bytes(r.raw),
                request_ids=list(r.request_ids),
                submitted_at=float(r.submitted_at),
            )
            for r in rows
        ]

    def finish_batch(
        self,
        tx_hash: str,
        *,
        status: str,
        block_number: int | None,
        gas_used: int | None,
        outcomes: Iterable[Outcome],
        requeued: Iterable[str] = (),
    ) -> None:
        """Closes a batch and writes every request's outcome in one transaction."""
        now = time.time()
        with self.engine.begin() as conn:
            self._fenced(conn)
            conn.execute(
                update(batches)
                .where(batches.c.tx_hash == tx_hash)
                .values(status=status, block_number=block_number, gas_used=gas_used)
            )
            rows = _outcome_rows(outcomes, now)
            if rows:
                # One executemany for the whole batch: per-row statements were the relayer's
                # largest cost at a few hundred requests per second.
                conn.execute(_OUTCOME_UPDATE, rows)
            ids = list(requeued)
            if ids:
                conn.execute(
                    update(requests)
                    .where(requests.c.id.in_(ids), requests.c.status.in_((QUEUED, SUBMITTED)))
                    .values(status=QUEUED, tx_hash=None, updated_at=now)
                )

    def write_outcomes(self, outcomes: Iterable[Outcome]) -> None:
        """Outcomes decided outside a batch's receipt (a signed payment found paid by an
        earlier transaction, or refused by simulation), with the chain's tx hash and block
        when there is one; never over a success."""
        rows = _outcome_rows(outcomes, time.time())
        if not rows:
            return
        with self.engine.begin() as conn:
            self._fenced(conn)
            conn.execute(_OUTCOME_UPDATE, rows)

    def fail_requests(self, outcomes: Iterable[Outcome]) -> None:
        """Failures decided off chain (expired, refused by simulation): only over a request
        still unfinished, never over an outcome a replica has read from the chain."""
        now = time.time()
        with self.engine.begin() as conn:
            self._fenced(conn)
            for o in outcomes:
                conn.execute(
                    update(requests)
                    .where(requests.c.id == o.request_id)
                    .where(requests.c.status.in_((QUEUED, SUBMITTED)))
                    .values(
                        status=o.status,
                        error_code=o.error_code,
                        error_args=o.error_args,
                        updated_at=now,
                    )
                )


@dataclass(frozen=True)
class Outcome:
    request_id: str
    status: str  # SUCCEEDED or FAILED
    tx_hash: str | None = None
    block_number: int | None = None
    error_code: str | None = None
    error_args: dict[str, object] | None = None

    @classmethod
    def succeeded(cls, request_id: str, tx_hash: str, block: int) -> Outcome:
        return cls(request_id, SUCCEEDED, tx_hash, block)

    @classmethod
    def failed(
        cls,
        request_id: str,
        code: str,
        args: dict[str, object] | None = None,
        *,
        tx_hash: str | None = None,
        block: int | None = None,
    ) -> Outcome:
        return cls(request_id, FAILED, tx_hash, block, code, _json_safe(args or {}))


def _outcome_rows(outcomes: Iterable[Outcome], now: float) -> list[dict[str, object]]:
    """Parameters of ``_OUTCOME_UPDATE``, one a request."""
    return [
        {
            "rid": o.request_id,
            "status": o.status,
            "tx_hash": o.tx_hash,
            "block_number": o.block_number,
            "error_code": o.error_code,
            "error_args": o.error_args,
            "updated_at": now,
        }
        for o in outcomes
    ]


def _column_value(value: object) -> object:
    # Only the JSON column needs encoding; at insert time it is always empty.
    return json.dumps(value) if isinstance(value, dict) else value


def _request(m: RowMapping) -> StoredRequest:
    return StoredRequest(
        id=str(m["id"]),
        signer=str(m["signer"]),
        target=str(m["target"]),
        selector=str(m["selector"]),
        nonce=int(m["nonce"]),
        deadline=int(m["deadline"]),
        gas=int(m["gas"]),
        data=bytes(m["data"]),
        signature=bytes(m["signature"]),
        status=str(m["status"]),
        tx_hash=None if m["tx_hash"] is None else str(m["tx_hash"]),
        block_number=None if m["block_number"] is None else int(m["block_number"]),
        error_code=None if m["error_code"] is None else str(m["error_code"]),
        error_args=m["error_args"],
        created_at=float(m["created_at"]),
        updated_at=float(m["updated_at"]),
        http_request_id=m["http_request_id"],
        kind=str(m["kind"]),
        nonce_scope=str(m["nonce_scope"]),
    )


def _json_safe(args: dict[str, object]) -> dict[str, object]:
    """uint256 arguments beyond 2**53 as decimal strings, as the rest of the API sends them
    (JSON numbers lose precision there, and orjson refuses integers over 64 bits)."""

    def safe(value: object) -> object:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and abs(value) > 2**53:
            return str(value)
        if isinstance(value, list | tuple):
            return [safe(v) for v in value]
        if isinstance(value, dict):
            return {k: safe(v) for k, v in value.items()}
        return value

    return {k: safe(v) for k, v in args.items()}
