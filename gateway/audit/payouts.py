"""Settlement batches' payout lines: one per payee and kind (a merchant's redemptions, a
resident's refunds' cash), each paid into the account on file when its batch is released.

A payee without an account is not dropped: its line is ``held`` (reason ``NoBankAccount``, or
``InvalidBankAccount`` for one the bank file cannot carry whole) and
shows as such to the payee and the auditors. The next reconciled batch of the municipality
releases every held line whose payee has an account by then into its own bank file
(``released_in``), under the line's original reference; so a held line is paid exactly once,
by the first file issued after the account appears. Lines of a batch that does not reconcile
stay ``pending`` (or held) and nothing releases them until their batch reconciles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from gateway.audit.payees import BankAccount, bank_account, unusable
from gateway.db.tables import distribution as d
from gateway.db.tables.settlement import HELD, PAID, PENDING, RELEASED, settlement_lines
from gateway.errors import GatewayError

__all__ = [
    "NewLine",
    "Payout",
    "batch_lines",
    "file_lines",
    "file_total",
    "forget",
    "mark_paid",
    "payee_lines",
    "release_held",
    "write",
]

_l = settlement_lines.c


@dataclass(frozen=True, slots=True)
class NewLine:
    line_reference: str
    kind: str  # redemption | refund
    payee: str
    events: int
    amount: int
    burned: int
    refs: list[str]
    first_time: int
    last_time: int


@dataclass(frozen=True, slots=True)
class Payout:
    line_reference: str  # what the bank quotes back
    reference: str  # the batch whose window it belongs to
    kind: str  # redemption | refund
    payee: str
    events: int  # redemptions or refunds it pays
    amount: int  # won to pay
    burned: int  # won the chain destroyed for them
    refs: list[str]
    first_time: int
    last_time: int
    status: str  # pending | released | paid | held
    reason: str | None  # NoBankAccount while held
    released_in: str | None  # the batch whose bank file pays it
    bank_code: str | None
    bank_account: str | None
    account_holder: str | None


def _account_values(account: BankAccount) -> dict[str, str]:
    return {"bank_code": account.bank_code, "bank_account": account.number,
            "account_holder": account.holder}  # fmt: skip


def write(
    conn: Connection,
    chain_id: int,
    token: str,
    reference: str,
    lines: list[NewLine],
    *,
    released: bool,
    now: float,
) -> None:
    """Stores a batch's lines: held without an account, else released (or pending when the
    batch does not reconcile)."""
    rows = []
    for line in lines:
        account = bank_account(conn, chain_id, token, line.kind, line.payee)
        row: dict[str, object] = {
            "line_reference": line.line_reference, "reference": reference,
            "chain_id": chain_id, "token": token.lower(), "kind": line.kind,
            "payee": line.payee.lower(), "events": line.events, "amount": line.amount,
            "burned": line.burned, "refs": line.refs, "first_time": line.first_time,
            "last_time": line.last_time, "updated_at": now, "reason": None,
            "released_in": None, "bank_code": None, "bank_account": None,
            "account_holder": None,
        }  # fmt: skip
        reason = unusable(account)
        if account is None or reason is not None:
            row.update(status=HELD, reason=reason)
        elif released:
            row.update(status=RELEASED, released_in=reference, **_account_values(account))
        else:
            row.update(status=PENDING)
        rows.append(row)
    if rows:
        conn.execute(insert(settlement_lines), rows)


def release_held(
    conn: Connection, chain_id: int, token: str, reference: str, *, now: float
) -> list[str]:
    """Releases into ``reference``'s file the held lines of earlier released batches whose
    payee has an account now; answers their line references."""
    s = d.settlement_batches.c
    released_batches = select(s.reference).where(
        s.chain_id == chain_id, s.token == token.lower(), s.status == RELEASED
    )
    held = conn.execute(
        select(_l.line_reference, _l.kind, _l.payee)
        .where(
            _l.chain_id == chain_id,
            _l.token == token.lower(),
            _l.status == HELD,
            _l.reference != reference,
            _l.reference.in_(released_batches),
        )
        .order_by(_l.line_reference)
    ).all()
    moved = []
    for line_reference, kind, payee in held:
        account = bank_account(conn, chain_id, token, kind, payee)
        if account is None or unusable(account) is not None:
            continue
        conn.execute(
            update(settlement_lines)
            .where(_l.line_reference == line_reference, _l.status == HELD)
            .values(
                status=RELEASED,
                reason=None,
                released_in=reference,
                updated_at=now,
                **_account_values(account),
            )
        )
        moved.append(str(line_reference))
    return moved


def forget(conn: Connection, reference: str) -> None:
    """Drops an unreconciled batch's lines before they are written afresh (none was paid:
    nothing releases a line of a batch that does not reconcile)."""
    conn.execute(delete(settlement_lines).where(_l.reference == reference))


_COLUMNS = [c for c in settlement_lines.c if c.name not in ("chain_id", "token", "updated_at")]


def _payouts(conn: Connection, where: ColumnElement[bool]) -> list[Payout]:
    rows = conn.execute(select(*_COLUMNS).where(where).order_by(_l.line_reference)).all()
    return [Payout(**row._asdict()) for row in rows]


def batch_lines(conn: Connection, reference: str) -> list[Payout]:
    """A batch's own lines and the earlier held lines its file releases."""
    return _payouts(conn, or_(_l.reference == reference, _l.released_in == reference))


def file_lines(conn: Connection, reference: str) -> list[Payout]:
    """What the batch's bank file pays: the lines released in it."""
    return _payouts(conn, and_(_l.released_in == reference, _l.status.in_((RELEASED, PAID))))


def file_total(conn: Connection, reference: str) -> int:
    query = select(func.coalesce(func.sum(_l.amount), 0)).where(
        _l.released_in == reference, _l.status.in_((RELEASED, PAID))
    )
    return int(conn.execute(query).scalar() or 0)


def payee_lines(conn: Connection, chain_id: int, token: str, payee: str) -> list[Payout]:
    return _payouts(
        conn, and_(_l.chain_id == chain_id, _l.token == token.lower(), _l.payee == payee.lower())
    )


def mark_paid(engine: Engine, chain_id: int, reference: str) -> int:
    """The bank confirms it paid the batch's file: its released lines become ``paid``;
    SettlementAlreadyPaid when it confirmed them before."""
    mine = (_l.chain_id == chain_id, _l.released_in == reference)
    with engine.begin() as conn:
        done = conn.execute(
            update(settlement_lines)
            .where(*mine, _l.status == RELEASED)
            .values(status=PAID, updated_at=time.time())
        )
        paid = conn.execute(select(func.count()).where(*mine, _l.status == PAID)).scalar()
    if done.rowcount == 0 and paid:
        raise GatewayError("SettlementAlreadyPaid", f"the bank confirmed {reference} before",
                           {"reference": reference, "lines": int(paid)})  # fmt: skip
    return int(done.rowcount)
