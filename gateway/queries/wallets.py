"""A wallet's money: balances by pocket and its history, paged by cursor."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    and_,
    desc,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from gateway.db.tables import index as t
from gateway.queries.balances import general_balances, pocket_balances
from gateway.queries.municipalities import municipality_rows
from gateway.queries.scope import MAX_PAGE, InvalidCursorError, as_int, chain_of, checksum


@dataclass(frozen=True, slots=True)
class Pocket:
    program_id: int
    amount: int
    start_time: int
    expiry: int
    closed: bool


@dataclass(frozen=True, slots=True)
class TokenBalance:
    token: str
    symbol: str
    general: int  # the ERC-20 balance: purchased money and what merchants received
    pockets: list[Pocket]  # policy money by program, soonest expiry first
    total: int  # general + pockets


def balances(
    engine: Engine, address: str, *, token: str | None = None, chain_id: int | None = None
) -> list[TokenBalance]:
    """General balance and program pockets of ``address`` in every token it has touched."""
    holder = address.lower()
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        general = {
            tok: amount
            for (tok, _), amount in general_balances(
                conn, chain, token=token, holder=holder
            ).items()
        }
        pockets = {
            (tok, program_id): amount
            for (tok, program_id, _), amount in pocket_balances(
                conn, chain, token=token, holder=holder
            ).items()
        }
        p = t.programs.c
        tokens = {tok for tok, _ in pockets} | set(general)
        query = select(p.token, p.program_id, p.start_time, p.expiry, p.closed)
        query = query.where(p.chain_id == chain, p.token.in_(tokens))
        infos = {(r.token, r.program_id): r for r in conn.execute(query)} if pockets else {}
        symbols = {m.token.lower(): m.symbol for m in municipality_rows(conn, chain, None)}
    out: list[TokenBalance] = []
    for tok in sorted(tokens):
        mine = [
            Pocket(pid, amount, info.start_time, info.expiry, bool(info.closed))
            for (pocket_token, pid), amount in pockets.items()
            if pocket_token == tok and (info := infos.get((tok, pid))) is not None
        ]
        mine.sort(key=lambda pocket: (pocket.expiry, pocket.program_id))
        money = general.get(tok, 0)
        total = money + sum(pocket.amount for pocket in mine)
        out.append(TokenBalance(checksum(tok), symbols.get(tok, ""), money, mine, total))
    return out


@dataclass(frozen=True, slots=True)
class HistoryItem:
    # sale | payment | cancellation | gift | redemption | refund | grant | reward | recovery
    kind: str
    token: str
    block_number: int
    log_index: int
    tx_hash: str
    block_time: int
    direction: str  # in | out, seen from the wallet asked about
    amount: int
    counterparty: str | None
    details: dict[str, object]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: list[HistoryItem]
    next_cursor: str | None  # pass back to get the next (older) page; None on the last page


# Kind, table and the columns that make a row part of a wallet's history.
_HISTORY: tuple[tuple[str, Table, tuple[str, ...]], ...] = (
    ("sale", t.sales, ("buyer",)),
    ("payment", t.payments, ("payer", "merchant", "employee")),
    # recipient: the payer, or the wallet a recovered payer's money went back to
    ("cancellation", t.cancellations, ("payer", "merchant", "recipient")),
    ("gift", t.gifts, ("sender", "recipient")),
    ("redemption", t.redemptions, ("merchant",)),
    ("refund", t.refunds, ("holder",)),
    ("grant", t.grants, ("recipient",)),
    ("reward", t.rewards, ("recipient",)),
    ("recovery", t.wallet_recoveries, ("lost", "recipient")),  # the general money
    ("recovery", t.pocket_recoveries, ("lost", "recipient")),  # one program pocket
)


def encode_cursor(block_number: int, log_index: int) -> str:
    raw = f"{block_number}:{log_index}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        block, log_index = raw.split(":")
        position = int(block), int(log_index)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError(f"not a history cursor: {cursor!r}") from None
    if min(position) < 0:
        raise InvalidCursorError(f"not a history cursor: {cursor!r}")
    return position


def _optional(address: str | None) -> str | None:
    return None if address is None else checksum(address)


def _payment_details(r: Row[Any], cancelled: int) -> dict[str, object]:
    """Everything the on-chain PaymentRecord holds, so a merchant can present it to cancel."""
    amounts = {p["program_id"]: p["amount"] for p in r.pockets}
    program_ids = list(r.program_ids)
    return {
        "from_general": r.from_general,
        "from_pockets": r.from_pockets,
        "cashback": r.cashback,
        "pockets": r.pockets,
        "program_ids": program_ids,
        "program_amounts": [amounts.get(program_id, 0) for program_id in program_ids],
        "extra": r.extra,
        "platform": _optional(r.platform),
        "fee": r.fee,
        "cancelled": cancelled,
        "employee": _optional(r.employee),
    }


def _item(kind: str, r: Row[Any], holder: str, cancelled: int = 0) -> HistoryItem:
    """One history entry of ``holder`` from a row of ``kind``'s table (``cancelled``: what
    was cancelled of a payment so far)."""
    out_, in_ = "out", "in"
    counterparty: str | None = None
    details: dict[str, object] = {}
    amount = as_int(getattr(r, "amount", 0))
    if kind == "sale":
        direction, counterparty, amount = in_, r.issuer, r.face
        details = {"paid": r.paid, "subsidy": r.subsidy}
    elif kind == "payment":
        # The payer, or the employee who spent an institution's money, sees it going out.
        paying = r.merchant != holder
        direction, counterparty = (out_, r.merchant) if paying else (in_, r.payer)
        details = {"payment_id": r.payment_id, "seq": r.seq, "payer": checksum(r.payer)}
        details.update(_payment_details(r, cancelled))
    elif kind == "cancellation":
        back = r.merchant != holder  # the payer (or its recovery wallet) gets money back
        direction, counterparty = (in_, r.merchant) if back else (out_, r.payer)
        details = {
            "payment_id": r.payment_id,
            "seq": r.seq,
            "payer": checksum(r.payer),
            "recipient": _optional(r.recipient),
            "cancelled_total": r.cancelled_total,
            "from_general": r.from_general,
            "returned_general": r.returned,
            "cashback": r.cashback,
            "fee": r.fee,
            "extra": r.extra,
            "program_ids": list(r.program_ids),
            "program_amounts": list(r.program_amounts),
            "payment_tx_hash": r.payment_tx_hash,
        }
    elif kind == "gift":
        sent = r.sender == holder
        direction, counterparty = (out_, r.recipient) if sent else (in_, r.sender)
    elif kind == "redemption":
        direction, details = out_, {"ref": r.ref}
    elif kind == "refund":
        direction, amount, details = out_, r.face, {"cash": r.cash}
    elif kind == "reward":
        direction = in_
        details = {"program_id": r.program_id, "attestation_id": r.attestation_id}
    elif kind == "recovery":
        lost = r.lost == holder
        direction, counterparty = (out_, r.recipient) if lost else (in_, r.lost)
        program_id = getattr(r, "program_id", None)
        amount = r.balance if program_id is None else r.amount
        details = {"lost": checksum(r.lost), "to": checksum(r.recipient), "program_id": program_id}
    else:
        direction = in_
        details = {"program_id": r.program_id, "grant_index": r.grant_index}
    return HistoryItem(
        kind=kind,
        token=checksum(r.token),
        block_number=r.block_number,
        log_index=r.log_index,
        tx_hash=r.tx_hash,
        block_time=r.block_time,
        direction=direction,
        amount=as_int(amount),
        counterparty=None if counterparty is None else checksum(counterparty),
        details=details,
    )


def cancelled_so_far(
    conn: Connection, chain: int, payments: list[tuple[str, str, int]]
) -> dict[tuple[str, str, int], int]:
    """(token, payer, seq) -> the amount cancelled of that payment so far (the latest
    ``PaymentCancelled``'s running total; it only grows)."""
    x = t.cancellations.c
    found: dict[tuple[str, str, int], int] = {}
    for start in range(0, len(payments), 500):
        chunk = payments[start : start + 500]
        query = (
            select(x.token, x.payer, x.seq, func.max(x.cancelled_total))
            .where(x.chain_id == chain, tuple_(x.token, x.payer, x.seq).in_(chunk))
            .group_by(x.token, x.payer, x.seq)
        )
        for token, payer, seq, total in conn.execute(query):
            found[(token, payer, seq)] = as_int(total)
    return found


def history(
    engine: Engine,
    address: str,
    *,
    cursor: str | None = None,
    limit: int = 50,
    token: str | None = None,
    chain_id: int | None = None,
) -> HistoryPage:
    """What ``address`` bought, paid (or spent for its institution), received, gave, redeemed,
    refunded, was granted or rewarded, and what a recovery moved, newest first. Raises
    :class:`InvalidCursorError` for a cursor this module did not make."""
    holder = address.lower()
    limit = max(1, min(limit, MAX_PAGE))
    before = decode_cursor(cursor) if cursor else None
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        parts = []
        for code, (_, table, roles) in enumerate(_HISTORY):
            c = table.c
            where: list[ColumnElement[bool]] = [
                c.chain_id == chain,
                or_(*(c[role] == holder for role in roles)),
            ]
            if token is not None:
                where.append(c.token == token.lower())
            if before is not None:
                block, log_index = before
                where.append(
                    or_(
                        c.block_number < block,
                        and_(c.block_number == block, c.log_index < log_index),
                    )
                )
            # Each part is limited on its own so a busy wallet's page reads few index entries.
            part = (
                select(literal(code).label("kind"), c.block_number, c.log_index)
                .where(*where)
                .order_by(desc(c.block_number), desc(c.log_index))
                .limit(limit + 1)
                .subquery()
            )
            parts.append(select(part))
        merged = union_all(*parts).subquery()
        order = (desc(merged.c.block_number), desc(merged.c.log_index))
        keys = conn.execute(select(merged).order_by(*order).limit(limit + 1)).all()
        more, keys = len(keys) > limit, keys[:limit]
        found: dict[tuple[int, int], Row[Any]] = {}
        for code in {k.kind for k in keys}:
            table = _HISTORY[code][1]
            wanted = [(k.block_number, k.log_index) for k in keys if k.kind == code]
            query = select(table).where(
                table.c.chain_id == chain,
                tuple_(table.c.block_number, table.c.log_index).in_(wanted),
            )
            found.update(((r.block_number, r.log_index), r) for r in conn.execute(query))
        paid = [
            (r.token, r.payer, r.seq)
            for k in keys
            if _HISTORY[k.kind][1] is t.payments
            and (r := found[(k.block_number, k.log_index)]) is not None
        ]
        cancelled = cancelled_so_far(conn, chain, paid) if paid else {}
    items = []
    for k in keys:
        r = found[(k.block_number, k.log_index)]
        kind, table, _ = _HISTORY[k.kind]
        so_far = cancelled.get((r.token, r.payer, r.seq), 0) if table is t.payments else 0
        items.append(_item(kind, r, holder, so_far))
    last = keys[-1] if keys else None
    next_cursor = encode_cursor(last.block_number, last.log_index) if more and last else None
    return HistoryPage(items, next_cursor)
