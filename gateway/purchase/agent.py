"""The sales agent: issues paid orders on chain with the city's ISSUER key, refunds the rest.

Exactly once, whatever fails: the signed ``issue`` transaction (hash, nonce, raw bytes) is
recorded with the order's move to ``issuing`` BEFORE it is sent. After a crash the order is
resumed from that record: its receipt if mined, else the SAME bytes are sent again (the node
answers "already known" or mines them once); only when the key's nonce has moved past the
recorded one without that transaction (another sender took the nonce) can it never be mined,
and the order goes back to ``paid`` to be signed anew. A sale the chain refuses for good (a
custom error: cap reached meanwhile, buyer frozen, paused) is refunded through the provider.

:meth:`SalesAgent.run_once` is the whole loop body: the gateway's background task calls it,
tests call it directly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import Engine

from chain.protocol.calls import encode_issue
from chain.rpc import JSONObject, NodeUnavailableError, RpcError
from chain.sender import Sender, SignedTransaction, TransactionFailed
from gateway.db.tables import purchase as p
from gateway.purchase import store
from gateway.purchase.provider import PaymentProvider, ProviderError
from gateway.purchase.store import Order

__all__ = ["AgentRound", "SalesAgent"]

log = logging.getLogger("dongne.purchase")

# Refusals that are the operator's to fix, not the resident's sale's: the agent's key lacks
# ISSUER_ROLE. Paid orders wait for the fix (and are logged) instead of all being refunded.
_OPERATOR_FAULTS = frozenset({"AccessControlUnauthorizedAccount"})


@dataclass
class AgentRound:
    issued: int = 0
    refunded: int = 0
    expired: int = 0
    waiting: int = 0  # left for a later round (node or provider unavailable, not mined yet)


class SalesAgent:
    def __init__(
        self,
        engine: Engine,
        chain_id: int,
        sender: Sender,
        provider: PaymentProvider,
        *,
        receipt_wait_s: float = 15.0,
        batch: int = 50,
    ) -> None:
        self.engine, self.chain_id = engine, chain_id
        self.sender, self.provider = sender, provider
        self.receipt_wait_s = receipt_wait_s
        self.batch = batch

    def run_once(self) -> AgentRound:
        """One pass: resume recorded issues, issue paid orders, refund, expire."""
        done = AgentRound()
        steps = ((p.ISSUING, self._resume), (p.PAID, self._issue), (p.REFUNDING, self._refund))
        for state, step in steps:
            for order in store.orders_in(self.engine, self.chain_id, [state], self.batch):
                try:
                    outcome = step(order)
                except (NodeUnavailableError, RpcError, ProviderError, TransactionFailed) as exc:
                    log.warning("purchase order %s (%s) waits: %s", order.id, state, exc)
                    outcome = "waiting"
                if outcome == "issued":
                    done.issued += 1
                elif outcome == "refunded":
                    done.refunded += 1
                elif outcome == "waiting":
                    done.waiting += 1
        done.expired = self._expire()
        return done

    # -- issuing -----------------------------------------------------------------------------

    def _issue(self, order: Order) -> str:
        signed = self.record_issue(order)
        if signed is None:
            now = store.load_by_id(self.engine, order.id)
            if now is not None and now.state == p.REFUNDING:
                return self._refund(now)
            return "waiting"  # another worker took it
        return self._send(order.id, signed.raw, signed.tx_hash)

    def record_issue(self, order: Order) -> SignedTransaction | None:
        """Signs the paid order's ``issue`` and records it (``paid`` -> ``issuing``) without
        sending it: what a crash right before sending leaves. None when the chain refuses
        the sale for good (the order moves to ``refunding``; nothing was sent) or another
        worker recorded it first."""
        call = (order.token, encode_issue(order.buyer, order.face, order.price), 0)
        # Above any recorded issue still unsent: the node's pending count does not know it.
        nonce = self.sender.rpc.get_transaction_count(self.sender.address, "pending")
        recorded = store.last_recorded_nonce(self.engine, self.chain_id)
        if recorded is not None:
            nonce = max(nonce, recorded + 1)
        try:
            signed = self.sender.prepare(call, f"issue for order {order.id}", nonce=nonce)
        except TransactionFailed as exc:
            if exc.revert is None or exc.revert.name in _OPERATOR_FAULTS:
                raise  # the order waits (logged) until the node or the key is fixed
            store.move(self.engine, order.id, [p.PAID], p.REFUNDING,
                       error_code=exc.revert.name, error_detail=str(exc)[:500])  # fmt: skip
            return None
        recorded = store.move(
            self.engine,
            order.id,
            [p.PAID],
            p.ISSUING,
            tx_hash=signed.tx_hash,
            tx_nonce=signed.nonce,
            raw_tx=signed.raw,
        )
        return signed if recorded else None

    def _resume(self, order: Order) -> str:
        if order.tx_hash is None or order.raw_tx is None or order.tx_nonce is None:
            store.move(self.engine, order.id, [p.ISSUING], p.PAID)  # nothing recorded to send
            return "waiting"
        if (receipt := self.sender.rpc.get_receipt(order.tx_hash)) is not None:
            return self._finish(order.id, receipt)
        mined_nonce = self.sender.rpc.get_transaction_count(self.sender.address, "latest")
        if mined_nonce > order.tx_nonce:
            # The nonce is used and our transaction has no receipt: it can never be mined.
            store.move(self.engine, order.id, [p.ISSUING], p.PAID,
                       tx_hash=None, tx_nonce=None, raw_tx=None)  # fmt: skip
            return "waiting"
        return self._send(order.id, order.raw_tx, order.tx_hash)

    def _send(self, order_id: str, raw: bytes, tx_hash: str) -> str:
        try:
            self.sender.rpc.send_raw_transaction(raw)
        except RpcError as exc:  # "already known" and the like: the receipt decides
            log.info("resending the issue of %s: %s", order_id, exc.message)
        deadline = time.monotonic() + self.receipt_wait_s
        pause = 0.05
        while (receipt := self.sender.rpc.get_receipt(tx_hash)) is None:
            if time.monotonic() > deadline:
                return "waiting"  # still recorded as issuing: the next round resumes it
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        return self._finish(order_id, receipt)

    def _finish(self, order_id: str, receipt: JSONObject) -> str:
        block = int(str(receipt["blockNumber"]), 16)
        if int(str(receipt["status"]), 16) == 1:
            store.move(self.engine, order_id, [p.ISSUING], p.ISSUED, block_number=block)
            return "issued"
        reverted = {"error_code": "IssueReverted", "error_detail": "the issue reverted"}
        store.move(self.engine, order_id, [p.ISSUING], p.REFUNDING, block_number=block, **reverted)
        order = store.load_by_id(self.engine, order_id)
        return self._refund(order) if order is not None else "waiting"

    # -- refunds and expiry --------------------------------------------------------------------

    def _refund(self, order: Order) -> str:
        if not order.deposited or order.payment_id is None:
            store.move(self.engine, order.id, [p.REFUNDING], p.REFUNDED)
            return "refunded"
        refund = self.provider.refund(
            order.payment_id, order.deposited, f"{order.id}:refund", order.error_code or "refund"
        )
        store.move(self.engine, order.id, [p.REFUNDING], p.REFUNDED, refund_id=refund.refund_id)
        return "refunded"

    def _expire(self) -> int:
        now = time.time()
        expired = 0
        for order in store.orders_in(
            self.engine, self.chain_id, [p.CREATED, p.AWAITING_PAYMENT], self.batch * 4
        ):
            if order.expires_at < now:
                expired += store.move(self.engine, order.id, [order.state], p.EXPIRED)
        return expired
