"""The BANK SIMULATOR's HTTP server (stdlib ``http.server``: FastAPI is the gateway's face).

Every answer carries ``X-Simulator: dongne-bank-sim``. Calls need ``Authorization: Bearer
<secret>`` (the secret the webhooks are signed with). Bodies are JSON; amounts whole won.

=====================================  =====================================================
``POST /v1/virtual-accounts``          ``{order_ref, amount, holder, expires_at}`` -> 201 the
                                       account (idempotent by ``order_ref``)
``GET  /v1/virtual-accounts/{id}``     the account (= ``GET /v1/payments/{id}``)
``POST /v1/virtual-accounts/{id}/      ``{amount?}``: the payer deposits (default: the amount
deposit``                              due; another amount simulates a wrong transfer); the
                                       ``payment.deposited`` webhook follows
``POST /v1/deposits``                  ``{account_number, amount}``: a transfer into the account
                                       by its number, as a resident's banking app makes it
``GET  /v1/payments/{id}``             ``{id, order_ref, amount, deposited, refunded, status,
                                       refunds: [...]}``
``POST /v1/refunds``                   ``{payment_id, amount, key, reason}`` -> 201 (idempotent
                                       by ``key``); a ``payment.refunded`` webhook follows
``POST /v1/transfers``                 ``{reference, bank_code, account_number, holder,
                                       amount}`` -> 201 (idempotent by ``reference``), for
                                       settlement's payments to merchants
``GET  /v1/transfers``                 every transfer
``POST /sim/controls``                 ``{duplicate, delay_s, fail_first, bad_signature}``
``GET  /sim/webhooks``                 every webhook delivery with its attempts and statuses
=====================================  =====================================================

Webhooks: ``POST <webhook URL>`` with ``{id, type, created_at, data}``, signed as
:mod:`gateway.purchase.signing` describes, retried with backoff until a 2xx answer.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

from gateway.banksim import SIMULATOR
from gateway.banksim.ledger import Ledger, LedgerError
from gateway.banksim.webhooks import Controls, WebhookSender

__all__ = ["BankSimulator"]

_DEPOSIT = re.compile(r"^/v1/virtual-accounts/([A-Za-z0-9_]+)/deposit$")
_ACCOUNT = re.compile(r"^/v1/(?:virtual-accounts|payments)/([A-Za-z0-9_]+)$")


class BankSimulator:
    """The simulator: a ledger, a webhook sender and an HTTP server on ``host:port``."""

    def __init__(self, host: str, port: int, secret: str, webhook_url: str) -> None:
        self.secret = secret
        self.ledger = Ledger()
        self.controls = Controls()
        self.webhooks = WebhookSender(webhook_url, secret, self.controls)
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="banksim", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.webhooks.stop()
        self.server.shutdown()
        self.server.server_close()

    # -- the API -----------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: dict[str, object]) -> tuple[int, object]:
        ledger = self.ledger
        if method == "POST" and path == "/v1/virtual-accounts":
            account = ledger.open_account(
                _text(body, "order_ref"),
                _int(body, "amount"),
                _text(body, "holder"),
                float(_int(body, "expires_at")),
            )
            return 201, account.view()
        if method == "POST" and (match := _DEPOSIT.match(path)):
            return 200, self._deposit(ledger.account(match[1]).id, body)
        if method == "POST" and path == "/v1/deposits":
            return 200, self._deposit(ledger.by_number(_text(body, "account_number")).id, body)
        if method == "GET" and (match := _ACCOUNT.match(path)):
            return 200, ledger.account(match[1]).view()
        if method == "POST" and path == "/v1/refunds":
            record = ledger.refund(
                _text(body, "payment_id"),
                _int(body, "amount"),
                _text(body, "key"),
                str(body.get("reason", "")),
            )
            data = {"payment_id": record.payment_id, "refund_id": record.id}
            self.webhooks.emit("payment.refunded", {**data, "amount": record.amount})
            return 201, asdict(record)
        if method == "POST" and path == "/v1/transfers":
            transfer = ledger.transfer(
                _text(body, "reference"),
                _text(body, "bank_code"),
                _text(body, "account_number"),
                _text(body, "holder"),
                _int(body, "amount"),
            )
            return 201, asdict(transfer)
        if method == "GET" and path == "/v1/transfers":
            return 200, [asdict(t) for t in ledger.transfers.values()]
        if method == "POST" and path == "/sim/controls":
            c = self.controls
            c.duplicate = int(cast(int, body.get("duplicate", c.duplicate)))
            c.delay_s = float(cast(float, body.get("delay_s", c.delay_s)))
            c.fail_first = int(cast(int, body.get("fail_first", c.fail_first)))
            c.bad_signature = bool(body.get("bad_signature", c.bad_signature))
            return 200, asdict(c)
        if method == "GET" and path == "/sim/webhooks":
            with self.webhooks.lock:
                return 200, [asdict(d) for d in self.webhooks.deliveries.values()]
        raise LedgerError(404, "NotFound", f"no route {method} {path}")

    def _deposit(self, account_id: str, body: dict[str, object]) -> dict[str, object]:
        account = self.ledger.account(account_id)
        amount = _int(body, "amount") if "amount" in body else account.amount
        account = self.ledger.deposit(account.id, amount)
        data = {"payment_id": account.id, "order_ref": account.order_ref, "amount": amount}
        self.webhooks.emit("payment.deposited", data)
        return account.view()


def _text(body: dict[str, object], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise LedgerError(400, "InvalidRequest", f"{key} must be a non-empty string")
    return value


def _int(body: dict[str, object], key: str) -> int:
    value = body.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise LedgerError(400, "InvalidRequest", f"{key} must be an integer")
    return value


def _handler(sim: BankSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "dongne-bank-sim/0.1 (SIMULATOR)"

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: tests run it as a subprocess

        def _answer(self, status: int, payload: object) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("X-Simulator", SIMULATOR)
            self.end_headers()
            self.wfile.write(raw)

        def _serve(self, method: str) -> None:
            if self.headers.get("Authorization", "") != f"Bearer {sim.secret}":
                self._answer(401, {"code": "Unauthorized", "simulator": SIMULATOR})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}") if length <= 65536 else None
                if not isinstance(body, dict):
                    raise LedgerError(400, "InvalidRequest", "the body must be a JSON object")
                status, payload = sim.handle(method, self.path.split("?")[0], body)
            except LedgerError as exc:
                error = {"code": exc.code, "detail": exc.detail, "simulator": SIMULATOR}
                self._answer(exc.status, error)
                return
            except json.JSONDecodeError:
                self._answer(400, {"code": "InvalidRequest", "simulator": SIMULATOR})
                return
            self._answer(status, payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
