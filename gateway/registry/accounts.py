"""Where money goes in cash: a merchant's settlement account and a resident's refund account,
for the modules that build bank files (settlement, refunds) and for bulk imports.

Only a reviewed profile (approved or registered) yields an account: an application nobody
has checked must not receive a city's money.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from gateway.db.tables.registry import APPROVED, REGISTERED, merchant_profiles, resident_accounts

__all__ = ["BankAccount", "bank_account_of", "resident_account_of", "set_resident_account"]


@dataclass(frozen=True, slots=True)
class BankAccount:
    bank_code: str  # KFTC code, e.g. "004"
    account: str  # digits only
    holder: str


def bank_account_of(
    conn: Connection, chain_id: int, token: str, merchant: str
) -> BankAccount | None:
    """The settlement account of ``merchant`` in ``token``, or None (no reviewed profile, or
    no account given)."""
    p = merchant_profiles.c
    row = conn.execute(
        select(p.bank_code, p.bank_account, p.account_holder).where(
            p.chain_id == chain_id,
            p.token == token.lower(),
            p.merchant == merchant.lower(),
            p.status.in_((APPROVED, REGISTERED)),
        )
    ).first()
    return _account(row)


def resident_account_of(conn: Connection, chain_id: int, wallet: str) -> BankAccount | None:
    """Where a resident's cash refunds go, or None."""
    r = resident_accounts.c
    row = conn.execute(
        select(r.bank_code, r.bank_account, r.account_holder).where(
            r.chain_id == chain_id, r.wallet == wallet.lower()
        )
    ).first()
    return _account(row)


def set_resident_account(
    conn: Connection,
    chain_id: int,
    wallet: str,
    account: BankAccount | None,
    *,
    kyc_ref: str | None = None,
    now: float | None = None,
) -> None:
    """Records (or clears) a resident's refund account, e.g. from a KYC registrar's import."""
    r = resident_accounts.c
    values = {
        "bank_code": account.bank_code if account else None,
        "bank_account": account.account if account else None,
        "account_holder": account.holder if account else None,
        "kyc_ref": kyc_ref,
        "updated_at": time.time() if now is None else now,
    }
    where = (r.chain_id == chain_id, r.wallet == wallet.lower())
    if conn.execute(update(resident_accounts).where(*where).values(values)).rowcount == 0:
        conn.execute(
            insert(resident_accounts).values(chain_id=chain_id, wallet=wallet.lower(), **values)
        )


def _account(row: Sequence[object] | None) -> BankAccount | None:
    if row is None:
        return None
    code, account, holder = row
    if code is None or account is None:
        return None
    return BankAccount(str(code), str(account), str(holder or ""))
