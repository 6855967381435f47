"""Builds the purchase service and the sales agent from the gateway's settings."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from sqlalchemy import Engine

from chain.rpc import RpcClient
from chain.sender import Sender
from gateway.purchase.agent import SalesAgent
from gateway.purchase.http_bank import HttpBankProvider
from gateway.purchase.orders import PurchaseService
from gateway.settings import Settings

__all__ = ["Purchases", "build_purchases"]


@dataclass
class Purchases:
    service: PurchaseService
    agent: SalesAgent
    provider: HttpBankProvider
    rpc: RpcClient

    def close(self) -> None:
        self.provider.close()
        self.rpc.close()


def build_purchases(settings: Settings, engine: Engine, chain_id: int) -> Purchases | None:
    """None unless a provider URL, its secret and a sales agent key are all configured."""
    url, secret, key = (
        settings.payment_provider_url,
        settings.payment_provider_secret,
        settings.sales_agent_key,
    )
    if url is None or secret is None or key is None:
        return None
    rpc = RpcClient(settings.rpc_url)
    sender = Sender(rpc, Account.from_key(key.get_secret_value()), chain_id)
    provider = HttpBankProvider(settings.payment_provider_name, url, secret.get_secret_value())
    service = PurchaseService(
        engine,
        chain_id,
        provider,
        sender,
        default_discount_bps=settings.sale_default_discount_bps,
        payment_window_s=settings.purchase_payment_window_s,
        webhook_tolerance_s=settings.webhook_tolerance_s,
    )
    return Purchases(service, SalesAgent(engine, chain_id, sender, provider), provider, rpc)
