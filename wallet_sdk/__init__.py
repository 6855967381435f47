"""Dongne wallet SDK: local keys, payment QR codes and the SDK's exceptions."""

from wallet_sdk.errors import (
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
    "DongneError",
    "GatewayError",
    "GatewayUnavailableError",
    "InvalidKeyError",
    "InvalidPaymentUriError",
    "InvoiceExpiredError",
    "KeystoreError",
    "LocalKey",
    "PaymentRequest",
    "PaymentUriReason",
    "TransportError",
    "error_for",
    "register_error",
]
