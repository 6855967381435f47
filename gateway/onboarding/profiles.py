"""The off-chain half of a registration: residents' accounts and merchants' profiles.

Written in the window's database transaction, with its cursor: a row is in these tables if
and only if its wallet is registered on chain and its line is committed. A profile that
exists already (an application through the registry's own flow, an earlier import) is
brought up to date and marked ``registered``, never duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, and_, insert, select, update

from gateway.db.tables.registry import REGISTERED, merchant_profiles, resident_accounts
from gateway.onboarding.rows import MerchantRow, ResidentRow

__all__ = ["save_merchants", "save_residents"]


def _upsert(
    conn: Connection, table: Table, key: dict[str, object], wallet_column: str,
    rows: Sequence[dict[str, object]],
) -> None:  # fmt: skip
    """Inserts ``rows`` (each holding ``key``'s values), updating those already there."""
    if not rows:
        return
    column = table.c[wallet_column]
    where = and_(*(table.c[k] == v for k, v in key.items()))
    wallets = [str(r[wallet_column]) for r in rows]
    existing: set[str] = set()
    for start in range(0, len(wallets), 900):  # SQLite's bound-parameter limit is generous
        part = wallets[start : start + 900]
        existing.update(conn.execute(select(column).where(where, column.in_(part))).scalars())
    fresh = [r for r in rows if r[wallet_column] not in existing]
    if fresh:
        conn.execute(insert(table), fresh)
    for row in rows:
        if row[wallet_column] in existing:
            values = {k: v for k, v in row.items() if k not in key and k != "applied_at"}
            conn.execute(update(table).where(where, column == row[wallet_column]).values(values))


def save_residents(
    conn: Connection, chain_id: int, rows: Sequence[ResidentRow], now: float
) -> None:
    values: list[dict[str, object]] = [
        {
            "chain_id": chain_id,
            "wallet": r.wallet.lower(),
            "kyc_ref": r.kyc_ref,
            "bank_code": r.bank.bank_code,
            "bank_account": r.bank.bank_account,
            "account_holder": r.bank.account_holder,
            "updated_at": now,
        }
        for r in rows
    ]
    _upsert(conn, resident_accounts, {"chain_id": chain_id}, "wallet", values)


def save_merchants(
    conn: Connection,
    chain_id: int,
    token: str,
    rows: Sequence[MerchantRow],
    *,
    reviewer: str,
    note: str,
    now: float,
) -> None:
    values: list[dict[str, object]] = [
        {
            "chain_id": chain_id,
            "token": token.lower(),
            "merchant": r.wallet.lower(),
            "business_name": r.business_name,
            "business_number": r.business_number,
            "address": r.address,
            "legal_dong": r.legal_dong,
            "category": r.category,
            "latitude": r.latitude,
            "longitude": r.longitude,
            "market": int(r.market),
            "phone": r.phone,
            "email": r.email,
            "bank_code": r.bank.bank_code,
            "bank_account": r.bank.bank_account,
            "account_holder": r.bank.account_holder,
            "status": REGISTERED,
            "tier": r.tier,
            "reviewed_by": reviewer.lower(),
            "review_note": note,
            "applied_at": now,
            "updated_at": now,
        }
        for r in rows
    ]
    key: dict[str, object] = {"chain_id": chain_id, "token": token.lower()}
    _upsert(conn, merchant_profiles, key, "merchant", values)
