"""The BANK SIMULATOR's webhook sender: signed deliveries retried until the gateway says 2xx.

Like a real provider it redelivers on any failure (so receivers must dedupe by event id);
its controls duplicate deliveries, delay them, or make the first attempts fail.
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field

import httpx

from gateway.purchase.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["Controls", "Delivery", "WebhookSender"]


@dataclass
class Controls:
    """Failure injection, changed with ``POST /sim/controls``."""

    duplicate: int = 0  # extra deliveries of every event after the first success
    delay_s: float = 0.0  # wait before the first attempt
    fail_first: int = 0  # the next N attempts are dropped before reaching the gateway
    bad_signature: bool = False  # sign with a wrong secret (the gateway must refuse)


@dataclass
class Delivery:
    event_id: str
    payload: dict[str, object]
    attempts: int = 0
    delivered: int = 0  # 2xx answers received
    statuses: list[int] = field(default_factory=list)  # 0: dropped or unreachable


class WebhookSender:
    def __init__(self, url: str, secret: str, controls: Controls) -> None:
        self.url, self.secret, self.controls = url, secret, controls
        self.deliveries: dict[str, Delivery] = {}
        self.lock = threading.Lock()
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._http = httpx.Client(timeout=5.0)
        self._thread = threading.Thread(target=self._run, name="banksim-webhooks", daemon=True)
        self._thread.start()

    def emit(self, kind: str, data: dict[str, object]) -> Delivery:
        event_id = "ev_" + secrets.token_hex(10)
        payload: dict[str, object] = {"id": event_id, "type": kind, "created_at": time.time()}
        payload["data"] = data
        delivery = Delivery(event_id, payload)
        with self.lock:
            self.deliveries[event_id] = delivery
        self._queue.put(delivery)
        return delivery

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (delivery := self._queue.get()) is not None:
            if self.controls.delay_s:
                time.sleep(self.controls.delay_s)
            pause = 0.1
            while not self._attempt(delivery):
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
            for _ in range(self.controls.duplicate):
                self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> bool:
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        with self.lock:
            delivery.attempts += 1
            if self.controls.fail_first > 0:
                self.controls.fail_first -= 1
                delivery.statuses.append(0)
                return False
        secret = "not-the-secret" if self.controls.bad_signature else self.secret
        now = int(time.time())
        headers = {
            "content-type": "application/json",
            TIMESTAMP_HEADER: str(now),
            SIGNATURE_HEADER: sign(secret, now, body),
            "X-Simulator": "dongne-bank-sim",
        }
        try:
            status = self._http.post(self.url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            status = 0
        with self.lock:
            delivery.statuses.append(status)
            if 200 <= status < 300:
                delivery.delivered += 1
                return True
        # A refused signature is final for this attempt's secret; keep retrying like a bank.
        return False
