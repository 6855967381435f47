"""Settlement batches: a municipality's redemptions (환전) and refunds (환불) in a time window,
per payee, for the bank that pays merchants and residents cash.

A batch covers redemptions with block time in ``[since, until)``. Every redemption burns what
it redeems, so a batch is issued only when its total equals the burn each redemption made
(the ``Transfer`` to the zero address just before its ``Redeemed`` in the same transaction):
a bank file never pays out money the chain did not destroy. Windows of one municipality never
overlap, so no redemption is paid twice, and a window is issued only once the index has passed
its end, so none is left out. The batch row keeps the figures issued; reading a batch later
recomputes them from the index and says whether they still agree (a reorg would show here).

Refunds are settled the same way: a resident's ``Refunded`` burns the face it refunds (the
``Transfer`` to zero just before it) and the bank pays its ``cash``. A batch reconciles when
both kinds match their burns. Who is paid into which account is ``gateway.audit.payouts``;
the scheduler issuing a batch per cut-off is ``gateway.audit.settlement_schedule``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, Engine, Table, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from chain.protocol.hashing import ZERO_ADDRESS
from gateway.audit import payouts
from gateway.db.tables import distribution as d
from gateway.db.tables import index as t
from gateway.db.tables.settlement import REDEMPTION, REFUND
from gateway.errors import GatewayError

__all__ = [
    "KST",
    "MerchantLine",
    "RefundLine",
    "SettlementBatch",
    "batch_csv",
    "get_batch",
    "issue_batch",
    "list_batches",
    "preview_batch",
    "recheck_batch",
    "value_date",
]

KST = timezone(timedelta(hours=9))


@dataclass(frozen=True, slots=True)
class MerchantLine:
    line_reference: str  # batch reference + line number: what the bank quotes back
    merchant: str
    redemptions: int
    amount: int  # won to pay the merchant
    burned: int
    refs: list[str]  # the merchant's own references on its redemptions
    first_time: int
    last_time: int


@dataclass(frozen=True, slots=True)
class RefundLine:
    line_reference: str
    holder: str
    refunds: int
    cash: int  # won to pay the resident: the refunded face at the price paid for it
    face: int  # voucher won refunded
    burned: int  # the Transfer-to-zero each of those refunds made
    first_time: int
    last_time: int


@dataclass(frozen=True, slots=True)
class SettlementBatch:
    reference: str
    token: str
    region: int
    since: int
    until: int
    merchants: list[MerchantLine]
    redemptions: int
    total: int  # sum of Redeemed amounts
    burned: int  # sum of the Transfer-to-zero each of those redemptions made
    unmatched: list[str]  # "tx_hash:log_index" of redemptions without their burn
    reconciled: bool  # total == burned and nothing unmatched
    issued_at: float | None  # None for a preview
    issued_total: int | None  # the total when issued; differs from total if the index changed
    refunds: list[RefundLine] = dataclasses.field(default_factory=list)
    refund_count: int = 0
    refund_cash: int = 0  # sum of Refunded cash: what residents are paid
    refund_face: int = 0
    refund_burned: int = 0  # must equal refund_face
    status: str = "preview"  # preview | released | unreconciled
    origin: str | None = None  # manual | auto
    value_date: str | None = None  # YYYYMMDD (KST) the bank pays on
    payable: int | None = None  # the bank file's total (its released lines)
    lines: list[payouts.Payout] = dataclasses.field(default_factory=list)  # stored, issued only


def _stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, KST).strftime("%Y%m%d%H%M%S")


def _reference(region: int, since: int, until: int) -> str:
    return f"STL-{region:05d}-{_stamp(since)}-{_stamp(until)}"


def value_date(until: int) -> str:
    """The day the bank pays a window ending at ``until``: the next weekday in KST (merchants
    are paid the next day at the latest; banks do not transfer in bulk at weekends)."""
    day = datetime.fromtimestamp(until, KST).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.strftime("%Y%m%d")


def _region(conn: Connection, chain_id: int, token: str) -> int:
    m = t.municipalities.c
    query = select(m.region).where(m.chain_id == chain_id, m.token == token)
    region = conn.execute(query).scalar()
    if region is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return int(region)


@dataclass(frozen=True, slots=True)
class _Burns:
    """One kind of event in a window, per payee, each event joined to the burn before it."""

    rows: list[tuple[str, int, int, int, int, int, int]]  # payee, n, paid, face, burned, t0, t1
    unmatched: list[str]


def _per_payee(
    conn: Connection,
    table: Table,
    payee: ColumnElement[str],
    paid: ColumnElement[int],
    face: ColumnElement[int],
    chain_id: int,
    token: str,
    since: int,
    until: int,
) -> _Burns:
    """Events of ``table`` in ``[since, until)`` grouped by payee; each event's burn is the
    ``Transfer`` from the payee to zero at the log just before it, in the same transaction."""
    e, x = table.c, t.transfers.c
    burn = and_(
        x.chain_id == e.chain_id,
        x.tx_hash == e.tx_hash,
        x.log_index == e.log_index - 1,
        x.token == e.token,
        x.sender == payee,
        x.recipient == ZERO_ADDRESS,
    )
    window = (e.chain_id == chain_id, e.token == token, e.block_time >= since, e.block_time < until)
    joined = table.outerjoin(t.transfers, burn)
    rows = conn.execute(
        select(
            payee,
            func.count(),
            func.sum(paid),
            func.sum(face),
            func.coalesce(func.sum(x.amount), 0),
            func.min(e.block_time),
            func.max(e.block_time),
        )
        .select_from(joined)
        .where(*window)
        .group_by(payee)
        .order_by(payee)
    ).all()
    unmatched = [
        f"{tx}:{log_index}"
        for tx, log_index in conn.execute(
            select(e.tx_hash, e.log_index)
            .select_from(joined)
            .where(*window, x.tx_hash.is_(None))
            .order_by(e.block_number, e.log_index)
        )
    ]
    typed = [(str(p), int(n), int(a), int(f), int(b), int(t0), int(t1))
             for p, n, a, f, b, t0, t1 in rows]  # fmt: skip
    return _Burns(typed, unmatched)


def _compute(
    conn: Connection, chain_id: int, token: str, since: int, until: int
) -> SettlementBatch:
    if since >= until:
        raise GatewayError("InvalidRequest", "since must be before until", {"since": since})
    region = _region(conn, chain_id, token)
    reference = _reference(region, since, until)
    r, f = t.redemptions.c, t.refunds.c
    redeemed = _per_payee(conn, t.redemptions, r.merchant, r.amount, r.amount, chain_id, token,
                          since, until)  # fmt: skip
    refunded = _per_payee(conn, t.refunds, f.holder, f.cash, f.face, chain_id, token, since,
                          until)  # fmt: skip
    window = (r.chain_id == chain_id, r.token == token, r.block_time >= since, r.block_time < until)
    refs: dict[str, list[str]] = {}
    for merchant, ref in conn.execute(
        select(r.merchant, r.ref).where(*window).distinct().order_by(r.merchant, r.ref)
    ):
        refs.setdefault(merchant, []).append(ref)
    lines = [
        MerchantLine(
            line_reference=f"{reference}-{n:05d}",
            merchant=to_checksum_address(merchant),
            redemptions=count,
            amount=amount,
            burned=burned,
            refs=refs.get(merchant, []),
            first_time=first,
            last_time=last,
        )
        for n, (merchant, count, amount, _, burned, first, last) in enumerate(redeemed.rows, 1)
    ]
    refunds = [
        RefundLine(
            line_reference=f"{reference}-{n:05d}",
            holder=to_checksum_address(holder),
            refunds=count,
            cash=cash,
            face=face,
            burned=burned,
            first_time=first,
            last_time=last,
        )
        for n, (holder, count, cash, face, burned, first, last) in enumerate(
            refunded.rows, len(lines) + 1
        )
    ]
    total, burned = sum(x.amount for x in lines), sum(x.burned for x in lines)
    refund_face, refund_burned = sum(x.face for x in refunds), sum(x.burned for x in refunds)
    unmatched = redeemed.unmatched + refunded.unmatched
    return SettlementBatch(
        reference=reference,
        token=to_checksum_address(token),
        region=region,
        since=since,
        until=until,
        merchants=lines,
        redemptions=sum(x.redemptions for x in lines),
        total=total,
        burned=burned,
        unmatched=unmatched,
        reconciled=total == burned and refund_face == refund_burned and not unmatched,
        issued_at=None,
        issued_total=None,
        refunds=refunds,
        refund_count=sum(x.refunds for x in refunds),
        refund_cash=sum(x.cash for x in refunds),
        refund_face=refund_face,
        refund_burned=refund_burned,
        value_date=value_date(until),
    )


def _payout_lines(batch: SettlementBatch) -> list[payouts.NewLine]:
    merchants = [
        payouts.NewLine(
            x.line_reference,
            REDEMPTION,
            x.merchant,
            x.redemptions,
            x.amount,
            x.burned,
            x.refs,
            x.first_time,
            x.last_time,
        )
        for x in batch.merchants
    ]
    refunds = [
        payouts.NewLine(
            x.line_reference,
            REFUND,
            x.holder,
            x.refunds,
            x.cash,
            x.burned,
            [],
            x.first_time,
            x.last_time,
        )
        for x in batch.refunds
    ]
    return merchants + refunds


def preview_batch(
    engine: Engine, chain_id: int, token: str, since: int, until: int
) -> SettlementBatch:
    """The batch of a window as the index has it now, without issuing it."""
    with engine.connect() as conn:
        return _compute(conn, chain_id, token.lower(), since, until)


def issue_batch(
    engine: Engine,
    chain_id: int,
    token: str,
    since: int,
    until: int,
    *,
    indexed_until: int,
    origin: str = "manual",
) -> SettlementBatch:
    """Issues the batch of ``[since, until)``. ``indexed_until`` is the block time the index has
    reached: a window still open (or not yet indexed) would leave redemptions out.

    A batch that does not reconcile is refused when an auditor asks for it (``manual``); the
    scheduler (``auto``) records it as ``unreconciled`` instead, so the window is neither
    skipped nor paid: its lines stay ``pending`` until :func:`recheck_batch` finds the index
    agreeing with the burns again."""
    token = token.lower()
    if until > indexed_until:
        args: dict[str, object] = {"until": until, "indexed_until": indexed_until}
        detail = "the index has not passed the window's end"
        raise GatewayError("SettlementWindowOpen", detail, args)
    s = d.settlement_batches.c
    try:
        with engine.begin() as conn:
            batch = _compute(conn, chain_id, token, since, until)
            overlap = conn.execute(
                select(s.reference).where(
                    s.chain_id == chain_id, s.token == token, s.since < until, s.until > since
                )
            ).scalar()
            if overlap is not None:
                args = {"reference": overlap}
                raise GatewayError("SettlementOverlap", f"the window overlaps {overlap}", args)
            if not batch.reconciled and origin == "manual":
                raise _unreconciled(batch)
            now = time.time()
            conn.execute(
                insert(d.settlement_batches).values(
                    reference=batch.reference,
                    chain_id=chain_id,
                    token=token,
                    since=since,
                    until=until,
                    total=batch.total,
                    created_at=now,
                    merchants=len(batch.merchants),
                    redemptions=batch.redemptions,
                    status="released" if batch.reconciled else "unreconciled",
                    origin=origin,
                    refunds=batch.refund_count,
                    refund_cash=batch.refund_cash,
                    value_date=batch.value_date,
                )
            )
            _write_lines(conn, chain_id, token, batch, now)
    except IntegrityError as exc:  # another replica issued the same window meanwhile
        args = {"reference": _reference(_region_of(engine, chain_id, token), since, until)}
        raise GatewayError("SettlementOverlap", "the window was issued meanwhile", args) from exc
    return get_batch(engine, chain_id, batch.reference)


def _unreconciled(batch: SettlementBatch) -> GatewayError:
    args = {"total": batch.total, "burned": batch.burned, "refund_face": batch.refund_face,
            "refund_burned": batch.refund_burned, "unmatched": batch.unmatched}  # fmt: skip
    return GatewayError("SettlementUnreconciled", "paid and burned totals differ", args)


def _region_of(engine: Engine, chain_id: int, token: str) -> int:
    with engine.connect() as conn:
        return _region(conn, chain_id, token)


def _write_lines(
    conn: Connection, chain_id: int, token: str, batch: SettlementBatch, now: float
) -> None:
    """The batch's payout lines; a reconciled batch also releases earlier held lines whose
    payee has an account now, and its row keeps its bank file's total."""
    lines = _payout_lines(batch)
    payouts.write(conn, chain_id, token, batch.reference, lines, released=batch.reconciled,
                  now=now)  # fmt: skip
    if batch.reconciled:
        payouts.release_held(conn, chain_id, token, batch.reference, now=now)
    s = d.settlement_batches.c
    conn.execute(
        update(d.settlement_batches)
        .where(s.reference == batch.reference)
        .values(payable=payouts.file_total(conn, batch.reference))
    )


