""":class:`HttpBankProvider`: the payment provider adapter for a bank speaking the virtual
account API of ``docs/bank-sim.md`` (the bank simulator speaks it; so would a bank's gateway
behind a thin shim)."""

from __future__ import annotations

import httpx

from gateway.purchase.provider import (
    Payment,
    ProviderError,
    ProviderUnavailableError,
    Refund,
    VirtualAccount,
)

__all__ = ["HttpBankProvider"]


class HttpBankProvider:
    """Calls the bank with ``Authorization: Bearer <secret>``; webhooks are signed with the
    same shared secret. Timeouts and 5xx are :class:`ProviderUnavailableError` (repeatable: every
    call is idempotent by its reference); 4xx are :class:`ProviderError`."""

    def __init__(self, name: str, url: str, secret: str, *, timeout: float = 10.0) -> None:
        self.name = name
        self.webhook_secret = secret
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=timeout,
            headers={"authorization": f"Bearer {secret}"},
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, object] | None = None) -> object:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ProviderUnavailableError(f"{self.name}: {exc}") from exc
        if response.status_code >= 500:
            raise ProviderUnavailableError(f"{self.name}: {response.status_code} on {path}")
        if response.status_code >= 400:
            raise ProviderError(f"{self.name}: {response.status_code} {response.text[:300]}")
        return response.json()

    def _object(
        self, method: str, path: str, body: dict[str, object] | None = None
    ) -> dict[str, object]:
        found = self._call(method, path, body)
        if not isinstance(found, dict):
            raise ProviderError(f"{self.name}: {path} answered {type(found).__name__}")
        return found

    def create_virtual_account(
        self, order_ref: str, amount: int, holder: str, expires_at: float
    ) -> VirtualAccount:
        body: dict[str, object] = {
            "order_ref": order_ref,
            "amount": amount,
            "holder": holder,
            "expires_at": int(expires_at),
        }
        found = self._object("POST", "/v1/virtual-accounts", body)
        return VirtualAccount(
            payment_id=str(found["id"]),
            bank_code=str(found["bank_code"]),
            account_number=str(found["account_number"]),
            holder=str(found["holder"]),
            amount=int(str(found["amount"])),
            expires_at=float(str(found["expires_at"])),
        )

    def payment(self, payment_id: str) -> Payment:
        found = self._object("GET", f"/v1/payments/{payment_id}")
        return Payment(
            payment_id=str(found["id"]),
            order_ref=str(found["order_ref"]),
            amount_due=int(str(found["amount"])),
            deposited=int(str(found["deposited"])),
            status=str(found["status"]),
            refunded=int(str(found["refunded"])),
        )

    def refund(self, payment_id: str, amount: int, key: str, reason: str) -> Refund:
        body: dict[str, object] = {
            "payment_id": payment_id,
            "amount": amount,
            "key": key,
            "reason": reason,
        }
        found = self._object("POST", "/v1/refunds", body)
        return Refund(str(found["id"]), payment_id, int(str(found["amount"])), str(found["status"]))
