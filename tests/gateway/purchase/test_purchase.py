"""In-app purchases end to end: the SDK orders, the resident pays the BANK SIMULATOR (its own
process), its signed webhook reaches the gateway, the sales agent issues on chain; and every
way that can go wrong: redelivered webhooks, forged ones, caps, a sale refused after payment,
a wrong amount, a gateway restarted between payment and issue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
from eth_abi.abi import decode as abi_decode

from chain.protocol.contracts import event_data_types, event_topic
from chain.reader import TokenReader
from chain.rpc import RpcClient
from gateway.db import create_engine_for
from gateway.purchase.setup import build_purchases
from gateway.purchase.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from gateway.settings import Settings
from tests.fixtures.signin import sign_in
from tests.gateway.purchase.conftest import SECRET, Shop
from wallet_sdk import exceptions as x
from wallet_sdk.client import PurchaseOrder

WEBHOOK = "/v1/purchase/webhooks/banksim"


def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def balance(shop: Shop, who: str) -> int:
    reader = TokenReader(RpcClient(shop.net.rpc_url), shop.token)
    return reader.balances([shop.citizens[who].address])[0]


def issued_events(shop: Shop, who: str) -> list[tuple[str, int, int]]:
    """(issuer, face, paid) of every ``Issued`` to ``who``."""
    buyer = "0x" + bytes(12).hex() + shop.citizens[who].address[2:].lower()
    logs = RpcClient(shop.net.rpc_url).get_logs(
        {"address": shop.token, "fromBlock": "0x0", "topics": [event_topic("Issued"), buyer]}
    )
    found = []
    for log in logs:
        face, paid = abi_decode(
            list(event_data_types("Issued")), bytes.fromhex(str(log["data"])[2:])
        )
        found.append(("0x" + str(log["topics"][2])[-40:], face, paid))  # type: ignore[index]
    return found


def pay(shop: Shop, order: PurchaseOrder, amount: int | None = None) -> None:
    assert order.virtual_account is not None
    answer = shop.bank.deposit(order.virtual_account.account_number, amount)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-simulator"] == "dongne-bank-sim"


def test_a_paid_order_is_issued_on_chain_with_face_and_paid(shop: Shop) -> None:
    with shop.client("buyer") as client:
        order = client.buy(shop.token, 100_000)
        assert (order.state, order.face, order.price, order.discount_bps) == (
            "awaiting_payment", 100_000, 90_000, 1000,
        )  # fmt: skip
        assert order.virtual_account is not None
        assert order.virtual_account.amount == 90_000
        assert balance(shop, "buyer") == 0
        pay(shop, order)
        done = client.wait_purchase(order, timeout=30)
    assert done.state == "issued"
    assert done.tx_hash is not None
    assert done.deposited == 90_000
    assert balance(shop, "buyer") == 100_000
    assert issued_events(shop, "buyer") == [(shop.agent.address.lower(), 100_000, 90_000)]
    receipt = RpcClient(shop.net.rpc_url).get_receipt(done.tx_hash)
    assert receipt is not None
    assert int(str(receipt["blockNumber"]), 16) == done.block_number


def test_the_same_idempotency_key_makes_one_order(shop: Shop) -> None:
    with shop.client("buyer") as client:
        first = client.buy(shop.token, 10_000, idempotency_key="app-retry-0001")
        again = client.buy(shop.token, 10_000, idempotency_key="app-retry-0001")
        assert again.id == first.id
        assert again.virtual_account == first.virtual_account
        with pytest.raises(x.IdempotencyKeyReused) as reused:
            client.buy(shop.token, 20_000, idempotency_key="app-retry-0001")
        assert reused.value.order_id == first.id
        assert [o.id for o in client.purchase_orders()].count(first.id) == 1


def test_redelivered_webhooks_issue_once(shop: Shop) -> None:
    # The first delivery is lost (retried), and each event is then sent three times more.
    shop.bank.controls(duplicate=3, fail_first=1)
    try:
        with shop.client("dup") as client:
            order = client.buy(shop.token, 50_000)
            pay(shop, order)
            client.wait_purchase(order, timeout=30)
            assert order.virtual_account is not None
            payment_id = order.virtual_account.payment_id

            def delivered() -> bool:
                return any(
                    d["delivered"] == 4 and json.dumps(d["payload"]).count(payment_id)
                    for d in shop.bank.deliveries()
                )

            until(delivered, "the duplicates delivered")
    finally:
        shop.bank.controls(duplicate=0, fail_first=0)
    deliveries = [d for d in shop.bank.deliveries() if payment_id in json.dumps(d["payload"])]
    deposit = next(d for d in deliveries if d["payload"]["type"] == "payment.deposited")  # type: ignore[index]
    assert deposit["statuses"][0] == 0
    assert deposit["statuses"][1:] == [200] * 4
    assert balance(shop, "dup") == 50_000
    assert issued_events(shop, "dup") == [(shop.agent.address.lower(), 50_000, 45_000)]


def test_a_forged_or_stale_webhook_is_refused_and_changes_nothing(shop: Shop) -> None:
    with shop.client("hmac") as client:
        order = client.buy(shop.token, 30_000)
    assert order.virtual_account is not None
    payment_id = order.virtual_account.payment_id
    event = {"id": "ev_forged", "type": "payment.deposited", "created_at": time.time(),
             "data": {"payment_id": payment_id, "amount": order.price}}  # fmt: skip
    body = json.dumps(event).encode()
    now = int(time.time())
    forged = {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign("guessed-secret", now, body)}
    stale_at = now - 3600
    stale = {TIMESTAMP_HEADER: str(stale_at), SIGNATURE_HEADER: sign(SECRET, stale_at, body)}
    with httpx.Client(base_url=shop.gateway.url) as http:
        for headers, reason in ((forged, "signature"), (stale, "stale"), ({}, "missing")):
            answer = http.post(WEBHOOK, content=body, headers=headers)
            assert answer.status_code == 401, answer.text
            assert answer.json()["code"] == "WebhookRejected"
            assert answer.json()["args"]["reason"] == reason
        # The same body signed with the secret is accepted: the checks above were the reason.
        good = {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(SECRET, now, b"{}")}
        assert http.post(WEBHOOK, content=b"{}", headers=good).status_code == 400
    time.sleep(0.5)  # the sales agent runs at least twice meanwhile
    with shop.client("hmac") as client:
        assert client.purchase_order(order.id).state == "awaiting_payment"
    assert shop.bank.payment(payment_id)["deposited"] == 0
    assert balance(shop, "hmac") == 0


def test_caps_are_checked_before_any_virtual_account(shop: Shop) -> None:
    with shop.client("capped") as client:
        first = client.buy(shop.token, 600_000)  # not paid yet: still counts
        with pytest.raises(x.VoucherMonthlyPurchaseCapExceeded) as refused:
            client.buy(shop.token, 200_000)
        assert (refused.value.would_be, refused.value.cap) == (800_000, 700_000)
        assert refused.value.status == 422
        assert [o.id for o in client.purchase_orders()] == [first.id]  # no second order
        # Cancelling the first frees the room.
        assert client.cancel_purchase(first).state == "cancelled"
        with pytest.raises(x.PurchaseOrderState):
            client.cancel_purchase(first)
        assert client.buy(shop.token, 200_000).state == "awaiting_payment"
        # The resident's bank app pays the cancelled order anyway: the money goes back.
        pay(shop, first)
        until(lambda: client.purchase_order(first.id).state == "refunded", "the refund")
        assert client.purchase_order(first.id).error_code == "OrderNotPayable"
    assert first.virtual_account is not None
    assert shop.bank.payment(first.virtual_account.payment_id)["refunded"] == 540_000
    assert balance(shop, "capped") == 0


def test_a_sale_refused_after_payment_is_refunded_through_the_bank(shop: Shop) -> None:
    with shop.client("frozen") as client:
        order = client.buy(shop.token, 50_000)
        shop.net.operator.set_frozen(
            shop.net.manifest.registry, shop.citizens["frozen"].address, True
        )
        pay(shop, order)
        with pytest.raises(x.VoucherFrozen):
            client.wait_purchase(order, timeout=30)
        done = client.purchase_order(order.id)
    assert done.state == "refunded"
    assert done.error_code == "VoucherFrozen"
    assert done.virtual_account is not None
    payment = shop.bank.payment(done.virtual_account.payment_id)
    assert payment["status"] == "refunded"
    assert payment["refunded"] == 45_000
    assert [r["id"] for r in payment["refunds"]] == [done.refund_id]  # type: ignore[union-attr]
    assert balance(shop, "frozen") == 0
    assert issued_events(shop, "frozen") == []


def test_a_wrong_amount_is_refunded_not_issued(shop: Shop) -> None:
    with shop.client("wrong") as client:
        order = client.buy(shop.token, 20_000)
        pay(shop, order, amount=17_000)
        with pytest.raises(x.GatewayError) as refused:
            client.wait_purchase(order, timeout=30)
        assert refused.value.code == "PaymentAmountMismatch"
    assert order.virtual_account is not None
    assert shop.bank.payment(order.virtual_account.payment_id)["refunded"] == 17_000
    assert balance(shop, "wrong") == 0


def test_a_resident_sees_only_their_own_orders(shop: Shop) -> None:
    with shop.client("buyer") as mine, shop.client("dup") as other:
        orders = mine.purchase_orders()
        assert orders
        assert all(o.buyer == mine.address for o in orders)
        assert orders == tuple(sorted(orders, key=lambda o: -o.created_at))
        with httpx.Client(base_url=shop.gateway.url) as http:
            headers = sign_in(http, bytes(shop.citizens["dup"].key))
        base = f"{shop.gateway.url}/v1/wallets/{mine.address}/purchase-orders"
        assert httpx.get(base, headers=headers).status_code == 403
        assert httpx.get(f"{base}/{orders[0].id}", headers=headers).status_code == 403
        buy = httpx.post(base, headers={**headers, "idempotency-key": "someone-else-01"},
                         json={"token": shop.token, "face": 10_000})  # fmt: skip
        assert buy.status_code == 403
        assert buy.json()["code"] == "Forbidden"
        with pytest.raises(x.NotFound):  # another's order under one's own address
            other.purchase_order(orders[0].id)
    assert httpx.get(base).status_code == 401


def test_a_restart_between_payment_and_issue_issues_exactly_once(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two crashes: after the issue was recorded but before it was sent (crash_a), and after
    it was sent but before its receipt was recorded (crash_b). The restarted gateway resends
    the recorded bytes for the first and only reads the receipt of the second."""
    orders = {}
    for who in ("crash_a", "crash_b"):
        with shop.client(who) as client:
            orders[who] = client.buy(shop.token, 40_000)
    shop.gateway.stop()
    try:
        for name, value in shop.env.items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        engine = create_engine_for(settings.database_url)
        chain_id = shop.net.manifest.chain_id
        purchases = build_purchases(settings, engine, chain_id)
        assert purchases is not None
        recorded = {}
        for who, order in orders.items():
            assert order.virtual_account is not None
            # The resident pays while the gateway is down; the bank's webhook is retried.
            pay(shop, order)
            event = {"id": f"ev_local_{who}", "type": "payment.deposited",
                     "data": {"payment_id": order.virtual_account.payment_id,
                              "amount": order.price}}  # fmt: skip
            body, now = json.dumps(event).encode(), int(time.time())
            outcome = purchases.service.webhook("banksim", body, str(now), sign(SECRET, now, body))
            assert outcome == "applied"
            paid = purchases.service.order(order.id)
            assert paid is not None
            assert paid.state == "paid"
            signed = purchases.agent.record_issue(paid)  # ... and the process dies here
            assert signed is not None
            recorded[who] = signed.tx_hash
        purchases.rpc.send_raw_transaction(signed.raw)  # crash_b's issue left before the crash
        purchases.close()
        engine.dispose()
    finally:
        shop.gateway.start()
    with shop.client("crash_a") as a, shop.client("crash_b") as b:
        for client, who in ((a, "crash_a"), (b, "crash_b")):
            done = client.wait_purchase(orders[who].id, timeout=30)
            assert done.tx_hash == recorded[who]
    time.sleep(1.0)  # the bank's retried webhooks arrive; the agent runs a few more rounds
    for who in ("crash_a", "crash_b"):
        assert balance(shop, who) == 40_000
        assert issued_events(shop, who) == [(shop.agent.address.lower(), 40_000, 36_000)]


