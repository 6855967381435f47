"""In-app voucher purchases: a resident's orders, the provider's webhook, the city's discount.

A wallet app signs in with the wallet's key (SIWE, the session it already holds for reading
its balances) and creates orders under its own address: the order is off-chain money moving
through a bank, so there is no transaction for the wallet to sign, and a session (policy
``self`` with no municipality: nobody else, not even auditors, may buy in a resident's name)
is what the app has. Orders are read by the resident (or, logged, their city's auditors).

The webhook is PUBLIC in the policy table and authenticated in the handler by the provider's
HMAC over the raw body and a timestamp (``gateway.purchase.signing``): a bank has no wallet
to sign in with. It answers nothing personal.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.errors import GatewayError
from gateway.http.access import record_staff_action
from gateway.http.deps import EngineDep, ManifestDep, SettingsDep
from gateway.http.openapi import codes
from gateway.http.params import ADDRESS_PATTERN
from gateway.http.routes.audit import address as lower_address
from gateway.http.routes.audit import guarded
from gateway.purchase import sale, store
from gateway.purchase.setup import Purchases
from gateway.purchase.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from gateway.purchase.store import Order
from gateway.queries.scope import checksum

router = APIRouter(prefix="/v1", tags=["purchase"])

_ADDRESS = re.compile(ADDRESS_PATTERN)
AddressPath = Annotated[str, Path(pattern=_ADDRESS.pattern, description="the resident's wallet")]
TokenPath = Annotated[str, Path(pattern=_ADDRESS.pattern, description="the municipality's token")]
OrderPath = Annotated[str, Path(pattern=r"^po_[0-9a-f]{24}$", description="the order's id")]
_SALE_CODES = (
    "VoucherMonthlyPurchaseCapExceeded",
    "VoucherHoldingCapExceeded",
    "VoucherDiscountOutOfBounds",
    "VoucherFrozen",
    "VoucherUnregistered",
    "VoucherEdgeNotAllowed",  # the buyer is not a holder (a merchant's wallet)
    "VoucherPaused",
)  # what simulating the sale can answer


class VirtualAccountOut(BaseModel):
    """Where to pay: transfer exactly ``amount`` won before ``expires_at``."""

    payment_id: str = Field(description="the provider's reference of the account/payment")
    bank_code: str
    account_number: str
    holder: str
    amount: int
    expires_at: float = Field(description="unix seconds")


class PurchaseOrderOut(BaseModel):
    id: str
    token: str
    buyer: str
    face: int = Field(description="won of vouchers the order issues")
    price: int = Field(description="won to pay: face minus the city's discount")
    discount_bps: int
    state: str = Field(
        description="created, awaiting_payment, paid, issuing, issued, refunding, refunded, "
        "expired, cancelled or failed"
    )
    virtual_account: VirtualAccountOut | None
    deposited: int | None
    tx_hash: str | None = Field(description="the issue transaction (set from `issuing` on)")
    block_number: int | None
    refund_id: str | None
    error_code: str | None = Field(description="why the order was refunded or failed")
    error_detail: str | None
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, order: Order) -> PurchaseOrderOut:
        account = None
        if order.payment_id is not None and order.account_number is not None:
            account = VirtualAccountOut(
                payment_id=order.payment_id,
                bank_code=order.bank_code or "",
                account_number=order.account_number,
                holder=order.account_holder or "",
                amount=order.price,
                expires_at=order.expires_at,
            )
        return cls(
            id=order.id,
            token=checksum(order.token),
            buyer=checksum(order.buyer),
            face=order.face,
            price=order.price,
            discount_bps=order.discount_bps,
            state=order.state,
            virtual_account=account,
            deposited=order.deposited,
            tx_hash=order.tx_hash,
            block_number=order.block_number,
            refund_id=order.refund_id,
            error_code=order.error_code,
            error_detail=order.error_detail,
            created_at=order.created_at,
            updated_at=order.updated_at,
        )


class PurchaseOrderIn(BaseModel):
    token: Annotated[str, Field(pattern=_ADDRESS.pattern)]
    face: Annotated[int, Field(gt=0, le=10_000_000, description="won of vouchers to buy")]


class WebhookAck(BaseModel):
    outcome: str = Field(description="applied, duplicate (already applied) or ignored")


class SaleSettingsOut(BaseModel):
    token: str
    discount_bps: int
    on_sale: bool
    source: str = Field(description="city (set by its admin) or default (the gateway's)")
    updated_by: str | None
    updated_at: float | None


class SaleSettingsIn(BaseModel):
    discount_bps: Annotated[int, Field(ge=0, le=10_000)]
    on_sale: bool = True


def _purchases(request: Request) -> Purchases:
    found: Purchases | None = getattr(request.app.state, "purchases", None)
    if found is None:
        raise GatewayError("SaleNotOffered", "this gateway has no payment provider configured")
    return found


def _own(purchases: Purchases, wallet: str, order_id: str) -> Order:
    order = guarded(lambda: purchases.service.order(order_id))
    if order is None or order.buyer != wallet:  # another wallet's order does not exist here
        raise GatewayError("NotFound", f"no purchase order {order_id}", {"order_id": order_id})
    return order


@router.post(
    "/wallets/{address}/purchase-orders",
    status_code=201,
    responses={200: {"model": PurchaseOrderOut, "description": "the order this key made"}},
    openapi_extra=codes(
        "NotFound",
        "SaleNotOffered",
        "IdempotencyKeyReused",
        "PaymentRefused",
        "PaymentProviderUnavailable",
        "NodeUnavailable",
        "DatabaseUnavailable",
        *_SALE_CODES,
    ),
)
def create_purchase_order(
    request: Request,
    response: Response,
    address: AddressPath,
    body: PurchaseOrderIn,
    idempotency_key: Annotated[
        str, Header(min_length=8, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")
    ],
) -> PurchaseOrderOut:
    """Orders ``face`` won of vouchers at the city's discount and opens a virtual account for
    the price. The caps (monthly purchase, holding; counting orders not issued yet) are
    checked first, with the contract's own error names. Repeat with the same
    ``Idempotency-Key`` to get the same order (200) instead of a second one."""
    purchases = _purchases(request)
    wallet = lower_address(address, "address")
    token = lower_address(body.token, "token")
    order, created = guarded(
        lambda: purchases.service.create(wallet, token, body.face, idempotency_key)
    )
    if not created:
        response.status_code = 200
    _wake(request)
    return PurchaseOrderOut.of(order)


@router.get(
    "/wallets/{address}/purchase-orders",
    openapi_extra=codes("SaleNotOffered", "DatabaseUnavailable"),
)
def list_purchase_orders(
    request: Request,
    manifest: ManifestDep,
    address: AddressPath,
    token: Annotated[str | None, Query(pattern=_ADDRESS.pattern)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[PurchaseOrderOut]:
    """The wallet's purchase orders, newest first."""
    purchases = _purchases(request)
    wallet = lower_address(address, "address")
    tok = None if token is None else token.lower()
    engine = purchases.service.engine
    found = guarded(lambda: store.orders_of(engine, manifest.chain_id, wallet, tok, limit))
    return [PurchaseOrderOut.of(o) for o in found]


