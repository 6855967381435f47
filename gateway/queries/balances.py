"""The one fold of holders' balances from the index, for wallets' answers and the auditor's
reconciliation alike (each must agree with the other and with the chain).

General money is the sum of ERC-20 ``Transfer`` moves in and out; a program pocket is the sum
of its grants and rewards plus the signed pocket moves (payments, cancellations, recoveries).
Filters narrow the same queries: one holder in every token (a wallet), or every holder of one
token (an audit).
"""

from __future__ import annotations

from sqlalchemy import Connection, Select, func, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from chain.protocol.hashing import ZERO_ADDRESS
from gateway.db.tables import index as t
from gateway.queries.scope import as_int

__all__ = ["general_balances", "pocket_balances"]


def general_balances(
    conn: Connection, chain_id: int, *, token: str | None = None, holder: str | None = None
) -> dict[tuple[str, str], int]:
    """(token, holder) -> general balance, lower-case addresses; mint and burn excluded."""
    x = t.transfers.c

    def side(
        account: ColumnElement[str], delta: ColumnElement[int]
    ) -> Select[tuple[str, str, int]]:
        query = select(x.token.label("token"), account.label("account"), delta.label("delta"))
        query = query.where(x.chain_id == chain_id)
        if token is not None:
            query = query.where(x.token == token.lower())
        if holder is not None:
            query = query.where(account == holder.lower())
        return query

    moves = union_all(side(x.recipient, x.amount), side(x.sender, -x.amount)).subquery()
    m = moves.c
    query = select(m.token, m.account, func.sum(m.delta)).group_by(m.token, m.account)
    return {
        (str(tok), str(account)): as_int(total)
        for tok, account, total in conn.execute(query)
        if account != ZERO_ADDRESS
    }


def pocket_balances(
    conn: Connection, chain_id: int, *, token: str | None = None, holder: str | None = None
) -> dict[tuple[str, int, str], int]:
    """(token, program id, holder) -> pocket balance, lower-case addresses."""
    out: dict[tuple[str, int, str], int] = {}
    for table, column, amount in (
        (t.grants, "recipient", "amount"),
        (t.rewards, "recipient", "amount"),
        (t.pocket_moves, "holder", "pocket_delta"),
    ):
        c = table.c
        query = (
            select(c.token, c.program_id, c[column], func.sum(c[amount]))
            .where(c.chain_id == chain_id)
            .group_by(c.token, c.program_id, c[column])
        )
        if token is not None:
            query = query.where(c.token == token.lower())
        if holder is not None:
            query = query.where(c[column] == holder.lower())
        for tok, program_id, account, total in conn.execute(query):
            key = (str(tok), int(program_id), str(account))
            out[key] = out.get(key, 0) + as_int(total)
    return out