def test_the_city_admin_sets_the_discount_within_the_chain_bounds(shop: Shop) -> None:
    url = f"{shop.gateway.url}/v1/tokens/{shop.token}/sale-settings"
    assert httpx.get(url).json()["discount_bps"] == 1000
    assert httpx.get(url).json()["source"] == "default"
    with httpx.Client(base_url=shop.gateway.url) as http:
        admin = sign_in(http, bytes(shop.net.operator.account.key))
        resident = sign_in(http, bytes(shop.citizens["admin_buy"].key))
    assert httpx.put(url, json={"discount_bps": 500}, headers=resident).status_code == 403
    too_much = httpx.put(url, json={"discount_bps": 1500}, headers=admin)
    assert too_much.status_code == 422
    assert too_much.json()["code"] == "VoucherDiscountOutOfBounds"
    set_to = httpx.put(url, json={"discount_bps": 500}, headers=admin)
    assert set_to.status_code == 200, set_to.text
    assert (set_to.json()["discount_bps"], set_to.json()["source"]) == (500, "city")
    try:
        with shop.client("admin_buy") as client:
            order = client.buy(shop.token, 100_000)
        assert (order.price, order.discount_bps) == (95_000, 500)
    finally:
        assert httpx.put(url, json={"discount_bps": 1000}, headers=admin).status_code == 200