@router.get(
    "/wallets/{address}/purchase-orders/{order_id}",
    openapi_extra=codes("NotFound", "SaleNotOffered", "DatabaseUnavailable"),
)
def get_purchase_order(
    request: Request,
    address: AddressPath,
    order_id: OrderPath,
) -> PurchaseOrderOut:
    """One order with its virtual account, state, and the issue transaction once sent."""
    wallet = lower_address(address, "address")
    return PurchaseOrderOut.of(_own(_purchases(request), wallet, order_id))


@router.post(
    "/wallets/{address}/purchase-orders/{order_id}/cancel",
    openapi_extra=codes("NotFound", "PurchaseOrderState", "SaleNotOffered", "DatabaseUnavailable"),
)
def cancel_purchase_order(
    request: Request,
    address: AddressPath,
    order_id: OrderPath,
) -> PurchaseOrderOut:
    """Gives up an order not paid yet; a deposit arriving later is refunded."""
    purchases = _purchases(request)
    order = _own(purchases, lower_address(address, "address"), order_id)
    return PurchaseOrderOut.of(guarded(lambda: purchases.service.cancel(order)))


_WEBHOOK_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["id", "type", "data"],
                "properties": {
                    "id": {"type": "string", "description": "the event id (deduped)"},
                    "type": {"type": "string", "example": "payment.deposited"},
                    "created_at": {"type": "number"},
                    "data": {
                        "type": "object",
                        "description": "payment.deposited: {payment_id, order_ref, amount}",
                    },
                },
            }
        }
    },
}


