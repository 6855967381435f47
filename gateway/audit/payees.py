"""Where the bank pays a payee: a merchant's account from its profile, a resident's from their
cash account (``gateway.db.tables.registry``; the registry service writes them, settlement only
reads). An account is usable only with all three of bank code, number and holder, and only
if the bank file can carry it whole (a 3-digit KFTC code, a number of at most 20 digits and
hyphens): a number cut to fit would pay someone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from gateway.db.tables import registry as g
from gateway.db.tables.settlement import REDEMPTION

__all__ = ["BankAccount", "bank_account", "mask_account", "unusable"]


@dataclass(frozen=True, slots=True)
class BankAccount:
    bank_code: str  # KFTC bank code, e.g. "004"
    number: str
    holder: str


def bank_account(
    conn: Connection, chain_id: int, token: str, kind: str, payee: str
) -> BankAccount | None:
    """The account a line of ``kind`` pays ``payee`` into, or None when none is on file."""
    if kind == REDEMPTION:
        m = g.merchant_profiles.c
        query = select(m.bank_code, m.bank_account, m.account_holder).where(
            m.chain_id == chain_id, m.token == token.lower(), m.merchant == payee.lower()
        )
    else:
        r = g.resident_accounts.c
        query = select(r.bank_code, r.bank_account, r.account_holder).where(
            r.chain_id == chain_id, r.wallet == payee.lower()
        )
    row = conn.execute(query).first()
    if row is None or not all(str(v or "").strip() for v in row):
        return None
    return BankAccount(str(row[0]).strip(), str(row[1]).strip(), str(row[2]).strip())


def unusable(account: BankAccount | None) -> str | None:
    """Why a line cannot be paid into ``account`` (its held reason), or None."""
    if account is None:
        return "NoBankAccount"
    digits = account.number.replace("-", "")
    if not (len(account.bank_code) == 3 and account.bank_code.isdigit()):
        return "InvalidBankAccount"
    if not (digits.isdigit() and len(account.number) <= 20):
        return "InvalidBankAccount"
    return None


def mask_account(number: str | None) -> str | None:
    """``***-***-1234``: enough for a payee to recognise its account, not to use it."""
    if not number:
        return None
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"***-***-{digits[-4:]}" if len(digits) >= 4 else "***"
