"""The ledger export: every money movement of a city in chain order, streamed as CSV or JSONL."""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, Row, Table, select

from chain.protocol.hashing import ZERO_ADDRESS
from gateway.db.tables import index as t


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    block_number: int
    log_index: int
    block_time: int
    tx_hash: str
    kind: (
        str  # sale | payment | cancellation | gift | redemption | refund | program | grant | close
    )
    sender: str | None  # None: the municipality's budget (grants) or nobody
    recipient: str | None  # the zero address: burned
    amount: int | None
    reference: str | None  # payment id, redemption ref or program ref
    program_id: int | None
    details: dict[str, int | str]


Mapper = Callable[[Row[tuple[object, ...]]], LedgerEntry]


def _entry(
    r: Row[tuple[object, ...]],
    kind: str,
    sender: str | None,
    recipient: str | None,
    amount: object,
    reference: str | None = None,
    program_id: object = None,
    **details: object,
) -> LedgerEntry:
    def addr(a: str | None) -> str | None:
        return None if a is None else to_checksum_address(a)

    def number(v: object) -> int | None:
        return None if v is None else int(str(v))

    return LedgerEntry(
        block_number=r.block_number,
        log_index=r.log_index,
        block_time=r.block_time,
        tx_hash=r.tx_hash,
        kind=kind,
        sender=addr(sender),
        recipient=addr(recipient),
        amount=number(amount),
        reference=reference,
        program_id=number(program_id),
        details={
            k: v if isinstance(v, str) else int(str(v)) for k, v in details.items() if v is not None
        },
    )


_LEDGER: tuple[tuple[Table, Mapper], ...] = (
    (t.sales, lambda r: _entry(r, "sale", r.issuer, r.buyer, r.face, paid=r.paid,
                               subsidy=r.subsidy)),
    # Money rules' parts appear only where they apply (a merchant's extra, a platform's fee,
    # an employee, a partial cancellation, a recovered payer's new wallet).
    (t.payments, lambda r: _entry(r, "payment", r.payer, r.merchant, r.amount, r.payment_id,
                                  seq=r.seq, from_general=r.from_general,
                                  from_pockets=r.from_pockets, cashback=r.cashback,
                                  extra=r.extra or None, platform=r.platform,
                                  fee=r.fee or None, employee=r.employee)),
    (t.cancellations, lambda r: _entry(r, "cancellation", r.merchant, r.recipient or r.payer,
                                       r.amount, r.payment_id, seq=r.seq, returned=r.returned,
                                       payment_tx_hash=r.payment_tx_hash,
                                       cancelled_total=(r.cancelled_total
                                                        if r.cancelled_total != r.amount
                                                        else None),
                                       cashback=r.cashback or None, fee=r.fee or None,
                                       extra=r.extra or None)),
    (t.gifts, lambda r: _entry(r, "gift", r.sender, r.recipient, r.amount)),
    (t.redemptions, lambda r: _entry(r, "redemption", r.merchant, ZERO_ADDRESS, r.amount, r.ref)),
    (t.refunds, lambda r: _entry(r, "refund", r.holder, ZERO_ADDRESS, r.face, cash=r.cash)),
    (t.programs, lambda r: _entry(r, "program", None, None, r.budget, r.ref, r.program_id,
                                  start=r.start_time, expiry=r.expiry)),
    (t.grants, lambda r: _entry(r, "grant", None, r.recipient, r.amount, None, r.program_id,
                                grant_index=r.grant_index)),
    (t.program_closes, lambda r: _entry(r, "close", None, None, r.returned, None, r.program_id,
                                        granted=r.granted, spent=r.spent)),
    (t.rewards, lambda r: _entry(r, "reward", None, r.recipient, r.amount, r.attestation_id,
                                 r.program_id)),
    (t.wallet_recoveries, lambda r: _entry(r, "recovery", r.lost, r.recipient, r.balance)),
    (t.pocket_recoveries, lambda r: _entry(r, "recovery", r.lost, r.recipient, r.amount, None,
                                           r.program_id)),
)  # fmt: skip


