"""Orders nobody paid in time expire, and a deposit arriving after that is refunded, not
issued; on both database backends, without a chain (nothing here reaches one)."""

from __future__ import annotations

import json
import time

import pytest
from eth_account import Account
from sqlalchemy import Engine

from chain.rpc import RpcClient
from chain.sender import Sender
from gateway.db.tables import purchase as p
from gateway.purchase import store
from gateway.purchase.agent import SalesAgent
from gateway.purchase.http_bank import HttpBankProvider
from gateway.purchase.orders import PurchaseService
from gateway.purchase.signing import sign
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

SECRET = "expiry-test-secret-0123456789"
TOKEN, BUYER = "0x" + "11" * 20, "0x" + "22" * 20


def _order(engine: Engine, order_id: str, expires_at: float) -> None:
    now = time.time()
    with engine.begin() as conn:
        conn.execute(p.purchase_orders.insert().values(
            id=order_id, chain_id=31337, token=TOKEN, buyer=BUYER, idempotency_key=order_id,
            face=10_000, price=9_000, discount_bps=1000, state=p.AWAITING_PAYMENT,
            provider="banksim", payment_id="va_" + order_id[-8:], expires_at=expires_at,
            created_at=now, updated_at=now,
        ))  # fmt: skip


class ExpiryBehaviour:
    def test_unpaid_orders_expire_and_a_late_deposit_is_refunded(self, engine: Engine) -> None:
        # Nothing here calls the bank or the node: both point at closed ports.
        provider = HttpBankProvider("banksim", "http://127.0.0.1:9", SECRET)
        sender = Sender(RpcClient("http://127.0.0.1:9"), Account.create(), 31337)
        service = PurchaseService(engine, 31337, provider, sender, default_discount_bps=1000,
                                  payment_window_s=60)  # fmt: skip
        agent = SalesAgent(engine, 31337, sender, provider)
        _order(engine, "po_" + "a" * 24, time.time() - 1)
        _order(engine, "po_" + "b" * 24, time.time() + 600)
        assert agent.run_once().expired == 1
        late, live = (
            store.load_by_id(engine, "po_" + "a" * 24),
            store.load_by_id(engine, "po_" + "b" * 24),
        )
        assert late is not None
        assert live is not None
        assert (late.state, live.state) == ("expired", "awaiting_payment")
        assert store.pending_totals(engine, 31337, TOKEN, BUYER) == (10_000, 9_000)
        event = {"id": "ev_late", "type": "payment.deposited",
                 "data": {"payment_id": late.payment_id, "amount": 9_000}}  # fmt: skip
        body, now = json.dumps(event).encode(), int(time.time())
        assert service.webhook("banksim", body, str(now), sign(SECRET, now, body)) == "applied"
        assert service.webhook("banksim", body, str(now), sign(SECRET, now, body)) == "duplicate"
        refunding = store.load_by_id(engine, late.id)
        assert refunding is not None
        assert (refunding.state, refunding.error_code) == ("refunding", "OrderNotPayable")
        provider.close()


class TestExpirySQLite(SQLiteBackend, ExpiryBehaviour):
    pass


@pytest.mark.postgres
class TestExpiryPostgres(PostgresBackend, ExpiryBehaviour):
    pass