@router.post(
    "/purchase/webhooks/{provider}",
    openapi_extra={
        **codes("WebhookRejected", "NotFound", "SaleNotOffered", "DatabaseUnavailable"),
        "requestBody": _WEBHOOK_BODY,  # read raw: the HMAC covers the bytes as sent
    },
)
async def purchase_webhook(
    request: Request,
    provider: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,32}$")],
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> WebhookAck:
    """The payment provider's event (a deposit, a refund), authenticated by its HMAC-SHA256
    over ``<timestamp>.<raw body>`` (headers ``X-Dongne-Timestamp``, ``X-Dongne-Signature``),
    refused when stale, applied once per event id (redeliveries answer ``duplicate``)."""
    purchases = _purchases(request)
    body = await request.body()
    outcome = await asyncio.to_thread(
        guarded, lambda: purchases.service.webhook(provider, body, timestamp, signature)
    )
    _wake(request)
    return WebhookAck(outcome=outcome)


@router.get(
    "/tokens/{token}/sale-settings",
    openapi_extra=codes("SaleNotOffered", "DatabaseUnavailable"),
)
def get_sale_settings(request: Request, manifest: ManifestDep, token: TokenPath
                      ) -> SaleSettingsOut:  # fmt: skip
    """The city's in-app sale discount (public: it is the price every resident sees)."""
    purchases = _purchases(request)
    default = purchases.service.default_discount_bps
    engine = purchases.service.engine
    terms = guarded(lambda: sale.sale_terms(engine, manifest.chain_id, token, default))
    return _settings_out(terms)


@router.put(
    "/tokens/{token}/sale-settings",
    openapi_extra=codes(
        "VoucherDiscountOutOfBounds", "SaleNotOffered", "NodeUnavailable", "DatabaseUnavailable"
    ),
)
def put_sale_settings(
    request: Request,
    engine: EngineDep,
    manifest: ManifestDep,
    settings: SettingsDep,
    token: TokenPath,
    body: SaleSettingsIn,
) -> SaleSettingsOut:
    """Sets the city's in-app sale discount, within its on-chain discount bounds (the rules
    in force), or pauses in-app sales (``on_sale: false``). Written to the staff log."""
    purchases = _purchases(request)
    tok = lower_address(token, "token")
    chain = manifest.chain_id
    default = settings.sale_default_discount_bps
    rpc = purchases.rpc
    guarded(lambda: sale.check_discount(sale.chain_rules(rpc, tok), body.discount_bps))
    before = guarded(lambda: sale.sale_terms(engine, chain, tok, default))
    actor = getattr(request.state, "principal", None)
    who = actor.actor if actor is not None else "anonymous"
    guarded(lambda: sale.set_sale_terms(engine, chain, tok, body.discount_bps, body.on_sale, who))
    after = guarded(lambda: sale.sale_terms(engine, chain, tok, default))
    record_staff_action(request, engine, "purchase.sale_settings", token=tok, before=before,
                        after=after)  # fmt: skip
    return _settings_out(after)


def _settings_out(terms: sale.SaleTerms) -> SaleSettingsOut:
    return SaleSettingsOut.model_validate({**asdict(terms), "token": checksum(terms.token)})


def _wake(request: Request) -> None:
    """Starts the sales agent's next round now instead of at its next tick."""
    wake: asyncio.Event | None = getattr(request.app.state, "purchase_wake", None)
    loop: asyncio.AbstractEventLoop | None = getattr(request.app.state, "loop", None)
    if wake is not None and loop is not None:
        loop.call_soon_threadsafe(wake.set)
