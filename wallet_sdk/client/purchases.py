"""In-app voucher purchases as the gateway answers them: an order, the virtual account to pay
into, and the typed exception of an order that ended without vouchers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from wallet_sdk.client.fields import Fields
from wallet_sdk.exceptions.base import DongneError, UnexpectedResponseError, error_for

__all__ = [
    "PURCHASE_FINAL_STATES",
    "PurchaseOrder",
    "VirtualAccount",
    "parse_purchase_order",
    "parse_purchase_orders",
]

PURCHASE_FINAL_STATES: Final = frozenset({"issued", "refunded", "expired", "cancelled", "failed"})


@dataclass(frozen=True, slots=True)
class VirtualAccount:
    """Where to pay: transfer exactly ``amount`` won before ``expires_at`` (unix seconds)."""

    payment_id: str  # the provider's reference
    bank_code: str
    account_number: str
    holder: str
    amount: int
    expires_at: float


@dataclass(frozen=True, slots=True)
class PurchaseOrder:
    """An order of ``face`` won of vouchers for ``price`` won (the city's discount off)."""

    id: str
    token: str
    buyer: str
    face: int
    price: int
    discount_bps: int
    state: str  # created | awaiting_payment | paid | issuing | issued | refunding | refunded
    #             | expired | cancelled | failed
    virtual_account: VirtualAccount | None
    deposited: int | None
    tx_hash: str | None
    block_number: int | None
    refund_id: str | None
    error_code: str | None
    error_detail: str | None
    created_at: float
    updated_at: float

    @property
    def final(self) -> bool:
        return self.state in PURCHASE_FINAL_STATES

    def exception(self) -> DongneError | None:
        """Why a final order issued nothing (None while pending or once issued): the
        contract's error that refused the sale (e.g. VoucherMonthlyPurchaseCapExceeded), or
        PurchaseOrderState naming the state (expired, cancelled)."""
        if not self.final or self.state == "issued":
            return None
        code = self.error_code or "PurchaseOrderState"
        detail = f"purchase order {self.id} {self.state}: {self.error_detail or code}"
        return error_for(code, detail, {"state": self.state})


def parse_purchase_order(body: object) -> PurchaseOrder:
    fields = Fields(body, "purchase order")
    raw_account = fields.raw("virtual_account")
    account = None
    if raw_account is not None:
        a = Fields(raw_account, "virtual account")
        account = VirtualAccount(
            payment_id=a.text("payment_id"),
            bank_code=a.text("bank_code"),
            account_number=a.text("account_number"),
            holder=a.text("holder"),
            amount=a.integer("amount"),
            expires_at=a.number("expires_at"),
        )
    return PurchaseOrder(
        id=fields.text("id"),
        token=fields.text("token"),
        buyer=fields.text("buyer"),
        face=fields.integer("face"),
        price=fields.integer("price"),
        discount_bps=fields.integer("discount_bps"),
        state=fields.text("state"),
        virtual_account=account,
        deposited=fields.optional_integer("deposited"),
        tx_hash=fields.optional_text("tx_hash"),
        block_number=fields.optional_integer("block_number"),
        refund_id=fields.optional_text("refund_id"),
        error_code=fields.optional_text("error_code"),
        error_detail=fields.optional_text("error_detail"),
        created_at=fields.number("created_at"),
        updated_at=fields.number("updated_at"),
    )


def parse_purchase_orders(body: object) -> tuple[PurchaseOrder, ...]:
    if not isinstance(body, list):
        raise UnexpectedResponseError("purchase orders: expected a JSON array")
    return tuple(parse_purchase_order(item) for item in body)
