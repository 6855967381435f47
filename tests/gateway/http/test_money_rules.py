"""Issue 13 over real HTTP: a merchant's invoices and a citizen's payment requests (each read
by its owner, refused to others, an auditor's read logged), the public funding figures equal
to the token's own views, and payment history entries carrying the on-chain record."""

from __future__ import annotations

import secrets

from web3 import Web3

from chain.protocol.abi import load_abi
from chain.protocol.calls import encode_cancel_invoice, encode_create_invoice, encode_pay
from chain.rpc import RpcClient
from chain.sender import Sender

from .conftest import World, until


def test_invoices_payment_requests_and_funding(world: World) -> None:
    a = world.accounts
    net = world.net
    chain_id = net.manifest.chain_id
    rpc = RpcClient(net.rpc_url)
    net.operator.send_many([(a["merchant"].address, b"", 10**18)], "fund")
    shop = Sender(rpc, a["merchant"], chain_id)
    paid_id, dropped_id = secrets.token_bytes(32), secrets.token_bytes(32)
    citizen = a["citizen"].address
    shop.send(world.siheung, encode_create_invoice(paid_id, citizen, 1_000), "createInvoice")
    shop.send(world.siheung, encode_create_invoice(dropped_id, citizen), "createInvoice")
    shop.send(world.siheung, encode_cancel_invoice(dropped_id), "cancelInvoice")
    Sender(rpc, a["citizen"], chain_id).send(
        world.siheung, encode_pay(a["merchant"].address, 1_000, paid_id), "pay"
    )
    me = world.client("citizen")
    url = f"/v1/wallets/{citizen}/payment-requests"
    wanted = {"0x" + paid_id.hex(): "paid", "0x" + dropped_id.hex(): "cancelled"}

    def indexed() -> bool:
        answer = me.get(url)
        assert answer.status_code == 200, answer.text
        found = {i["invoice_id"]: i["status"] for i in answer.json()["items"]}
        return all(found.get(k) == v for k, v in wanted.items())

    until(indexed, "the invoices indexed")
    (paid,) = [i for i in me.get(url, params={"status": "paid"}).json()["items"]
               if i["invoice_id"] == "0x" + paid_id.hex()]  # fmt: skip
    assert (paid["amount"], paid["expiry"], paid["merchant"]) == (1_000, 0, a["merchant"].address)
    assert paid["paid_tx_hash"].startswith("0x")
    assert paid["paid_by"] == citizen
    bad = me.get(url, params={"status": "late"})
    assert (bad.status_code, bad.json()["code"]) == (400, "InvalidRequest")
    # The merchant's side, and who else may look.
    invoices = f"/v1/merchants/{a['merchant'].address}/invoices"
    mine = world.client("merchant").get(invoices, params={"token": world.siheung})
    assert mine.status_code == 200, mine.text
    listed = {i["invoice_id"]: i["payer"] for i in mine.json()["items"]}
    assert listed.items() >= {("0x" + paid_id.hex(), citizen), ("0x" + dropped_id.hex(), citizen)}
    for path in (url, invoices):
        other = world.client("other_citizen").get(path)
        assert (other.status_code, other.json()["code"]) == (403, "Forbidden")
        anonymous = world.client("anonymous").get(path)
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, "AuthRequired")
    read = world.client("auditor").get(url, params={"token": world.siheung})
    assert read.status_code == 200, read.text
    log = me.get("/v1/me/access-log").json()
    assert any(entry["what"].endswith("/payment-requests") for entry in log)
    # History: the payment's entry carries what rebuilds its on-chain record.
    history = me.get(f"/v1/wallets/{citizen}/history", params={"token": world.siheung}).json()
    (entry,) = [i for i in history["items"] if i["kind"] == "payment"
                and i["details"]["payment_id"] == "0x" + paid_id.hex()]  # fmt: skip
    details = entry["details"]
    assert (details["extra"], details["platform"], details["fee"], details["cancelled"]) == (
        0,
        None,
        0,
        0,
    )
    assert (details["program_ids"], details["program_amounts"]) == ([], [])
    # The funding figures are public and equal the token's views.
    token = Web3(Web3.HTTPProvider(net.rpc_url)).eth.contract(
        address=Web3.to_checksum_address(world.siheung), abi=load_abi("VoucherToken")
    )
    funding = world.client("anonymous").get(f"/v1/tokens/{world.siheung}/funding")
    assert funding.status_code == 200, funding.text
    body = funding.json()
    assert (body["subsidy_total"], body["cashback_total"]) == tuple(
        token.functions.fundingTotals().call()
    )
    assert (body["versions"], body["funders"], body["pending"]) == ([], [], None)
    unknown = world.client("anonymous").get(f"/v1/tokens/0x{'12' * 20}/funding")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NotFound")
