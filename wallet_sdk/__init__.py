"""Dongne wallet SDK: local keys, signed requests through any gateway, payment QR codes and
one exception class per error code (`wallet_sdk.exceptions`)."""

from wallet_sdk import exceptions
from wallet_sdk.client import (
    AsyncDongneClient,
    Balances,
    DongneClient,
    Invoice,
    NetworkInfo,
    Pocket,
    RequestState,
    Submission,
    order_pockets,
)
from wallet_sdk.exceptions.base import (
    DongneError,
    GatewayError,
    GatewayUnavailableError,
    InvalidKeyError,
    InvalidPaymentUriError,
    InvoiceExpiredError,
    KeystoreError,
    TransportError,
    error_for,
    register_error,
)
from wallet_sdk.keys import DEFAULT_HD_PATH, LocalKey
from wallet_sdk.qr import MAX_LABEL_LENGTH, PaymentRequest, PaymentUriReason

__all__ = [
    "DEFAULT_HD_PATH",
    "MAX_LABEL_LENGTH",
    "AsyncDongneClient",
    "Balances",
    "DongneClient",
    "DongneError",
    "GatewayError",
    "GatewayUnavailableError",
    "InvalidKeyError",
    "InvalidPaymentUriError",
    "Invoice",
    "InvoiceExpiredError",
    "KeystoreError",
    "LocalKey",
    "NetworkInfo",
    "PaymentRequest",
    "PaymentUriReason",
    "Pocket",
    "RequestState",
    "Submission",
    "TransportError",
    "error_for",
    "exceptions",
    "order_pockets",
    "register_error",
]
