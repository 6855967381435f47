"""Settlement batches: a municipality's redemptions (환전) in a time window, per merchant, for
the bank that pays merchants cash.

A batch covers redemptions with block time in ``[since, until)``. Every redemption burns what
it redeems, so a batch is issued only when its total equals the burn each redemption made
(the ``Transfer`` to the zero address just before its ``Redeemed`` in the same transaction):
a bank file never pays out money the chain did not destroy. Windows of one municipality never
overlap, so no redemption is paid twice, and a window is issued only once the index has passed
its end, so none is left out. The batch row keeps the figures issued; reading a batch later
recomputes them from the index and says whether they still agree (a reorg would show here).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, Engine, and_, func, insert, select

from chain.protocol.hashing import ZERO_ADDRESS
from gateway.db.tables import distribution as d
from gateway.db.tables import index as t
from gateway.errors import GatewayError

__all__ = [
    "KST",
    "MerchantLine",
    "SettlementBatch",
    "batch_csv",
    "get_batch",
    "issue_batch",
    "list_batches",
    "preview_batch",
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


def _stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, KST).strftime("%Y%m%d%H%M%S")


def _reference(region: int, since: int, until: int) -> str:
    return f"STL-{region:05d}-{_stamp(since)}-{_stamp(until)}"


def _region(conn: Connection, chain_id: int, token: str) -> int:
    m = t.municipalities.c
    query = select(m.region).where(m.chain_id == chain_id, m.token == token)
    region = conn.execute(query).scalar()
    if region is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return int(region)


def _compute(
    conn: Connection, chain_id: int, token: str, since: int, until: int
) -> SettlementBatch:
    if since >= until:
        raise GatewayError("InvalidRequest", "since must be before until", {"since": since})
    region = _region(conn, chain_id, token)
    reference = _reference(region, since, until)
    r, x = t.redemptions.c, t.transfers.c
    burn = and_(
        x.chain_id == r.chain_id,
        x.tx_hash == r.tx_hash,
        x.log_index == r.log_index - 1,
        x.token == r.token,
        x.sender == r.merchant,
        x.recipient == ZERO_ADDRESS,
    )
    window = (r.chain_id == chain_id, r.token == token, r.block_time >= since, r.block_time < until)
    joined = t.redemptions.outerjoin(t.transfers, burn)
    per_merchant = conn.execute(
        select(
            r.merchant,
            func.count(),
            func.sum(r.amount),
            func.coalesce(func.sum(x.amount), 0),
            func.min(r.block_time),
            func.max(r.block_time),
        )
        .select_from(joined)
        .where(*window)
        .group_by(r.merchant)
        .order_by(r.merchant)
    ).all()
    refs: dict[str, list[str]] = {}
    for merchant, ref in conn.execute(
        select(r.merchant, r.ref).where(*window).distinct().order_by(r.merchant, r.ref)
    ):
        refs.setdefault(merchant, []).append(ref)
    unmatched = [
        f"{tx}:{log_index}"
        for tx, log_index in conn.execute(
            select(r.tx_hash, r.log_index)
            .select_from(joined)
            .where(*window, x.tx_hash.is_(None))
            .order_by(r.block_number, r.log_index)
        )
    ]
    lines = [
        MerchantLine(
            line_reference=f"{reference}-{n:05d}",
            merchant=to_checksum_address(merchant),
            redemptions=int(count),
            amount=int(amount),
            burned=int(burned),
            refs=refs.get(merchant, []),
            first_time=int(first),
            last_time=int(last),
        )
        for n, (merchant, count, amount, burned, first, last) in enumerate(per_merchant, 1)
    ]
    total, burned = sum(x.amount for x in lines), sum(x.burned for x in lines)
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
        reconciled=total == burned and not unmatched,
        issued_at=None,
        issued_total=None,
    )


def preview_batch(
    engine: Engine, chain_id: int, token: str, since: int, until: int
) -> SettlementBatch:
    """The batch of a window as the index has it now, without issuing it."""
    with engine.connect() as conn:
        return _compute(conn, chain_id, token.lower(), since, until)


def issue_batch(
    engine: Engine, chain_id: int, token: str, since: int, until: int, *, indexed_until: int
) -> SettlementBatch:
    """Issues the batch of ``[since, until)``. ``indexed_until`` is the block time the index has
    reached: a window still open (or not yet indexed) would leave redemptions out."""
    token = token.lower()
    if until > indexed_until:
        args: dict[str, object] = {"until": until, "indexed_until": indexed_until}
        detail = "the index has not passed the window's end"
        raise GatewayError("SettlementWindowOpen", detail, args)
    s = d.settlement_batches.c
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
        if not batch.reconciled:
            args = {"total": batch.total, "burned": batch.burned, "unmatched": batch.unmatched}
            detail = "redeemed and burned totals differ"
            raise GatewayError("SettlementUnreconciled", detail, args)
        now = time.time()
        figures = {"merchants": len(batch.merchants), "redemptions": batch.redemptions}
        conn.execute(
            insert(d.settlement_batches).values(
                reference=batch.reference,
                chain_id=chain_id,
                token=token,
                since=since,
                until=until,
                total=batch.total,
                created_at=now,
                **figures,
            )
        )
    return _issued(batch, now, batch.total)


def _issued(batch: SettlementBatch, issued_at: float, issued_total: int) -> SettlementBatch:
    return dataclasses.replace(batch, issued_at=issued_at, issued_total=issued_total)


def get_batch(engine: Engine, chain_id: int, reference: str) -> SettlementBatch:
    """An issued batch, recomputed from the index next to the figures it was issued with."""
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
    return _issued(batch, float(row.created_at), int(row.total))


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
