"""The payment provider adapter: what the gateway needs from a bank or PG for in-app sales.

A provider issues a virtual account (가상계좌) for an order's exact price, tells whether and
how much was deposited, refunds a payment, and calls the gateway's webhook (signed, see
``gateway.purchase.signing``) when money arrives. Every call is idempotent on the provider's
side by the reference the gateway passes (the order id, the refund key), so the gateway may
repeat any call after a crash without paying or refunding twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Payment",
    "PaymentProvider",
    "ProviderError",
    "ProviderUnavailableError",
    "Refund",
    "VirtualAccount",
]


class ProviderError(RuntimeError):
    """The provider refused a call (a definitive answer, e.g. an unknown payment)."""


class ProviderUnavailableError(ProviderError):
    """The provider could not be reached or answered 5xx: the same call may be repeated."""


@dataclass(frozen=True, slots=True)
class VirtualAccount:
    payment_id: str
    bank_code: str
    account_number: str
    holder: str
    amount: int
    expires_at: float


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    order_ref: str
    amount_due: int
    deposited: int
    status: str  # awaiting | deposited | refunded | expired
    refunded: int


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    payment_id: str
    amount: int
    status: str


class PaymentProvider(Protocol):
    """A payment provider as the purchase service uses it (one implementation:
    :class:`gateway.purchase.http_bank.HttpBankProvider`)."""

    name: str
    webhook_secret: str

    def create_virtual_account(
        self, order_ref: str, amount: int, holder: str, expires_at: float
    ) -> VirtualAccount:
        """A virtual account taking exactly ``amount`` won for ``order_ref`` (idempotent by
        ``order_ref``: asking again returns the same account)."""
        ...

    def payment(self, payment_id: str) -> Payment: ...

    def refund(self, payment_id: str, amount: int, key: str, reason: str) -> Refund:
        """Pays ``amount`` back to the payer (idempotent by ``key``)."""
        ...