def recheck_batch(engine: Engine, chain_id: int, reference: str) -> SettlementBatch:
    """An ``unreconciled`` batch recomputed: released (its lines written afresh) once the
    index agrees with the burns; otherwise unchanged."""
    s = d.settlement_batches.c
    with engine.begin() as conn:
        row = conn.execute(
            select(d.settlement_batches)
            .where(s.chain_id == chain_id, s.reference == reference)
            .with_for_update()
        ).first()
        if row is not None and row.status == "unreconciled":
            batch = _compute(conn, chain_id, row.token, row.since, row.until)
            if batch.reconciled:
                now = time.time()
                payouts.forget(conn, reference)
                figures = {"merchants": len(batch.merchants), "redemptions": batch.redemptions,
                           "total": batch.total, "refunds": batch.refund_count,
                           "refund_cash": batch.refund_cash}  # fmt: skip
                conn.execute(
                    update(d.settlement_batches)
                    .where(s.reference == reference)
                    .values(status="released", **figures)
                )
                _write_lines(conn, chain_id, row.token, batch, now)
    return get_batch(engine, chain_id, reference)


def get_batch(engine: Engine, chain_id: int, reference: str) -> SettlementBatch:
    """An issued batch, recomputed from the index next to the figures it was issued with, and
    its stored payout lines (its own, and earlier held ones its bank file releases)."""
    s = d.settlement_batches.c
    with engine.connect() as conn:
        row = conn.execute(
            select(d.settlement_batches).where(s.chain_id == chain_id, s.reference == reference)
        ).first()
        if row is None:
            raise GatewayError(
                "NotFound", f"no settlement batch {reference}", {"reference": reference}
            )
        batch = _compute(conn, chain_id, row.token, row.since, row.until)
        lines = payouts.batch_lines(conn, reference)
    return dataclasses.replace(
        batch,
        issued_at=float(row.created_at),
        issued_total=int(row.total),
        status=str(row.status),
        origin=str(row.origin),
        value_date=row.value_date or batch.value_date,
        payable=int(row.payable),
        lines=lines,
    )


