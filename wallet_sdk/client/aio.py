"""The asyncio client: :class:`AsyncDongneClient` drives the shared operations with
``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Self, TypeVar, cast

import httpx

from chain.protocol.calls import (
    PaymentRecord,
    encode_cancel_payment,
    encode_claim,
    encode_gift,
    encode_redeem,
    encode_refund,
)
from chain.protocol.forwarder import SignedRequest
from wallet_sdk.client.models import (
    Balances,
    HistoryPage,
    NetworkInfo,
    PaymentSubmission,
    PocketChoice,
    ProgramInfo,
    RequestState,
    Submission,
)
from wallet_sdk.client.operations import (
    DEFAULT_DEADLINE_S,
    DEFAULT_GAS,
    ClientBase,
    Op,
    Sleep,
    request_id_of,
    transport_error,
)
from wallet_sdk.exceptions.base import TransportError
from wallet_sdk.keys import LocalKey
from wallet_sdk.qr import PaymentRequest

__all__ = ["AsyncDongneClient"]

_T = TypeVar("_T")


class AsyncDongneClient(ClientBase):
    """The asyncio twin of :class:`DongneClient`: the same methods, awaited."""

    def __init__(
        self,
        gateway_url: str,
        key: LocalKey,
        *,
        gas: int = DEFAULT_GAS,
        deadline_s: int = DEFAULT_DEADLINE_S,
        timeout: float = 10.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        poll_interval_s: float = 0.2,
        network: NetworkInfo | None = None,
        chain_id: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            key,
            gas=gas,
            deadline_s=deadline_s,
            retries=retries,
            backoff_s=backoff_s,
            poll_interval_s=poll_interval_s,
            network=network,
            chain_id=chain_id,
        )
        self._http = httpx.AsyncClient(base_url=gateway_url, timeout=timeout, transport=transport)

    async def _run(self, op: Op[_T]) -> _T:
        try:
            return await self._drive(op)
        finally:
            op.close()  # on cancellation, lets the operation give back its nonce

    async def _drive(self, op: Op[_T]) -> _T:
        reply: httpx.Response | None = None
        error: TransportError | None = None
        while True:
            effect, result = self._step(op, reply, error)
            reply, error = None, None
            if effect is None:
                return cast(_T, result)
            if isinstance(effect, Sleep):
                await asyncio.sleep(effect.seconds)
                continue
            try:
                reply = await self._http.request(
                    effect.method,
                    effect.path,
                    params=effect.params,
                    content=effect.body,
                    headers=effect.headers(),
                )
            except httpx.HTTPError as exc:
                error = transport_error(exc)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def network(self) -> NetworkInfo:
        return await self._run(self._ops.network())

    async def login(self) -> str:
        return await self._run(self._ops.login())

    async def logout(self) -> None:
        await self._run(self._ops.logout())

    async def next_nonce(self) -> int:
        return await self._run(self._ops.next_nonce())

    async def prepare(
        self,
        to: str,
        data: bytes,
        *,
        nonce: int | None = None,
        deadline: int | None = None,
        gas: int | None = None,
    ) -> SignedRequest:
        return await self._run(self._ops.prepare(to, data, nonce=nonce, deadline=deadline, gas=gas))

    async def submit_signed(self, signed: SignedRequest) -> Submission:
        return await self._run(self._ops.submit_signed(signed))

    async def pay(
        self,
        token: str,
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None = None,
        pockets: PocketChoice = "auto",
    ) -> PaymentSubmission:
        return await self._run(
            self._ops.pay(token, merchant, amount, payment_id=payment_id, pockets=pockets)
        )

    async def pay_invoice(
        self, invoice: PaymentRequest, *, amount: int | None = None, pockets: PocketChoice = "auto"
    ) -> PaymentSubmission:
        return await self._run(self._ops.pay_invoice(invoice, amount=amount, pockets=pockets))

    async def gift(self, token: str, to: str, amount: int) -> Submission:
        return await self._run(self._ops.send(token, encode_gift(to, amount)))

    async def claim(
        self, token: str, program_id: int, index: int, amount: int, proof: Sequence[bytes | str]
    ) -> Submission:
        data = encode_claim(program_id, index, amount, proof)
        return await self._run(self._ops.send(token, data))

    async def claim_and_pay(
        self,
        token: str,
        program_id: int,
        index: int,
        grant_amount: int,
        proof: Sequence[bytes | str],
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None = None,
        pockets: PocketChoice = "auto",
    ) -> PaymentSubmission:
        return await self._run(
            self._ops.claim_and_pay(
                token,
                program_id,
                index,
                grant_amount,
                proof,
                merchant,
                amount,
                payment_id=payment_id,
                pockets=pockets,
            )
        )

    async def redeem(self, token: str, amount: int, ref: bytes | str) -> Submission:
        return await self._run(self._ops.send(token, encode_redeem(amount, ref)))

    async def cancel_payment(self, token: str, record: PaymentRecord) -> Submission:
        return await self._run(self._ops.send(token, encode_cancel_payment(record)))

    async def refund(self, token: str) -> Submission:
        return await self._run(self._ops.send(token, encode_refund()))

    async def balances(self, token: str | None = None) -> Balances:
        return await self._run(self._ops.balances(token))

    async def history(
        self, cursor: str | None = None, limit: int = 50, *, token: str | None = None
    ) -> HistoryPage:
        return await self._run(self._ops.history(cursor, limit, token))

    async def program(self, token: str, program_id: int) -> ProgramInfo:
        return await self._run(self._ops.program(token, program_id))

    async def status(self, request: str | Submission) -> RequestState:
        return await self._run(self._ops.status(request_id_of(request)))

    async def wait(self, request: str | Submission, timeout: float = 60.0) -> RequestState:
        return await self._run(self._ops.wait(request_id_of(request), timeout))
