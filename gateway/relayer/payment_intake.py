"""Accepting a token-native signed payment (``payBySig``, issue 17): the intake's checks for
the second request kind, sharing the intake's rate limits, admission, group-commit writer,
nonce book and routing.

Checks, cheapest first: schema; the token is a municipal one; deadline (not past, not too far
ahead); the EIP-712 signature recovers the payer; duplicate; rate limit; payer registered and not
frozen; nonce equal to the payer's next payment sequence on that token, counting the payer's
payments there held in flight (the :class:`~gateway.relayer.intake.NonceBook`, keyed by
:func:`payment_key`, which no forwarder signer can collide with); simulation (``eth_call`` of
``payBySig``) when it is next in line. Refusals carry the token's own custom errors where the
token would refuse the same way (one error table: ``gateway.errors``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chain.protocol.errors import ContractRevert
from chain.protocol.forwarder import ForwarderDomain, InvalidSignatureError, RequestFormatError
from chain.protocol.signed_payments import (
    PAY_BY_SIG_SELECTOR,
    PaymentSignature,
    SignedPayment,
    encode_pay_by_sig,
    payment_from_json,
    payment_request_id,
    token_domain,
    verify_payment,
)
from chain.rpc import NodeUnavailableError, RpcError
from gateway.db.tables.relayer import PAYMENT, QUEUED
from gateway.errors import GatewayError
from gateway.observability.logs import REQUEST_ID
from gateway.relayer.store import NonceTakenError, queued_columns

if TYPE_CHECKING:
    from gateway.relayer.intake import Intake

__all__ = ["AcceptedPayment", "PaymentIntake", "payment_key"]


def payment_key(token: str, payer: str) -> str:
    """The NonceBook key of a payer's payment sequence on a token: the payer's address first
    (``gateway.relayer.shards`` shards it with the payer's forwarder requests), then the token;
    never a plain address, so it cannot collide with a forwarder signer's key."""
    return f"{payer}/{token}"


@dataclass
class AcceptedPayment:
    """A signed payment that passed every check, on its way to the database and the batcher."""

    id: str
    token: str
    payment: SignedPayment
    signature: PaymentSignature
    created_at: float
    future: asyncio.Future[None] = field(repr=False)
    shard: int = 0
    held: bool = True
    simulated: bool = False
    trace: str | None = None

    @property
    def signer(self) -> str:
        """Its NonceBook key (:func:`payment_key`)."""
        return payment_key(self.token, self.payment.payer)

    @property
    def nonce(self) -> int:
        return self.payment.nonce

    def row(self, chain_id: int) -> dict[str, object]:
        p = self.payment
        return {
            "id": self.id,
            "chain_id": chain_id,
            "signer": p.payer,
            "target": self.token,
            "selector": "0x" + PAY_BY_SIG_SELECTOR.hex(),
            "nonce": p.nonce,
            "deadline": p.deadline,
            "gas": 0,  # the relayer's: a signed payment grants no gas of its own
            "data": encode_pay_by_sig(p, self.signature),
            "signature": self.signature.compact,
            **queued_columns(self.created_at, self.trace, self.shard),
            "kind": PAYMENT,
            "nonce_scope": self.token,
        }


class PaymentIntake:
    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self._domains: dict[str, ForwarderDomain] = {}

    def domain(self, token: str) -> ForwarderDomain:
        domain = self._domains.get(token)
        if domain is None:
            domain = token_domain(self.intake.view.manifest.chain_id, token)
            self._domains[token] = domain
        return domain

    async def check(self, body: object) -> tuple[str, str, bool]:
        """Validates and persists one signed payment; returns (id, status, newly accepted)."""
        intake, settings = self.intake, self.intake.settings
        token, payment, signature = _parse(body)
        payer = payment.payer
        await self.require_token(token)
        now = time.time()
        if payment.deadline < now + settings.min_deadline_margin_s:
            raise GatewayError(
                "VoucherSignedPaymentExpired",
                "deadline has passed or is too close to relay",
                {"payer": payer, "deadline": payment.deadline},
            )
        if payment.deadline > now + settings.max_deadline_s:
            raise GatewayError(
                "DeadlineTooFar",
                f"deadline is more than {settings.max_deadline_s} s ahead",
                {"deadline": payment.deadline, "max": int(now) + settings.max_deadline_s},
            )
        domain = self.domain(token)
        try:
            verify_payment(domain, payment, signature)
        except InvalidSignatureError as exc:
            raise GatewayError(
                "VoucherInvalidPaymentSignature", str(exc), {"payer": payer}
            ) from None
        rid = payment_request_id(domain, payment, signature)
        status = intake.known.get(rid)
        if status is not None:
            return rid, status, False  # the same payment again: same id, paid at most once
        if not intake.rate.allow(payer, now):
            raise GatewayError(
                "RateLimited",
                "too many requests from this signer",
                {"signer": payer, "retry_after": round(intake.rate.retry_after(payer, now), 3)},
            )
        # The payer's sequence and the payment's simulation, asked now, in the same turn of
        # the loop as the identity check: AsyncRpc sends the three eth_calls as one JSON-RPC
        # batch, one round trip instead of three in a row (bench_relay --signed: 20/s
        # accepted, 2.7 s p50, with them in a row against a busy node).
        calldata = encode_pay_by_sig(payment, signature)
        seq = asyncio.create_task(intake.view.payment_seq(token, payer))
        trial = None
        if settings.simulate:
            trial = asyncio.create_task(intake.view.simulate_payment(token, calldata))
        try:
            return await self._on_chain(rid, token, payment, signature, calldata, now, seq, trial)
        finally:
            for task in (seq, trial):
                if task is not None and not task.done():
                    task.cancel()  # refused before it was needed
                elif task is not None and not task.cancelled():
                    task.exception()  # retrieved: an unread failure would be logged as a bug

    async def _on_chain(
        self,
        rid: str,
        token: str,
        payment: SignedPayment,
        signature: PaymentSignature,
        calldata: bytes,
        now: float,
        seq: asyncio.Task[int],
        trial: asyncio.Task[ContractRevert | None] | None,
    ) -> tuple[str, str, bool]:
        intake, settings, payer = self.intake, self.intake.settings, payment.payer
        await intake._check_signer(payer, "pay")
        if intake.nonces.held() >= settings.max_held_requests:
            raise GatewayError("RelayerBusy", "the relayer holds as many requests as it may")
        if not intake.router.ready():
            raise GatewayError("NotReady", "no relayer key has funds for gas (see /readyz)")
        shard = intake.router.shard_of(payer)
        key = payment_key(token, payer)
        loop = asyncio.get_running_loop()
        held = intake.router.owns(shard)
        async with intake._lock(key):
            # From memory when this replica relays the payer; read again from the chain when
            # memory disagrees (a payment the payer made directly moved the sequence).
            expected = intake.nonces.next_free(key) if held else None
            if expected != payment.nonce:
                expected = await self.expected(token, payer, held=held, seq=seq)
            if expected != payment.nonce:  # the read asked ahead may predate a batch since
                expected = await self.expected(token, payer, held=held)
            if payment.nonce != expected:
                stored = await asyncio.to_thread(intake.store.get, rid)
                if stored is not None:  # already stored: its state, not the nonce error
                    return rid, stored.status, False
                raise _bad_nonce(payer, expected, payment.nonce)
            # Bounded as a forwarder signer's pipeline (Intake: NonceTooHigh): each payment
            # takes the next free sequence, so without it one payer holds as many as the rate
            # limit lets in, drained one a batch, and max_held_requests and NonceBook._recount
            # (O(pipeline)) assume the bound.
            from gateway.relayer.intake import MAX_PIPELINE  # a cycle at import time

            base = intake.nonces.chain_next.get(key) if held else await _read(seq)
            if base is not None and payment.nonce > base + MAX_PIPELINE:
                raise GatewayError(
                    "NonceTooHigh", "nonce too far ahead", {"nonce": payment.nonce, "next": base}
                )
            simulated = settings.simulate and (
                not held or not intake.nonces.in_flight.get(key)  # next in line
            )
            if simulated:
                await self._simulate(token, calldata, await _ran_next(seq, trial, payment.nonce))
            accepted = AcceptedPayment(
                rid, token, payment, signature, now, loop.create_future(), shard=shard,
                held=held, simulated=simulated, trace=REQUEST_ID.get(),
            )  # fmt: skip
            if held:
                intake.nonces.hold(key, payment.nonce, rid)
                intake.known[rid] = QUEUED
            await intake._to_write.put(accepted)
        try:
            await accepted.future
        except Exception as exc:
            if held:
                intake.nonces.release(key, payment.nonce, used=False, rid=rid)
                intake.known.pop(rid, None)
            if isinstance(exc, NonceTakenError):  # another live request holds the nonce
                raise _bad_nonce(payer, expected, payment.nonce) from None
            raise GatewayError("DatabaseUnavailable", "the request could not be stored") from None
        if held:
            intake.router.route(accepted)
        return rid, QUEUED, True

    async def require_token(self, token: str) -> None:
        """Refuses (TargetNotAllowed) an address that is not a city token of this network."""
        try:
            municipal = await self.intake.view.is_municipal_token(token)
        except (NodeUnavailableError, RpcError) as exc:
            raise GatewayError("NodeUnavailable", str(exc)) from None
        if not municipal:
            raise GatewayError(
                "TargetNotAllowed", "token is not a municipal voucher token", {"to": token}
            )

    async def expected(
        self, token: str, payer: str, *, held: bool, seq: asyncio.Task[int] | None = None
    ) -> int:
        """The nonce the payer's next payment on ``token`` must carry: the chain's sequence
        (``seq``: read already) past the ones held in flight here (or stored, for a shard
        another replica relays)."""
        nonces, key = self.intake.nonces, payment_key(token, payer)
        try:
            seq_now = await (seq or self.intake.view.payment_seq(token, payer))
        except (NodeUnavailableError, RpcError) as exc:
            raise GatewayError("NodeUnavailable", str(exc)) from None
        if held:
            # Never backwards: ``seq`` may have been read before the lock, and a batch
            # settled since moved the sequence memory holds past it.
            seq_now = max(seq_now, nonces.chain_next.get(key, seq_now))
            nonces.see(key, seq_now)
            return nonces.next_free(key) or seq_now
        store = self.intake.store
        taken = set(await asyncio.to_thread(store.live_nonces, payer, seq_now, token))
        while seq_now in taken:
            seq_now += 1
        return seq_now

    async def _simulate(
        self, token: str, calldata: bytes, trial: asyncio.Task[ContractRevert | None] | None
    ) -> None:
        """Raises the token's error if the payment would revert; ``trial``: the same
        simulation asked ahead on a state where the payment was the payer's next."""
        try:
            revert = await (trial or self.intake.view.simulate_payment(token, calldata))
        except (NodeUnavailableError, RpcError) as exc:
            raise GatewayError("NodeUnavailable", f"cannot simulate: {exc}") from None
        if revert is not None:
            raise GatewayError(revert.name, f"the payment would revert: {revert}", revert.args)


async def _ran_next(
    seq: asyncio.Task[int], trial: asyncio.Task[ContractRevert | None] | None, nonce: int
) -> asyncio.Task[ContractRevert | None] | None:
    """The simulation asked ahead, if the sequence read with it says it ran on a state where
    ``nonce`` was the payer's next, else None: simulate now."""
    try:
        ran_at = await seq
    except (NodeUnavailableError, RpcError):
        return None
    return trial if ran_at == nonce else None


async def _read(seq: asyncio.Task[int]) -> int | None:
    """The payer's sequence read ahead, or None when the node could not say."""
    try:
        return await seq
    except (NodeUnavailableError, RpcError):
        return None


def _bad_nonce(payer: str, expected: int, given: int) -> GatewayError:
    return GatewayError(
        "VoucherInvalidPaymentNonce",
        "the nonce is not the payer's next payment sequence on this token",
        {"payer": payer, "expected": expected, "given": given},
    )


def _parse(body: object) -> tuple[str, SignedPayment, PaymentSignature]:
    if not isinstance(body, Mapping):
        raise GatewayError("InvalidRequest", "body must be a JSON object")
    try:
        return payment_from_json(body)
    except RequestFormatError as exc:
        raise GatewayError("InvalidRequest", str(exc), {"field": exc.field_name}) from None
    except InvalidSignatureError as exc:
        raise GatewayError("InvalidRequest", str(exc), {"field": "signature"}) from None