def list_batches(engine: Engine, chain_id: int, token: str) -> list[SettlementBatch]:
    s = d.settlement_batches.c
    with engine.connect() as conn:
        query = select(s.reference).where(s.chain_id == chain_id, s.token == token.lower())
        references = list(conn.execute(query.order_by(s.since)).scalars())
    return [get_batch(engine, chain_id, reference) for reference in references]


_CSV_HEADER = (
    "record", "reference", "merchant", "redemptions", "amount", "first_redeemed_at",
    "last_redeemed_at", "refs",
)  # fmt: skip


def batch_csv(batch: SettlementBatch) -> str:
    """The bank file: a header row, one detail row per merchant, a trailer with control totals
    (the usual layout of Korean bulk-transfer files), times in KST."""

    def when(ts: int) -> str:
        return datetime.fromtimestamp(ts, UTC).astimezone(KST).isoformat()

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_HEADER)
    for line in batch.merchants:
        first, last, refs = when(line.first_time), when(line.last_time), ";".join(line.refs)
        figures = (line.redemptions, line.amount, first, last, refs)
        writer.writerow(["D", line.line_reference, line.merchant, *figures])
    since, until, lines = when(batch.since), when(batch.until), len(batch.merchants)
    writer.writerow(
        ["T", batch.reference, batch.token, batch.redemptions, batch.total, since, until, lines]
    )
    return out.getvalue()
