"""The city's in-app sale discount: a row its admin sets, within the on-chain bounds.

Without a row the gateway's default (``Settings.sale_default_discount_bps``) applies; with
neither, the city does not sell in the app. The bounds are the token's current rules, read
from the chain (the truth), so a discount the contract would refuse is refused here first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from sqlalchemy import Engine, select

from chain.protocol.calls import Rules
from chain.protocol.contracts import encode_function, output_type
from chain.rpc import RpcClient
from gateway.db.tables import purchase as p
from gateway.errors import GatewayError

__all__ = ["SaleTerms", "chain_rules", "check_discount", "sale_terms", "set_sale_terms"]

BPS = 10_000


@dataclass(frozen=True, slots=True)
class SaleTerms:
    token: str
    discount_bps: int
    on_sale: bool
    source: str  # "city" (a row its admin set) or "default" (the gateway's setting)
    updated_by: str | None
    updated_at: float | None


def chain_rules(rpc: RpcClient, token: str) -> Rules:
    raw = rpc.eth_call({"to": token, "data": "0x" + encode_function("rules", []).hex()})
    (values,) = abi_decode([output_type("rules")], raw)
    return Rules.from_tuple(values)


def check_discount(rules: Rules, discount_bps: int) -> None:
    if not rules.min_discount_bps <= discount_bps <= rules.max_discount_bps:
        raise GatewayError(
            "VoucherDiscountOutOfBounds",
            f"{discount_bps} bps is outside the city's bounds "
            f"[{rules.min_discount_bps}, {rules.max_discount_bps}]",
            {
                "face": BPS,
                "paid": BPS - discount_bps,
                "minBps": rules.min_discount_bps,
                "maxBps": rules.max_discount_bps,
            },
        )


def sale_terms(engine: Engine, chain_id: int, token: str, default_bps: int | None) -> SaleTerms:
    s = p.sale_settings.c
    query = select(p.sale_settings).where(s.chain_id == chain_id, s.token == token.lower())
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is not None:
        return SaleTerms(
            token.lower(),
            int(row["discount_bps"]),
            bool(row["on_sale"]),
            "city",
            str(row["updated_by"]),
            float(row["updated_at"]),
        )
    if default_bps is None:
        return SaleTerms(token.lower(), 0, False, "default", None, None)
    return SaleTerms(token.lower(), default_bps, True, "default", None, None)


def set_sale_terms(
    engine: Engine, chain_id: int, token: str, discount_bps: int, on_sale: bool, actor: str
) -> None:
    s = p.sale_settings.c
    values = {
        "discount_bps": discount_bps,
        "on_sale": int(on_sale),
        "updated_by": actor[:80],
        "updated_at": time.time(),
    }
    key = (s.chain_id == chain_id, s.token == token.lower())
    with engine.begin() as conn:
        if conn.execute(p.sale_settings.update().where(*key).values(**values)).rowcount == 0:
            conn.execute(
                p.sale_settings.insert().values(chain_id=chain_id, token=token.lower(), **values)
            )