def ledger_entries(
    engine: Engine, chain_id: int, token: str, since: int | None = None, until: int | None = None
) -> Iterator[LedgerEntry]:
    """Every money event of ``token`` with block time in ``[since, until)``, in chain order."""
    token = token.lower()
    with engine.connect() as conn:
        streams = []
        for table, mapper in _LEDGER:
            c = table.c
            query = select(table).where(c.chain_id == chain_id, c.token == token)
            if since is not None:
                query = query.where(c.block_time >= since)
            if until is not None:
                query = query.where(c.block_time < until)
            rows = conn.execution_options(yield_per=2_000).execute(
                query.order_by(c.block_number, c.log_index)
            )
            streams.append(map(mapper, rows))
        yield from heapq.merge(*streams, key=lambda e: (e.block_number, e.log_index))


LEDGER_COLUMNS = (
    "block_number", "log_index", "block_time", "time_utc", "tx_hash", "kind", "from", "to",
    "amount", "reference", "program_id", "details",
)  # fmt: skip


TRAILER_MARK = "#trailer"


def ledger_csv(entries: Iterator[LedgerEntry]) -> Iterator[str]:
    """CSV text: a header, one line per entry (``details`` is a JSON object), and a last line
    ``#trailer,rows=N,sha256=H`` where H is the SHA-256 of every line above it, so a stream cut
    anywhere (a dropped connection, an error after the first byte) can never pass as complete."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    digest, rows = hashlib.sha256(), 0
    writer.writerow(LEDGER_COLUMNS)
    for e in entries:
        when = datetime.fromtimestamp(e.block_time, UTC).isoformat()
        details = json.dumps(e.details, separators=(",", ":"), sort_keys=True)
        amount, program = ("" if v is None else v for v in (e.amount, e.program_id))
        parties = (e.sender or "", e.recipient or "")
        position = (e.block_number, e.log_index, e.block_time, when, e.tx_hash, e.kind)
        writer.writerow([*position, *parties, amount, e.reference or "", program, details])
        rows += 1
        if out.tell() > 64 * 1024:
            chunk = out.getvalue()
            digest.update(chunk.encode())
            yield chunk
            out.seek(0)
            out.truncate()
    chunk = out.getvalue()
    digest.update(chunk.encode())
    yield chunk + f"{TRAILER_MARK},rows={rows},sha256={digest.hexdigest()}\n"


def ledger_jsonl(entries: Iterator[LedgerEntry]) -> Iterator[str]:
    """JSON lines, one object per entry, then ``{"trailer": {"rows": N, "sha256": H}}`` over
    every line above it."""
    digest, rows = hashlib.sha256(), 0
    for e in entries:
        line = json.dumps(asdict(e), separators=(",", ":")) + "\n"
        digest.update(line.encode())
        rows += 1
        yield line
    trailer = {"trailer": {"rows": rows, "sha256": digest.hexdigest()}}
    yield json.dumps(trailer, separators=(",", ":")) + "\n"


def check_trailer(text: str) -> int:
    """The row count of a complete ledger export (CSV or JSON lines); ValueError when the
    trailer is missing or does not match what precedes it (a cut or altered export)."""
    body, _, last = text.rstrip("\n").rpartition("\n")
    body += "\n"
    if last.startswith(TRAILER_MARK):
        fields = dict(part.split("=", 1) for part in last.split(",")[1:])
        rows, expected = int(fields["rows"]), fields["sha256"]
    else:
        try:
            trailer = json.loads(last)["trailer"]
        except (ValueError, KeyError, TypeError):
            raise ValueError("the export has no trailer: it was cut") from None
        rows, expected = int(trailer["rows"]), str(trailer["sha256"])
    if hashlib.sha256(body.encode()).hexdigest() != expected:
        raise ValueError("the export does not match its trailer: it was cut or altered")
    return rows
