"""What every scenario does with wallets: read balances as the index reports them, show and
scan QR codes, write a city's recipient list. Only the SDK and the gateway's API."""

from __future__ import annotations

import csv
import secrets
from pathlib import Path

from wallet_sdk import DongneClient, PaymentRequest
from wallet_sdk.client import HistoryItem

from .conftest import LocalDongne, eventually


def balance(client: DongneClient, token: str) -> tuple[int, dict[int, int]]:
    """(general balance, {program id: pocket}) as the gateway's index reports them."""
    mine = client.balances(token).of(token)
    return mine.general, {p.program_id: p.amount for p in mine.pockets if p.amount}


def expect_balance(
    client: DongneClient, token: str, general: int, pockets: dict[int, int] | None = None
) -> None:
    """Waits for the index to show this general balance (and exactly these pockets)."""

    def check() -> bool:
        got_general, got_pockets = balance(client, token)
        return got_general == general and (pockets is None or got_pockets == pockets)

    try:
        eventually(check, f"{client.address} holds {general} (+ {pockets})", timeout=30)
    except AssertionError:
        got = balance(client, token)
        raise AssertionError(
            f"{client.address} holds {got}, expected {general}, {pockets}"
        ) from None


def invoice(net: LocalDongne, merchant: str, token: str, amount: int, label: str) -> str:
    """The URI of a dynamic QR invoice the merchant's terminal shows (valid 10 minutes)."""
    request = PaymentRequest(
        token=token,
        chain_id=net.chain_id,
        merchant=merchant,
        amount=amount,
        invoice_id=secrets.token_bytes(32),
        expiry=net.clock.now() + 600,
        label=label,
    )
    return request.to_uri()


def static_code(net: LocalDongne, merchant: str, token: str, label: str) -> str:
    """The URI of a merchant's printed QR code (no amount: the payer types it)."""
    return PaymentRequest(token, net.chain_id, merchant, label=label).to_uri()


def scan_and_pay(payer: DongneClient, uri: str, amount: int | None = None) -> PaymentRequest:
    """The payer's app scans ``uri`` and pays it; returns what was scanned."""
    scanned = PaymentRequest.parse(uri)
    submission = payer.pay_invoice(scanned, amount=amount)
    if scanned.invoice_id is not None:
        assert submission.payment_id == scanned.invoice_id
    payer.wait(submission)
    return scanned


def history(client: DongneClient, token: str, kind: str) -> list[HistoryItem]:
    """The wallet's own history items of one kind ("payment", "refund", ...), newest first."""
    return [item for item in client.history(token=token).items if item.kind == kind]


def recipients_csv(path: Path, rows: list[tuple[str, int]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["address", "amount"])
        writer.writerows(rows)
    return path


def ref32(text: str) -> bytes:
    """A 32-byte reference from a readable label."""
    raw = text.encode()
    assert len(raw) <= 32
    return raw.ljust(32, b"\0")
