"""Packs accepted requests into `executeBatch` transactions and follows each to its end.

Per signer, requests are sent in nonce order and never with a gap; a signer's requests all go
through the same relayer key, so their batches are mined in the key's nonce order. A batch is
stored with its raw bytes before it is sent; a restart resends what the node no longer knows,
and the forwarder's nonces make any re-execution impossible.

One batcher per shard (gateway.relayer.shards) this replica holds, with the shard's one key;
its writes are fenced by the shard's lease. Besides what this replica's intake hands it, it
adopts the shard's requests that other replicas stored (polling the shard's queued ids every
``adopt_interval_s``: a cheap indexed read, ids only, full rows only for the new ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from chain.protocol.contracts import event_topic
from chain.protocol.errors import decode_revert
from chain.protocol.forwarder import ForwardRequest, SignedRequest, encode_execute_batch
from chain.rpc import JSONObject, NodeUnavailableError, RpcError
from chain.rpc_async import AsyncRpc
from gateway.db.tables.relayer import FAILED, FORWARD, PAYMENT, SUCCEEDED
from gateway.observability.relay_metrics import BATCH_SIZE, TIME_TO_FINAL
from gateway.relayer.chainview import ChainView, GasExhausted
from gateway.relayer.intake import Accepted, Intake, NonceBook
from gateway.relayer.payment_batches import (
    PAID_TOPICS,
    PendingPayment,
    batch_calldata,
    batch_gas,
    carries_signature,
    encoded_size,
    paid_log_matches,
    read_batch_logs,
    skip_reason,
)
from gateway.relayer.payment_intake import AcceptedPayment
from gateway.relayer.store import Outcome, RequestStore, StoredBatch, StoredRequest
from gateway.settings import Settings

log = logging.getLogger("dongne.relayer")

EXECUTED_TOPIC = event_topic("ExecutedForwardRequest", "DongneForwarder")
MAX_ATTEMPTS = 3
# Forwarder work per request outside the forwarded call: signature recovery, nonce, event.
PER_REQUEST_OVERHEAD = 20_000
# How far back a payment skipped as already paid is looked for (its Paid log), in blocks.
PAID_LOOKBACK_BLOCKS = 50_000


_FINAL_FAILED = TIME_TO_FINAL.labels(status=FAILED)
_FINAL_SUCCEEDED = TIME_TO_FINAL.labels(status=SUCCEEDED)


@dataclass
class Pending:
    id: str
    signed: SignedRequest
    # Accepted at (unix seconds): time to final is measured from here.
    created_at: float = field(default_factory=time.time)
    attempts: int = 0
    simulated: bool = False  # against the state it runs on (intake's simulation, next in line)
    trace: str | None = None  # the X-Request-ID that brought it (stored with the request)

    @property
    def encoded_size(self) -> int:
        """Its share of executeBatch calldata: the tuple's head (7 words), the offset word,
        the padded data and the 65-byte signature with their length words."""
        return 32 * 8 + 32 + -(-len(self.signed.request.data) // 32) * 32 + 32 + 96

    @property
    def signer(self) -> str:
        return self.signed.request.from_

    @property
    def nonce(self) -> int:
        return self.signed.request.nonce


@dataclass
class RelayerKey:
    account: LocalAccount
    nonce: int = 0
    in_flight: int = 0
    balance: int | None = None  # wei, refreshed with the gas price

    @property
    def address(self) -> str:
        return str(self.account.address)


Item = Pending | PendingPayment  # a forwarder request, or a signed payment (payBySig)


@dataclass
class InFlight:
    tx_hash: str
    key: RelayerKey
    raw: bytes
    items: list[Item]
    last_sent: float
    kind: str = FORWARD  # an executeBatch, or a PAYMENT batch (payBySigBatch of one token)


@dataclass
class Stats:
    batches_sent: int = 0
    requests_sent: int = 0
    succeeded: int = 0
    failed: int = 0
    requeued: int = 0
    resent: int = 0
    gas_used: int = 0
    refused_unsent: int = 0  # requests that ended failed by simulation, never sent
    dropped: int = 0  # batch transactions the node refused or replaced: their requests requeued
    adopted: int = 0  # requests another replica stored, taken up by this shard's owner


class Batcher:
    def __init__(
        self,
        settings: Settings,
        view: ChainView,
        rpc: AsyncRpc,
        store: RequestStore,
        nonces: NonceBook,
        intake: Intake,
        key: RelayerKey,
        *,
        shard: int = 0,
        stats: Stats | None = None,
    ) -> None:
        self.settings = settings
        self.view = view
        self.rpc = rpc
        self.store = store
        self.nonces = nonces
        self.intake = intake
        self.shard = shard
        self.accepted: asyncio.Queue[Accepted | AcceptedPayment] = asyncio.Queue()
        self.keys = [key]
        # Ids this batcher made final lately: an adoption poll that read them still queued
        # just before they ended must not take them up again.
        self._done: dict[str, float] = {}
        self.waiting: dict[str, dict[int, Pending]] = defaultdict(dict)
        # Signed payments, per payment_key (payer and token), by nonce: never in the same
        # transaction as forwarder requests (payBySigBatch goes to the token).
        self.payment_waiting: dict[str, dict[int, PendingPayment]] = defaultdict(dict)
        self.next_send: dict[str, int] = {}
        self.in_flight: dict[str, InFlight] = {}
        # Requests of each signer in batches not yet mined: a signer's next request is only
        # batched (and simulated) once the previous one has run, so it is simulated against
        # the state it will execute on and never sent when it must revert.
        self.sending: dict[str, int] = defaultdict(int)
        self.stats = stats if stats is not None else Stats()
        self._wake = asyncio.Event()
        self._gas_price = 0
        self._block_gas_limit = 30_000_000

    # ------------------------------------------------------------------ start and recovery

    def reset(self) -> None:
        """Forgets everything in memory: the lease moved to another replica, which resumes
        this work from the database (nothing of it is written from here any more)."""
        held: list[Item | Accepted | AcceptedPayment]
        held = [p for queue in self.waiting.values() for p in queue.values()]
        held += [p for queue in self.payment_waiting.values() for p in queue.values()]
        held += [p for batch in self.in_flight.values() for p in batch.items]
        while not self.accepted.empty():
            held.append(self.accepted.get_nowait())
        for p in held:
            self.nonces.release(p.signer, p.nonce, used=False, rid=p.id)
            self.intake.known.pop(p.id, None)
        self.waiting.clear()
        self.payment_waiting.clear()
        self.next_send.clear()
        self.in_flight.clear()
        self.sending.clear()
        for key in self.keys:
            key.in_flight = 0

    async def start(self) -> None:
        """Resends what a previous run left in flight, then takes up queued requests."""
        key_address = self.keys[0].address
        for batch in await asyncio.to_thread(self.store.pending_batches, key_address):
            with contextlib.suppress(RpcError, NodeUnavailableError):
                await self.rpc.call("eth_sendRawTransaction", ["0x" + batch.raw.hex()])
            key = self._key_by_address(batch.relayer)
            items = [self._recovered(r) for r in await self._load(batch.request_ids)]
            kind = PAYMENT if any(isinstance(p, PendingPayment) for p in items) else FORWARD
            self.in_flight[batch.tx_hash] = InFlight(
                batch.tx_hash, key, batch.raw, items, time.time(), kind
            )
            key.in_flight += 1
            for p in items:
                self._mark_sent(p)
                self.sending[p.signer] += 1
        in_batches = {p.id for b in self.in_flight.values() for p in b.items}
        for stored in await asyncio.to_thread(self.store.unfinished, self.shard):
            if stored.id not in in_batches:
                self._enqueue(self._recovered(stored))
        for key in self.keys:
            key.nonce = int(
                str(await self.rpc.call("eth_getTransactionCount", [key.address, "pending"])), 16
            )
        await self._refresh_gas()

    async def _load(self, ids: list[str]) -> list[StoredRequest]:
        loaded = []
        for rid in ids:
            stored = await asyncio.to_thread(self.store.get, rid)
            if stored is not None:
                loaded.append(stored)
        return loaded

    def _recovered(self, stored: StoredRequest) -> Item:
        if stored.kind == PAYMENT:
            payment = PendingPayment.from_calldata(
                stored.id, stored.target, stored.data, stored.created_at, stored.http_request_id
            )
            self.nonces.hold(payment.signer, payment.nonce, stored.id)
            self.intake.known[stored.id] = stored.status
            return payment
        request = ForwardRequest(
            from_=stored.signer,
            to=stored.target,
            value=0,
            gas=stored.gas,
            nonce=stored.nonce,
            deadline=stored.deadline,
            data=stored.data,
        )
        self.nonces.hold(stored.signer, stored.nonce, stored.id)
        self.intake.known[stored.id] = stored.status
        return Pending(
            stored.id,
            SignedRequest(request, stored.signature),
            stored.created_at,
            trace=stored.http_request_id,
        )

    # ------------------------------------------------------------------ loops

    async def run(self) -> None:
        await asyncio.gather(self._feed(), self._make_batches(), self._track(), self._adopt())

    async def _adopt(self) -> None:
        """Takes up the shard's requests stored by other replicas."""
        while True:
            await asyncio.sleep(self.settings.adopt_interval_s)
            try:
                await self.adopt()
            except Exception as exc:  # database busy or down: next round
                log.warning("shard %d: adoption poll failed: %s", self.shard, exc)

    async def adopt(self) -> int:
        known = self.intake.known
        ids = await asyncio.to_thread(self.store.queued_ids, self.shard)
        new = [rid for rid in ids if rid not in known and rid not in self._done]
        if not new:
            return 0
        adopted = 0
        for stored in await asyncio.to_thread(self.store.load, new):
            # Checked again: the intake or an earlier poll may have taken it meanwhile.
            if stored.status != "queued" or stored.id in known or stored.id in self._done:
                continue
            self._enqueue(self._recovered(stored))
            adopted += 1
        if adopted:
            self.stats.adopted += adopted
            self._wake.set()
        now = time.monotonic()
        for rid in [r for r, at in self._done.items() if now - at > 60]:
            del self._done[rid]
        return adopted

    async def _feed(self) -> None:
        while True:
            accepted = await self.accepted.get()
            if isinstance(accepted, AcceptedPayment):
                self._enqueue(
                    PendingPayment(
                        accepted.id, accepted.token, accepted.payment, accepted.signature,
                        accepted.created_at, simulated=accepted.simulated, trace=accepted.trace,
                    )
                )  # fmt: skip
            else:
                self._enqueue(
                    Pending(
                        accepted.id,
                        accepted.signed,
                        accepted.created_at,
                        simulated=accepted.simulated,
                        trace=accepted.trace,
                    )
                )
            if self._waiting_count() >= self.settings.batch_max_requests:
                self._wake.set()

    def _enqueue(self, p: Item) -> None:
        if isinstance(p, PendingPayment):
            self.payment_waiting[p.signer][p.nonce] = p
        else:
            self.waiting[p.signer][p.nonce] = p

    def _waiting_count(self) -> int:
        return sum(len(v) for v in self.waiting.values()) + sum(
            len(v) for v in self.payment_waiting.values()
        )

    async def _make_batches(self) -> None:
        interval = self.settings.batch_interval_ms / 1000
        last_gas_refresh = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if time.monotonic() - last_gas_refresh > 10:
                last_gas_refresh = time.monotonic()
                with contextlib.suppress(RpcError, NodeUnavailableError):
                    await self._refresh_gas()
            try:
                await self._send_ready()
            except NodeUnavailableError as exc:
                log.warning("node unavailable while batching: %s", exc)
            except Exception:
                log.exception("batching failed")

    async def _send_ready(self) -> None:
        await self._expire_waiting()
        for key in self.keys:
            while key.in_flight < self.settings.max_in_flight_batches:
                items = await self._take(key, self.settings.batch_max_requests)
                if not items:
                    break
                await self._send(key, items)
            while key.in_flight < self.settings.max_in_flight_batches:
                payments = await self._take_payments(key, self.settings.batch_max_requests)
                if not payments:
                    break
                calldata = batch_calldata(payments)
                gas = batch_gas(payments, calldata, self._block_gas_limit)
                await self._send_tx(key, list(payments), payments[0].token, calldata, gas, PAYMENT)

    async def _take(self, key: RelayerKey, limit: int) -> list[Pending]:
        """The next batch of ``key``: at most one request per signer (its next nonce, once
        nothing of that signer is in flight), each simulated against the current state unless
        intake already did, within the batch's byte cap."""
        taken: list[Pending] = []
        size = 4 + 64 + 32  # selector, offsets, array length
        for signer in list(self.waiting):
            if len(taken) >= limit:
                break
            if self.key_for(signer) is not key or self.sending.get(signer):
                continue
            queue = self.waiting[signer]
            n = await self._chain_nonce(signer)
            self.next_send[signer] = n
            p = queue.get(n)
            if p is None:
                continue  # parked behind a nonce gap
            if size + p.encoded_size > self.settings.batch_max_bytes and taken:
                break
            if not p.simulated and self.settings.simulate and not await self._simulate(p):
                continue
            taken.append(queue.pop(n))
            size += p.encoded_size
            self.next_send[signer] = n + 1
            # Round robin: a signer served goes to the back of the line, so one with a long
            # queue cannot keep the front of every batch from the others (issue 17).
            del self.waiting[signer]
            if queue:
                self.waiting[signer] = queue
        return taken

    async def _simulate(self, p: Pending) -> bool:
        """True when ``p`` may be sent; a request that would revert (or run out of its gas)
        ends failed here, unsent, and the signer's later requests end NonceGap."""
        r = p.signed.request
        try:
            revert = await self.view.simulate(r.from_, r.to, r.data, r.gas)
        except GasExhausted:
            code, args = "GasTooLow", dict[str, object](gas=r.gas)
        except (RpcError, NodeUnavailableError) as exc:
            log.warning("cannot simulate %s now: %s", p.id, exc)
            return False  # the node cannot say: try again next round
        else:
            if revert is None:
                p.simulated = True
                return True
            code, args = revert.name, dict(revert.args)
        queue = self.waiting.get(p.signer, {})
        later = sorted((q for q in queue.values() if q.nonce != p.nonce), key=lambda q: q.nonce)
        outcomes = [Outcome.failed(p.id, code, args)]
        for q in later:
            gap: dict[str, object] = {"nonce": q.nonce, "failed_nonce": p.nonce}
            outcomes.append(Outcome.failed(q.id, "NonceGap", gap))
        # Stored before memory lets go: a database error leaves them queued for next round.
        await asyncio.to_thread(self.store.fail_requests, outcomes)
        self.waiting.pop(p.signer, None)
        for q in (p, *later):
            self._finish(q, FAILED, used=False)
        self.stats.refused_unsent += len(outcomes)
        return False

    async def _chain_nonce(self, signer: str) -> int:
        n = self.nonces.chain_next.get(signer)
        if n is None:
            n = await self.view.forwarder_nonce(signer)
            self.nonces.see(signer, n)
        return n

    async def _expire_waiting(self) -> None:
        """A request stuck behind a missing nonce fails once its deadline has passed. The
        failure is stored first; memory forgets the request only once that succeeded (a
        locked database leaves it waiting, to expire on a later round)."""
        now = time.time()
        stale = [
            p
            for queue in self.payment_waiting.values()
            for p in queue.values()
            if p.deadline <= now
        ]
        if stale:
            await asyncio.to_thread(
                self.store.fail_requests,
                [
                    Outcome.failed(
                        q.id,
                        "VoucherSignedPaymentExpired",
                        {"payer": q.payment.payer, "deadline": q.deadline},
                    )
                    for q in stale
                ],
            )
            for gone in stale:
                payments = self.payment_waiting.get(gone.signer, {})
                payments.pop(gone.nonce, None)
                if not payments:
                    self.payment_waiting.pop(gone.signer, None)
                self._finish(gone, FAILED, used=False)
        expired: list[tuple[str, Pending]] = [
            (signer, p)
            for signer, queue in self.waiting.items()
            for p in queue.values()
            if p.signed.request.deadline <= now
        ]
        if not expired:
            return
        outcomes = [
            Outcome.failed(p.id, "RequestExpired", {"deadline": p.signed.request.deadline})
            for _, p in expired
        ]
        await asyncio.to_thread(self.store.fail_requests, outcomes)
        for signer, p in expired:
            queue = self.waiting.get(signer)
            if queue is not None:
                queue.pop(p.nonce, None)
                if not queue:
                    del self.waiting[signer]
            self._finish(p, FAILED, used=False)

    # ------------------------------------------------------------------ signed payments

    async def _take_payments(self, key: RelayerKey, limit: int) -> list[PendingPayment]:
        """The next payBySigBatch of ``key``: signed payments of one token (the first ready
        one's), at most one per payer (its next sequence, once nothing of it is in flight),
        each simulated unless intake already did."""
        taken: list[PendingPayment] = []
        token: str | None = None
        now = time.time()
        size = 4 + 64 + 64  # selector, two offsets, two array lengths
        for book_key in list(self.payment_waiting):
            if len(taken) >= limit:
                break
            if self.key_for(book_key) is not key or self.sending.get(book_key):
                continue
            queue = self.payment_waiting[book_key]
            first = next(iter(queue.values()))
            if token is not None and first.token != token:
                continue
            n = self.nonces.chain_next.get(book_key)
            if n is None:
                n = await self.view.payment_seq(first.token, first.payment.payer)
                self.nonces.see(book_key, n)
            p = queue.get(n)
            if p is None:
                # Below the sequence (paid by an earlier batch, or overtaken by a direct
                # payment): sent anyway, the token skips it and settlement reads which.
                below = [q for q in queue.values() if q.nonce < n]
                if not below:
                    continue  # parked behind a gap
                p = min(below, key=lambda q: q.nonce)
            elif not p.simulated and self.settings.simulate and not await self._simulate_payment(p):
                continue
            if p.deadline <= now:
                continue  # _expire_waiting ends it
            if p.alone and taken:
                continue  # retried in a batch of its own: the next one
            if size + encoded_size(p) > self.settings.batch_max_bytes and taken:
                break
            size += encoded_size(p)
            taken.append(queue.pop(p.nonce))
            token = p.token
            del self.payment_waiting[book_key]  # round robin, as _take
            if queue:
                self.payment_waiting[book_key] = queue
            if p.alone:
                break
        return taken

    async def _simulate_payment(self, p: PendingPayment) -> bool:
        """True when ``p`` may be sent; one the token refuses ends here, unsent, with the
        token's error (or succeeded, when the refusal is its own earlier payment), and the
        payer's later payments on the token end NonceGap."""
        try:
            revert = await self.view.simulate_payment(p.token, p.calldata)
        except (RpcError, NodeUnavailableError) as exc:
            log.warning("cannot simulate %s now: %s", p.id, exc)
            return False
        if revert is None:
            p.simulated = True
            return True
        outcome = await self._payment_outcome(p, revert.name, dict(revert.args), None, None)
        if outcome is None:
            return False  # ahead of the sequence: its turn has not come
        later = self._behind(p) if outcome.status == FAILED else []
        outcomes = [outcome, *_gap_outcomes(p, later)]
        await asyncio.to_thread(self.store.write_outcomes, outcomes)
        self._unwait([p, *later])
        self._finish(p, outcome.status, used=outcome.status == SUCCEEDED)
        for q in later:
            self._finish(q, FAILED, used=False)
        self.stats.refused_unsent += len(outcomes) - (outcome.status == SUCCEEDED)
        return False

    def _behind(self, p: PendingPayment) -> list[PendingPayment]:
        """The payer's payments on ``p``'s token waiting behind ``p``, in nonce order: a
        failed payment left the sequence at its nonce, so none of them can run."""
        queue = self.payment_waiting.get(p.signer, {})
        return sorted((q for q in queue.values() if q.nonce > p.nonce), key=lambda q: q.nonce)

    def _unwait(self, items: Sequence[PendingPayment]) -> None:
        for q in items:
            queue = self.payment_waiting.get(q.signer, {})
            queue.pop(q.nonce, None)
            if not queue:
                self.payment_waiting.pop(q.signer, None)

    async def _end_behind(self, failed: Sequence[PendingPayment]) -> None:
        """Payments waiting behind ones a batch ended failed end NonceGap at once, as the
        simulation path ends them (:meth:`_simulate_payment`), not parked until their
        deadline."""
        pairs = [(p, self._behind(p)) for p in failed]
        outcomes = [o for p, later in pairs for o in _gap_outcomes(p, later)]
        if not outcomes:
            return
        await asyncio.to_thread(self.store.fail_requests, outcomes)
        for _, later in pairs:
            self._unwait(later)
            for q in later:
                self._finish(q, FAILED, used=False)
        self.stats.refused_unsent += len(outcomes)

    async def _payment_outcome(
        self,
        p: PendingPayment,
        code: str,
        args: dict[str, object],
        tx_hash: str | None,
        block: int | None,
    ) -> Outcome | None:
        """How a payment the token refused (skipped in a batch, or in simulation) ends; None
        when it may still run (its nonce is ahead of the payer's sequence). A nonce refused
        as already used is this payment's own success when its Paid log is on chain: a
        batch resent or replaced after it mined must not be read as a failure."""
        if code == "VoucherInvalidPaymentNonce":
            expected = args.get("expected")
            seq = int(expected) if isinstance(expected, int | str) else p.nonce + 1
            self.nonces.see(p.signer, seq)
            if seq <= p.nonce:
                return None
            found = await self._paid_earlier(p)
            if found is not None:
                return Outcome.succeeded(p.id, *found)
        return Outcome.failed(p.id, code, args, tx_hash=tx_hash, block=block)

    async def _paid_earlier(self, p: PendingPayment) -> tuple[str, int] | None:
        """(tx hash, block) of this payment's own Paid log, if the token paid it already."""
        latest = int(str(await self.rpc.call("eth_blockNumber", [])), 16)

        def topic(address: str) -> str:
            return "0x" + "00" * 12 + address[2:].lower()

        payment = p.payment
        logs = await self.rpc.call(
            "eth_getLogs",
            [
                {
                    "address": p.token,
                    "fromBlock": hex(max(0, latest - PAID_LOOKBACK_BLOCKS)),
                    "toBlock": "latest",
                    "topics": [
                        list(PAID_TOPICS), topic(payment.payer), topic(payment.merchant),
                        "0x" + payment.payment_id.hex(),
                    ],
                }
            ],
        )  # fmt: skip
        for entry in logs if isinstance(logs, list) else []:
            if not isinstance(entry, dict) or not paid_log_matches(entry, payment):
                continue
            # The log must be this payment's own, not one that looks like it: a forwarded or
            # direct pay of the same payer, merchant, amount and paymentId (0 for a plain QR)
            # takes the same sequence and logs the same Paid, while this payment never ran
            # (the merchant would be short). Only a transaction carrying this payment's
            # signature (r||vs in its calldata, as payBySig and payBySigBatch carry it) can
            # have paid it; that race ends the payment failed VoucherInvalidPaymentNonce.
            tx = await self.rpc.call("eth_getTransactionByHash", [entry["transactionHash"]])
            if isinstance(tx, dict) and carries_signature(tx.get("input"), p.signature):
                return str(entry["transactionHash"]), int(str(entry["blockNumber"]), 16)
        return None

    async def _settle_payments(
        self, batch: InFlight, receipt: JSONObject, block: int, gas_used: int
    ) -> None:
        """Each payment of a mined payBySigBatch: paid (its Paid log), or skipped with the
        token's reason (SignedPaymentSkipped), read by :meth:`_payment_outcome`."""
        token = batch.items[0].token if isinstance(batch.items[0], PendingPayment) else ""
        paid, skipped = read_batch_logs(receipt, token)
        outcomes: list[Outcome] = []
        requeue: list[Item] = []
        for p in batch.items:
            assert isinstance(p, PendingPayment)  # a payment batch holds payments only
            key = (p.payment.payer.lower(), p.nonce)
            if key in paid:
                outcomes.append(Outcome.succeeded(p.id, batch.tx_hash, block))
                continue
            reason = skipped.get(key)
            outcome = None
            if reason == b"" and not p.alone:
                # An empty reason after passing simulation is most likely gas running out
                # inside the batch's try/catch: one retry alone, with room, before failing.
                p.alone = True
                requeue.append(p)
                continue
            if reason is not None:
                code, args = skip_reason(reason)
                outcome = await self._payment_outcome(p, code, args, batch.tx_hash, block)
            if outcome is None:
                requeue.append(p)
            else:
                outcomes.append(outcome)
        await self._close(batch, "mined", block, gas_used, outcomes, requeue)
        # A nonce refused because the sequence moved past it (another payment took it) leaves
        # the later ones runnable; any other failure leaves a gap.
        ended = {o.request_id for o in outcomes if o.status == FAILED}
        ended -= {o.request_id for o in outcomes if o.error_code == "VoucherInvalidPaymentNonce"}
        await self._end_behind(
            [p for p in batch.items if isinstance(p, PendingPayment) and p.id in ended]
        )

    def unfunded(self) -> list[str]:
        """Keys below the minimum balance, where gas has a price (none on a zero-gas chain)."""
        if self._gas_price == 0:
            return []
        floor = self.settings.relayer_min_balance_wei
        return [k.address for k in self.keys if k.balance is not None and k.balance < floor]

    def ready(self) -> bool:
        return len(self.unfunded()) < len(self.keys)

    def key_for(self, signer: str) -> RelayerKey:
        """The relayer key that sends every request of ``signer``: the shard's one key."""
        return self.keys[0]

    def _key_by_address(self, address: str) -> RelayerKey:
        for key in self.keys:
            if key.address == to_checksum_address(address):
                return key
        # A batch sent by a key no longer configured: track it with the first key's slot.
        return self.keys[0]

    async def _refresh_gas(self) -> None:
        price = int(str(await self.rpc.call("eth_gasPrice", [])), 16)
        # Headroom for a rising base fee; permissioned networks run at zero.
        self._gas_price = price * 3 // 2
        balances = await self.rpc.batch(
            ("eth_getBalance", [key.address, "latest"]) for key in self.keys
        )
        for key, balance in zip(self.keys, balances, strict=True):
            key.balance = int(str(balance), 16) if isinstance(balance, str) else None
        block = await self.rpc.call("eth_getBlockByNumber", ["latest", False])
        if isinstance(block, dict):
            self._block_gas_limit = int(str(block["gasLimit"]), 16)

    async def _send(self, key: RelayerKey, items: list[Pending]) -> None:
        calldata = encode_execute_batch([p.signed for p in items], key.address)
        forwarded = sum(p.signed.request.gas for p in items)
        gas = 21_000 + 16 * len(calldata) + 50_000 + len(items) * PER_REQUEST_OVERHEAD
        gas += forwarded * 64 // 63
        gas = min(gas, self._block_gas_limit)
        await self._send_tx(key, list(items), self.view.manifest.forwarder, calldata, gas, FORWARD)

    async def _send_tx(
        self, key: RelayerKey, items: list[Item], to: str, calldata: bytes, gas: int, kind: str
    ) -> None:
        tx: dict[str, object] = {
            "to": to,
            "data": calldata,
            "gas": gas,
            "gasPrice": self._gas_price,
            "nonce": key.nonce,
            "chainId": self.view.manifest.chain_id,
            "value": 0,
        }
        signed_tx = key.account.sign_transaction(tx)  # type: ignore[arg-type]
        tx_hash = "0x" + bytes(signed_tx.hash).hex()
        raw = bytes(signed_tx.raw_transaction)
        batch = StoredBatch(
            tx_hash, key.address, key.nonce, raw, [p.id for p in items], time.time()
        )
        try:
            await asyncio.to_thread(self.store.record_batch, batch)
        except Exception:
            # Not recorded, so never sent: its requests go back in line and the key keeps its
            # nonce. A locked database used to strand them here, `queued` for ever (item 9).
            for p in items:
                self._enqueue(p)
            raise
        key.nonce += 1
        key.in_flight += 1
        batch_in_flight = InFlight(tx_hash, key, raw, items, time.time(), kind)
        self.in_flight[tx_hash] = batch_in_flight
        for p in items:
            self.sending[p.signer] += 1
        for p in items:
            self.intake.known[p.id] = "submitted"
        self.stats.batches_sent += 1
        self.stats.requests_sent += len(items)
        BATCH_SIZE.observe(len(items))
        log.info(
            "%s batch %s with %d requests stored, sending", kind, tx_hash, len(items),
            extra={
                "tx_hash": tx_hash, "relayer": key.address, "tx_nonce": batch.relayer_nonce,
                "request_ids": [p.trace for p in items if p.trace is not None],
                "relay_request_ids": [p.id for p in items],
            },
        )  # fmt: skip
        try:
            await self.rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()])
        except RpcError as exc:
            message = exc.message.lower()
            if "already" in message or "known" in message:
                return
            # Refused (too large, under-priced, a nonce the key no longer has...): it will
            # never mine. Its key nonce is free again and its requests go back in line, so no
            # refusal of the node can wedge a key or strand a request.
            log.warning("batch %s refused by the node (%s); requeueing", tx_hash, exc.message)
            self.stats.dropped += 1
            key.nonce = int(
                str(await self.rpc.call("eth_getTransactionCount", [key.address, "pending"])), 16
            )
            await self._close(batch_in_flight, "dropped", None, None, [], list(items))
        except NodeUnavailableError as exc:
            log.warning("batch %s stored, node unavailable (will resend): %s", tx_hash, exc)

    def _mark_sent(self, p: Item) -> None:
        self.next_send[p.signer] = max(self.next_send.get(p.signer, 0), p.nonce + 1)

    # ------------------------------------------------------------------ tracking

    async def _track(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            if not self.in_flight:
                continue
            try:
                await self._poll()
            except NodeUnavailableError as exc:
                log.warning("node unavailable while tracking: %s", exc)
            except Exception:
                log.exception("tracking failed")

    async def _poll(self) -> None:
        batches = list(self.in_flight.values())
        receipts = await self.rpc.batch(("eth_getTransactionReceipt", [b.tx_hash]) for b in batches)
        now = time.time()
        for batch, receipt in zip(batches, receipts, strict=True):
            if isinstance(receipt, dict):
                await self._settle(batch, receipt)
            elif now - batch.last_sent > self.settings.resubmit_after_s:
                await self._resend(batch)
        if self._waiting_count():
            self._wake.set()

    async def _resend(self, batch: InFlight) -> None:
        batch.last_sent = time.time()
        self.stats.resent += 1
        try:
            await self.rpc.call("eth_sendRawTransaction", ["0x" + batch.raw.hex()])
        except RpcError as exc:
            message = exc.message.lower()
            if "already" in message or "known" in message:
                return
            if "nonce" in message:
                # The key's nonce went to another transaction: this batch will never mine.
                log.warning("batch %s dropped (%s); requeueing", batch.tx_hash, exc.message)
                self.stats.dropped += 1
                await self._close(batch, "dropped", None, None, [], list(batch.items))
                return
            raise

    async def _settle(self, batch: InFlight, receipt: JSONObject) -> None:
        block = int(str(receipt["blockNumber"]), 16)
        gas_used = int(str(receipt["gasUsed"]), 16)
        self.stats.gas_used += gas_used
        log.info(
            "batch %s mined in block %d", batch.tx_hash, block,
            extra={"tx_hash": batch.tx_hash, "block": block, "gas_used": gas_used,
                   "tx_status": int(str(receipt["status"]), 16)},
        )  # fmt: skip
        if int(str(receipt["status"]), 16) != 1:
            await self._close(batch, "mined", block, gas_used, [], list(batch.items))
            return
        if batch.kind == PAYMENT:
            await self._settle_payments(batch, receipt, block, gas_used)
            return
        executed: dict[tuple[str, int], bool] = {}
        forwarder = self.view.manifest.forwarder.lower()
        logs = receipt.get("logs")
        for entry in logs if isinstance(logs, list) else []:
            if not isinstance(entry, dict) or str(entry.get("address", "")).lower() != forwarder:
                continue
            topics = entry.get("topics")
            if not isinstance(topics, list) or not topics or topics[0] != EXECUTED_TOPIC:
                continue
            signer = to_checksum_address("0x" + str(topics[1])[-40:])
            data = bytes.fromhex(str(entry["data"])[2:])
            executed[(signer, int.from_bytes(data[:32], "big"))] = data[63] == 1
        outcomes: list[Outcome] = []
        requeue: list[Item] = []
        failed_calls: list[Pending] = []
        for p in batch.items:
            assert isinstance(p, Pending)  # a forwarder batch holds forwarder requests only
            success = executed.get((p.signer, p.nonce))
            if success is True:
                outcomes.append(Outcome.succeeded(p.id, batch.tx_hash, block))
            elif success is False:
                failed_calls.append(p)
            else:
                outcome = await self._skipped(p, batch.tx_hash, block)
                if outcome is None:
                    requeue.append(p)
                else:
                    outcomes.append(outcome)
        if failed_calls:
            outcomes.extend(await self._decode_failures(batch, block, executed, failed_calls))
        await self._close(batch, "mined", block, gas_used, outcomes, requeue)

    async def _skipped(self, p: Pending, tx_hash: str, block: int) -> Outcome | None:
        """The forwarder skipped the request (invalid when its turn came). Decide whether it
        may run later (None: requeue) or has ended."""
        if p.signed.request.deadline <= time.time():
            return Outcome.failed(
                p.id,
                "RequestExpired",
                {"deadline": p.signed.request.deadline},
                tx_hash=tx_hash,
                block=block,
            )
        chain_next = await self.view.forwarder_nonce(p.signer)
        self.nonces.see(p.signer, chain_next)
        self.next_send[p.signer] = min(self.next_send.get(p.signer, chain_next), chain_next)
        if chain_next > p.nonce:
            return Outcome.failed(
                p.id,
                "NonceTooLow",
                {"nonce": p.nonce, "next": chain_next},
                tx_hash=tx_hash,
                block=block,
            )
        if p.attempts + 1 >= MAX_ATTEMPTS:
            return Outcome.failed(
                p.id, "ForwarderSkipped", {"attempts": p.attempts + 1}, tx_hash=tx_hash, block=block
            )
        return None

    async def _decode_failures(
        self,
        batch: InFlight,
        block: int,
        executed: dict[tuple[str, int], bool],
        failed: list[Pending],
    ) -> list[Outcome]:
        """Each failed call's custom error, from the transaction's call trace (the forwarder
        makes one CALL per executed request, in order); a node without `debug_traceTransaction`
        gets a re-simulation instead."""
        order = [p for p in batch.items if (p.signer, p.nonce) in executed]
        outputs: dict[str, bytes] = {}
        try:
            trace = await self.rpc.call(
                "debug_traceTransaction", [batch.tx_hash, {"tracer": "callTracer"}]
            )
            children = trace.get("calls") if isinstance(trace, dict) else None
            calls = [
                c
                for c in (children if isinstance(children, list) else [])
                if isinstance(c, dict) and c.get("type") == "CALL"
            ]
            for p, call in zip(order, calls, strict=False):
                if call.get("error"):
                    outputs[p.id] = bytes.fromhex(str(call.get("output", "0x"))[2:])
        except (RpcError, ValueError):
            pass
        outcomes = []
        for p in failed:
            data = outputs.get(p.id)
            if data is None:
                revert = await self.view.simulate(
                    p.signer, p.signed.request.to, p.signed.request.data
                )
                name, args = (revert.name, revert.args) if revert else ("ForwardedCallFailed", {})
            else:
                decoded = decode_revert(data)
                name, args = decoded.name, decoded.args
            outcomes.append(
                Outcome.failed(p.id, name, dict(args), tx_hash=batch.tx_hash, block=block)
            )
        return outcomes

    async def _close(
        self,
        batch: InFlight,
        status: str,
        block: int | None,
        gas_used: int | None,
        outcomes: list[Outcome],
        requeue: list[Item],
    ) -> None:
        await asyncio.to_thread(
            self.store.finish_batch,
            batch.tx_hash,
            status=status,
            block_number=block,
            gas_used=gas_used,
            outcomes=outcomes,
            requeued=[p.id for p in requeue],
        )
        self.in_flight.pop(batch.tx_hash, None)
        batch.key.in_flight -= 1
        for p in batch.items:
            self.sending[p.signer] -= 1
            if self.sending[p.signer] <= 0:
                del self.sending[p.signer]
        by_id = {p.id: p for p in batch.items}
        for o in outcomes:
            p = by_id[o.request_id]
            # A failed call used its nonce; an expired or skipped request did not, nor did a
            # signed payment that failed (the token skipped it: its sequence did not move).
            used = o.status == SUCCEEDED or (
                isinstance(p, Pending)
                and o.tx_hash is not None
                and o.error_code not in ("RequestExpired", "NonceTooLow", "ForwarderSkipped")
            )
            self._finish(p, o.status, used=used)
        exhausted = [p for p in requeue if p.attempts + 1 >= MAX_ATTEMPTS]
        if exhausted:  # requeued batch after batch: end them rather than burn gas for ever
            outcomes = [await self._exhausted(p) for p in exhausted]
            await asyncio.to_thread(self.store.write_outcomes, outcomes)
            for p, o in zip(exhausted, outcomes, strict=True):
                self._finish(p, o.status, used=o.status == SUCCEEDED)
        requeue = [p for p in requeue if p.attempts + 1 < MAX_ATTEMPTS]
        for p in requeue:
            p.attempts += 1
            p.simulated = False  # the state moved on: simulate again before resending
            self.stats.requeued += 1
            self.intake.known[p.id] = "queued"
            self._enqueue(p)
            # The request did not run: its nonce (and every later one) is to be sent again.
            self.next_send[p.signer] = min(self.next_send.get(p.signer, p.nonce), p.nonce)
        if requeue:
            self._wake.set()

    async def _exhausted(self, p: Item) -> Outcome:
        """How a request requeued too often ends. A signed payment may have been paid by a
        transaction this batcher did not read as its own (its signature submitted by someone
        else): looked for first, and otherwise ends with the token's code for it, not the
        forwarder's."""
        attempts: dict[str, object] = {"attempts": p.attempts + 1}
        if isinstance(p, Pending):
            return Outcome.failed(p.id, "ForwarderSkipped", attempts)
        found = await self._paid_earlier(p)
        if found is not None:
            return Outcome.succeeded(p.id, *found)
        return Outcome.failed(p.id, "PaymentSkipped", attempts | {"nonce": p.nonce})

    def _finish(self, p: Item, status: str, *, used: bool) -> None:
        self.nonces.release(p.signer, p.nonce, used=used, rid=p.id)
        self.intake.known.pop(p.id, None)
        self._done[p.id] = time.monotonic()
        self.intake.admission.finished(1)
        if status == SUCCEEDED:
            self.stats.succeeded += 1
            _FINAL_SUCCEEDED.observe(time.time() - p.created_at)
        else:
            self.stats.failed += 1
            _FINAL_FAILED.observe(time.time() - p.created_at)


def _gap_outcomes(failed: PendingPayment, later: Sequence[PendingPayment]) -> list[Outcome]:
    """NonceGap for each payment waiting behind ``failed``."""
    return [
        Outcome.failed(q.id, "NonceGap", {"nonce": q.nonce, "failed_nonce": failed.nonce})
        for q in later
    ]
