"""The BANK SIMULATOR's books, in memory: virtual accounts, deposits, refunds, transfers.

Idempotent like a real provider: a virtual account per order reference, a refund per key, a
transfer per reference. Nothing survives the process (it is a simulator).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import asdict, dataclass, field

__all__ = ["Account", "Ledger", "LedgerError", "RefundRecord", "TransferRecord"]

SIM_BANK_CODE = "999"  # not a KFTC code: no real bank answers to it


class LedgerError(ValueError):
    """A call the simulated bank refuses: ``status`` is its HTTP status."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass
class RefundRecord:
    id: str
    payment_id: str
    amount: int
    key: str
    reason: str
    status: str = "completed"
    at: float = field(default_factory=time.time)


@dataclass
class Account:
    """A virtual account; its id is also the payment's id."""

    id: str
    order_ref: str
    amount: int
    holder: str
    expires_at: float
    account_number: str
    bank_code: str = SIM_BANK_CODE
    deposited: int = 0
    refunds: list[RefundRecord] = field(default_factory=list)

    @property
    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds)

    @property
    def status(self) -> str:
        if self.refunded and self.refunded >= self.deposited:
            return "refunded"
        if self.deposited:
            return "deposited"
        return "expired" if time.time() > self.expires_at else "awaiting"

    def view(self) -> dict[str, object]:
        return {
            "id": self.id,
            "order_ref": self.order_ref,
            "bank_code": self.bank_code,
            "account_number": self.account_number,
            "holder": self.holder,
            "amount": self.amount,
            "expires_at": self.expires_at,
            "deposited": self.deposited,
            "refunded": self.refunded,
            "status": self.status,
            "refunds": [asdict(r) for r in self.refunds],
        }


@dataclass
class TransferRecord:
    id: str
    reference: str
    bank_code: str
    account_number: str
    holder: str
    amount: int
    status: str = "completed"
    at: float = field(default_factory=time.time)


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accounts: dict[str, Account] = {}
        self.by_ref: dict[str, str] = {}
        self.refunds: dict[str, RefundRecord] = {}
        self.transfers: dict[str, TransferRecord] = {}

    def open_account(self, order_ref: str, amount: int, holder: str, expires_at: float) -> Account:
        if amount <= 0:
            raise LedgerError(400, "InvalidAmount", "amount must be positive won")
        with self.lock:
            known = self.by_ref.get(order_ref)
            if known is not None:
                account = self.accounts[known]
                if account.amount != amount:
                    raise LedgerError(409, "ReferenceReused", f"{order_ref} has another amount")
                return account
            account = Account(
                id="va_" + secrets.token_hex(8),
                order_ref=order_ref,
                amount=amount,
                holder=holder,
                expires_at=expires_at,
                account_number="7979-" + str(secrets.randbelow(10**10)).zfill(10),
            )
            self.accounts[account.id] = account
            self.by_ref[order_ref] = account.id
            return account

    def account(self, account_id: str) -> Account:
        found = self.accounts.get(account_id)
        if found is None:
            raise LedgerError(404, "NotFound", f"no virtual account {account_id}")
        return found

    def by_number(self, account_number: str) -> Account:
        found = next(
            (a for a in self.accounts.values() if a.account_number == account_number), None
        )
        if found is None:
            raise LedgerError(404, "NotFound", f"no virtual account numbered {account_number}")
        return found

    def deposit(self, account_id: str, amount: int) -> Account:
        with self.lock:
            account = self.account(account_id)
            if amount <= 0:
                raise LedgerError(400, "InvalidAmount", "amount must be positive won")
            if time.time() > account.expires_at:
                raise LedgerError(409, "AccountExpired", "the virtual account has closed")
            if account.deposited:
                raise LedgerError(409, "AlreadyDeposited", "the virtual account was paid")
            account.deposited = amount
            return account

    def refund(self, payment_id: str, amount: int, key: str, reason: str) -> RefundRecord:
        with self.lock:
            if key in self.refunds:
                return self.refunds[key]
            account = self.account(payment_id)
            if amount <= 0 or amount > account.deposited - account.refunded:
                left = account.deposited - account.refunded
                raise LedgerError(422, "RefundTooLarge", f"{amount} won; {left} refundable")
            record = RefundRecord("rf_" + secrets.token_hex(8), payment_id, amount, key, reason)
            account.refunds.append(record)
            self.refunds[key] = record
            return record

    def transfer(
        self, reference: str, bank_code: str, account_number: str, holder: str, amount: int
    ) -> TransferRecord:
        if amount <= 0:
            raise LedgerError(400, "InvalidAmount", "amount must be positive won")
        with self.lock:
            if reference in self.transfers:
                return self.transfers[reference]
            record = TransferRecord(
                "tr_" + secrets.token_hex(8), reference, bank_code, account_number, holder, amount
            )
            self.transfers[reference] = record
            return record
