"""`dongne invoice create|cancel|list`: a merchant's single-use invoices and remote payment
requests, signed with the merchant's own key (`DONGNE_KEY`). They are the shop's own acts, not
staff's: the token takes them only from the merchant itself, so nothing goes to the staff log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import (
    JsonOut,
    ManifestPath,
    Region,
    RpcUrl,
    address_option,
    caller_account,
    console,
    emit,
    fail,
    operator_for,
    run_action,
)
from gateway.cli.gateway_api import GatewayUrl, gateway_get, token_of

invoice = typer.Typer(help="A merchant's invoices: create, cancel, list (merchant's key).",
                      no_args_is_help=True)  # fmt: skip

InvoiceId = Annotated[str, typer.Option("--id", help="32 bytes as 0x-hex.")]


def _invoice_id(value: str | None) -> bytes:
    import secrets

    if value is None:
        return secrets.token_bytes(32)
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        fail(f"--id must be 32 bytes as 0x-hex: {value}")
    return raw


def _send(region: int, rpc: str, manifest_path: Path, data: bytes, what: str) -> tuple[str, str]:
    manifest, operator = operator_for(rpc, manifest_path)
    token = str(run_action(lambda: manifest.token(region)))
    receipt = run_action(lambda: operator.send(token, data, what))
    return token, str(receipt["transactionHash"])


@invoice.command("create")
def invoice_create(
    region: Region,
    amount: Annotated[int, typer.Option(help="Exact amount in won (0: any).")] = 0,
    payer: Annotated[
        str | None, typer.Option(help="Remote payment request to this wallet.")
    ] = None,
    expires_in: Annotated[int, typer.Option(help="Seconds until it expires (0: never).")] = 0,
    invoice_id: Annotated[str | None, typer.Option("--id", help="0x-hex; default random.")] = None,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Create a single-use invoice (or a remote payment request naming its payer).

    Example: DONGNE_KEY=$SHOP dongne invoice create --region 41390 --amount 120000 --payer 0xMom...
    """
    import time

    from chain.protocol.calls import encode_create_invoice
    from chain.protocol.hashing import ZERO_ADDRESS

    if amount < 0 or expires_in < 0:
        fail("--amount and --expires-in must not be negative")
    who = address_option(payer, "payer") if payer else ZERO_ADDRESS
    iid = _invoice_id(invoice_id)
    expiry = int(time.time()) + expires_in if expires_in else 0
    data = encode_create_invoice(iid, who, amount, expiry)
    token, tx = _send(region, rpc, manifest_path, data, "createInvoice")
    result = {"token": token, "invoice_id": "0x" + iid.hex(), "payer": who, "amount": amount,
              "expiry": expiry, "tx_hash": tx}  # fmt: skip
    emit(result, as_json, lambda: console.print(f"invoice 0x{iid.hex()} created"))


@invoice.command("cancel")
def invoice_cancel(
    region: Region,
    invoice_id: InvoiceId,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Cancel an open invoice of yours.

    Example: DONGNE_KEY=$SHOP_KEY dongne invoice cancel --region 41390 --id 0x5e1f...
    """
    from chain.protocol.calls import encode_cancel_invoice

    iid = _invoice_id(invoice_id)
    token, tx = _send(region, rpc, manifest_path, encode_cancel_invoice(iid), "cancelInvoice")
    result = {"token": token, "invoice_id": "0x" + iid.hex(), "tx_hash": tx}
    emit(result, as_json, lambda: console.print(f"invoice 0x{iid.hex()} cancelled"))


@invoice.command("list")
def invoice_list(
    region: Region,
    merchant: Annotated[str | None, typer.Option(help="Default: your own wallet.")] = None,
    status: Annotated[str | None, typer.Option(help="open, paid, cancelled.")] = None,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """A merchant's invoices, newest first (yours, or a merchant of your city as its staff).

    Example: DONGNE_KEY=$SHOP_KEY dongne invoice list --region 41390 --status open
    """
    from gateway.cli.session import session_headers, sign_in

    shop = address_option(merchant, "merchant") if merchant else caller_account().address
    token = token_of(gateway, region)
    if not session_headers(gateway):
        sign_in(gateway)
    page = gateway_get(gateway, f"/v1/merchants/{shop}/invoices", token=token, status=status)
    assert isinstance(page, dict)
    items = page.get("items", [])

    def render() -> None:
        for item in items:
            console.print(f"{item.get('invoice_id')} {item.get('status')} ₩{item.get('amount')}")

    emit(page, as_json, render)
