"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<raw body>"`` with a shared secret.

The provider sends ``X-Dongne-Timestamp`` (unix seconds) and ``X-Dongne-Signature``
(``v1=<hex>``). Signing the timestamp with the body makes a captured delivery useless after
``tolerance_s``; within it, the event id dedupes (``gateway.purchase.webhooks``). Both the
gateway and the bank simulator use these two functions, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookCheckError", "sign", "verify"]

TIMESTAMP_HEADER = "X-Dongne-Timestamp"
SIGNATURE_HEADER = "X-Dongne-Signature"


class WebhookCheckError(ValueError):
    """A delivery whose signature or timestamp does not check out; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> None:
    """Raises :class:`WebhookCheckError` unless ``signature`` signs ``body`` at ``timestamp``
    and the timestamp is within ``tolerance_s`` of now (either side: clocks drift)."""
    if not timestamp or not signature:
        raise WebhookCheckError("missing")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookCheckError("timestamp")
    sent = int(timestamp)
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        raise WebhookCheckError("stale")
    if not hmac.compare_digest(sign(secret, sent, body), signature.strip()):
        raise WebhookCheckError("signature")
