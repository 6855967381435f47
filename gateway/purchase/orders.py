"""Creating purchase orders and applying the provider's webhooks: :class:`PurchaseService`.

A resident's order is checked against the city's caps BEFORE any money moves: the sale the
order would make, added to the resident's orders still pending, is simulated as one
``issue`` from the sales agent's key (``eth_estimateGas``), so the chain itself answers with
the same custom error the sale would revert with (``VoucherMonthlyPurchaseCapExceeded``,
``VoucherHoldingCapExceeded``, ``VoucherFrozen``, ...) and the SDK raises the same class.
"""

from __future__ import annotations

import json
import secrets
import time

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from chain.protocol.calls import encode_issue
from chain.sender import Sender, TransactionFailed
from gateway import queries
from gateway.db.tables import purchase as p
from gateway.db.tables import registry as r
from gateway.errors import GatewayError
from gateway.purchase import store
from gateway.purchase.provider import PaymentProvider, ProviderError, ProviderUnavailableError
from gateway.purchase.sale import BPS, chain_rules, check_discount, sale_terms
from gateway.purchase.signing import WebhookCheckError, verify
from gateway.purchase.store import Order

__all__ = ["PurchaseService"]

_O = p.purchase_orders.c


class PurchaseService:
    """Orders and webhooks over one database, one chain and one payment provider."""

    def __init__(
        self,
        engine: Engine,
        chain_id: int,
        provider: PaymentProvider,
        agent: Sender,
        *,
        default_discount_bps: int | None,
        payment_window_s: float,
        webhook_tolerance_s: float = 300.0,
    ) -> None:
        self.engine = engine
        self.chain_id = chain_id
        self.provider = provider
        self.agent = agent
        self.default_discount_bps = default_discount_bps
        self.payment_window_s = payment_window_s
        self.webhook_tolerance_s = webhook_tolerance_s

    # -- orders ------------------------------------------------------------------------------

    def order(self, order_id: str) -> Order | None:
        with self.engine.connect() as conn:
            return store.load(conn, order_id)

    def create(self, buyer: str, token: str, face: int, key: str) -> tuple[Order, bool]:
        """The order for ``(buyer, key)``: made now (True) or the one that key made before
        (False), with its virtual account. Repeating a call with the same key is safe."""
        buyer, token = buyer.lower(), token.lower()
        existing = self._by_key(buyer, key)
        if existing is None:
            if queries.municipality(self.engine, token) is None:
                raise GatewayError("NotFound", f"no municipality with token {token}")
            existing = self._insert(buyer, token, face, key)
            created = True
        else:
            created = False
            if (existing.token, existing.face) != (token, face):
                raise GatewayError(
                    "IdempotencyKeyReused",
                    "this Idempotency-Key made another order",
                    {"order_id": existing.id},
                )
        if existing.state == p.CREATED:
            existing = self._open_account(existing)
        return existing, created

    def _by_key(self, buyer: str, key: str) -> Order | None:
        query = select(p.purchase_orders.c.id).where(
            _O.chain_id == self.chain_id, _O.buyer == buyer, _O.idempotency_key == key
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
            return None if found is None else store.load(conn, str(found))

    def _insert(self, buyer: str, token: str, face: int, key: str) -> Order:
        terms = sale_terms(self.engine, self.chain_id, token, self.default_discount_bps)
        if not terms.on_sale:
            raise GatewayError("SaleNotOffered", f"{token} sells no vouchers in the app")
        check_discount(chain_rules(self.agent.rpc, token), terms.discount_bps)
        price = face - face * terms.discount_bps // BPS
        self._check_caps(buyer, token, face, price)
        now = time.time()
        order_id = "po_" + secrets.token_hex(12)
        row = {
            "id": order_id,
            "chain_id": self.chain_id,
            "token": token,
            "buyer": buyer,
            "idempotency_key": key,
            "face": face,
            "price": price,
            "discount_bps": terms.discount_bps,
            "state": p.CREATED,
            "provider": self.provider.name,
            "expires_at": now + self.payment_window_s,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(p.purchase_orders.insert().values(**row))
        except IntegrityError:  # the same key, concurrently: that order is the answer
            found = self._by_key(buyer, key)
            if found is None:
                raise
            return found
        loaded = self.order(order_id)
        assert loaded is not None
        return loaded

    def _check_caps(self, buyer: str, token: str, face: int, price: int) -> None:
        """Simulates the sale of this order plus the buyer's pending ones as one ``issue``."""
        pending_face, pending_price = store.pending_totals(self.engine, self.chain_id, token, buyer)
        data = encode_issue(buyer, face + pending_face, price + pending_price)
        try:
            self.agent.estimate((token, data, 0), "issue (simulated)")
        except TransactionFailed as exc:
            if exc.revert is None:
                raise GatewayError("NodeUnavailable", f"cannot simulate the sale: {exc}") from exc
            detail = f"the sale would revert: {exc.revert}"
            if pending_face:
                detail += f" (counting {pending_face} won of orders not issued yet)"
            raise GatewayError(exc.revert.name, detail, exc.revert.args) from exc

    def _open_account(self, order: Order) -> Order:
        holder = self._holder(order.buyer)
        try:
            account = self.provider.create_virtual_account(
                order.id, order.price, holder, order.expires_at
            )
        except ProviderUnavailableError as exc:
            detail = f"the payment provider is unavailable; repeat with the same key: {exc}"
            raise GatewayError("PaymentProviderUnavailableError", detail) from exc
        except ProviderError as exc:
            store.move(self.engine, order.id, [p.CREATED], p.FAILED, error_code="PaymentRefused",
                       error_detail=str(exc)[:500])  # fmt: skip
            raise GatewayError("PaymentRefused", str(exc), {"order_id": order.id}) from exc
        store.move(
            self.engine,
            order.id,
            [p.CREATED],
            p.AWAITING_PAYMENT,
            payment_id=account.payment_id,
            bank_code=account.bank_code,
            account_number=account.account_number,
            account_holder=account.holder,
        )
        found = self.order(order.id)
        assert found is not None
        return found

    def _holder(self, buyer: str) -> str:
        a = r.resident_accounts.c
        query = select(a.account_holder).where(a.chain_id == self.chain_id, a.wallet == buyer)
        with self.engine.connect() as conn:
            name = conn.execute(query).scalar()
        return str(name) if name else f"DONGNE {buyer[2:10].upper()}"

    def cancel(self, order: Order) -> Order:
        """The resident gives up an order before paying (a deposit after it is refunded)."""
        if not store.move(self.engine, order.id, [p.CREATED, p.AWAITING_PAYMENT], p.CANCELLED):
            raise GatewayError(
                "PurchaseOrderState", f"order {order.id} is {order.state}", {"state": order.state}
            )
        found = self.order(order.id)
        assert found is not None
        return found

    # -- webhooks ----------------------------------------------------------------------------

    def webhook(self, provider: str, body: bytes, timestamp: str | None, signature: str | None
                ) -> str:  # fmt: skip
        """Applies one signed delivery once: ``applied``, ``duplicate`` or ``ignored``."""
        if provider != self.provider.name:
            raise GatewayError("NotFound", f"no payment provider {provider!r}")
        try:
            verify(self.provider.webhook_secret, body, timestamp, signature,
                   tolerance_s=self.webhook_tolerance_s)  # fmt: skip
        except WebhookCheckError as exc:
            raise GatewayError("WebhookRejected", f"webhook {exc.reason}",
                               {"reason": exc.reason}) from exc  # fmt: skip
        event_id, kind, data = _event(body)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    p.purchase_webhook_events.insert().values(
                        provider=provider,
                        event_id=event_id,
                        order_id=str(data.get("order_ref", ""))[:40] or None,
                        kind=kind[:40],
                        received_at=time.time(),
                    )
                )
                return self._apply(conn, kind, data)
        except IntegrityError:
            return "duplicate"  # the provider redelivered an event already applied

    def _apply(self, conn: Connection, kind: str, data: dict[str, object]) -> str:
        if kind != "payment.deposited":
            return "ignored"  # refunds are confirmed by the refund call's own answer
        payment_id, amount = data.get("payment_id"), data.get("amount")
        if not isinstance(payment_id, str) or not isinstance(amount, int):
            raise GatewayError("InvalidRequest", "a deposit names payment_id and amount")
        query = select(_O.id).where(_O.provider == self.provider.name, _O.payment_id == payment_id)
        order_id = conn.execute(query).scalar()
        order = None if order_id is None else store.load(conn, str(order_id))
        if order is None:
            return "ignored"
        if order.state in (p.CREATED, p.AWAITING_PAYMENT):
            if amount == order.price:
                store.move_in(conn, order.id, [order.state], p.PAID, deposited=amount,
                              paid_at=time.time())  # fmt: skip
                return "applied"
            detail = f"deposited {amount} won, the price is {order.price}"
            store.move_in(conn, order.id, [order.state], p.REFUNDING, deposited=amount,
                          error_code="PaymentAmountMismatch", error_detail=detail)  # fmt: skip
            return "applied"
        if order.state in (p.EXPIRED, p.CANCELLED, p.FAILED):
            detail = f"a deposit of {amount} won arrived for a {order.state} order"
            store.move_in(conn, order.id, [order.state], p.REFUNDING, deposited=amount,
                          error_code="OrderNotPayable", error_detail=detail)  # fmt: skip
            return "applied"
        return "ignored"


def _event(body: bytes) -> tuple[str, str, dict[str, object]]:
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise GatewayError("InvalidRequest", "the webhook body is not JSON") from exc
    if not isinstance(event, dict):
        raise GatewayError("InvalidRequest", "the webhook body is not a JSON object")
    event_id, kind, data = event.get("id"), event.get("type"), event.get("data")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 80:
        raise GatewayError("InvalidRequest", "the webhook event has no id")
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise GatewayError("InvalidRequest", "the webhook event has no type or data")
    return event_id, kind, data
