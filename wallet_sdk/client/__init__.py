"""Typed client of a Dongne gateway for wallet apps: sign on the device, relay, follow, query.

:class:`DongneClient` (blocking, ``httpx.Client``) and :class:`AsyncDongneClient` (asyncio,
``httpx.AsyncClient``) share one implementation (:mod:`.operations`); :mod:`.models` holds
the answers, :mod:`.wire` reads them off the wire.

Errors: an unreachable gateway raises :class:`TransportError`; an overloaded or degraded one
:class:`GatewayUnavailableError` (both retried a few times first: a signed request sent twice
gets the same id and runs at most once); any other problem+json answer the exception class
named by its ``code`` (see :mod:`wallet_sdk.exceptions`).
"""

from wallet_sdk.client.aio import AsyncDongneClient
from wallet_sdk.client.models import (
    FINAL_STATUSES,
    Balances,
    HistoryItem,
    HistoryPage,
    Invoice,
    InvoiceStatus,
    NetworkInfo,
    PaymentSubmission,
    Pocket,
    PocketChoice,
    ProgramInfo,
    RequestState,
    SignedPaymentSubmission,
    Submission,
    TokenBalance,
    TokenInfo,
    order_pockets,
)
from wallet_sdk.client.operations import DEFAULT_DEADLINE_S, DEFAULT_GAS, sign_forward_request
from wallet_sdk.client.purchases import PurchaseOrder, VirtualAccount
from wallet_sdk.client.registry import (
    DirectoryEntry,
    DirectoryPage,
    MerchantApplication,
    MerchantProfile,
)
from wallet_sdk.client.sync import DongneClient

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_GAS",
    "FINAL_STATUSES",
    "AsyncDongneClient",
    "Balances",
    "DirectoryEntry",
    "DirectoryPage",
    "DongneClient",
    "HistoryItem",
    "HistoryPage",
    "Invoice",
    "InvoiceStatus",
    "MerchantApplication",
    "MerchantProfile",
    "NetworkInfo",
    "PaymentSubmission",
    "Pocket",
    "PocketChoice",
    "ProgramInfo",
    "PurchaseOrder",
    "RequestState",
    "SignedPaymentSubmission",
    "Submission",
    "TokenBalance",
    "TokenInfo",
    "VirtualAccount",
    "order_pockets",
    "sign_forward_request",
]
