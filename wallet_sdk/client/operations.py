"""Everything the clients do, written once as generators of effects.

Each operation yields what it needs from the outside world (an HTTP exchange or a pause) and
is sent the answer; :mod:`~wallet_sdk.client.sync` and :mod:`~wallet_sdk.client.aio` only drive
those generators with their own I/O. Retries, nonce bookkeeping, the choice of pockets and the
mapping of problems to exceptions therefore behave the same in both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import secrets
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeVar, cast
from urllib.parse import quote

import httpx

from chain.protocol.calls import encode_claim_and_pay, encode_pay, encode_pay_through_platform
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    SignedRequest,
    request_digest,
    request_id,
    signed_request_to_json,
)
from chain.protocol.signed_payments import (
    PaymentSignature,
    SignedPayment,
    payment_digest,
    payment_request_id,
    payment_to_json,
    token_domain,
)
from wallet_sdk.client.fields import Fields
from wallet_sdk.client.models import (
    Balances,
    HistoryPage,
    Invoice,
    InvoiceStatus,
    NetworkInfo,
    PaymentSubmission,
    Pocket,
    PocketChoice,
    ProgramInfo,
    RequestState,
    SignedPaymentSubmission,
    Submission,
    order_pockets,
    parse_invoices,
)
from wallet_sdk.client.purchases import (
    PurchaseOrder,
    parse_purchase_order,
    parse_purchase_orders,
)
from wallet_sdk.client.registry import (
    DirectoryPage,
    MerchantApplication,
    MerchantProfile,
    parse_directory,
    parse_profile,
)
from wallet_sdk.client.signin import siwe_message
from wallet_sdk.client.wire import (
    parse_balances,
    parse_history,
    parse_network,
    parse_program,
    parse_state,
    problem_error,
    read_json,
)
from wallet_sdk.exceptions import (
    AuthExpired,
    AuthInvalid,
    NonceConflict,
    NonceError,
    NonceTooLow,
    NotFound,
    ProgramAlreadyClosed,
    ProgramCategoryNotAllowed,
    ProgramExpired,
    ProgramNotStarted,
    ProgramUnknown,
    VoucherInvalidPaymentNonce,
    WrongChain,
)
from wallet_sdk.exceptions.base import (
    DongneError,
    GatewayUnavailableError,
    InvoiceExpiredError,
    TransportError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from wallet_sdk.keys import LocalKey
from wallet_sdk.qr import PaymentRequest

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_GAS",
    "ClientBase",
    "Http",
    "Op",
    "Operations",
    "Sleep",
    "request_id_of",
    "sign_forward_request",
    "transport_error",
]

DEFAULT_GAS: Final = 300_000
"""Gas limit signed into requests: a relayed payment's call uses about 100k, a claimAndPay with
a 20-deep proof about 170k; gateways refuse more than 400k for residents' functions."""
DEFAULT_DEADLINE_S: Final = 600
"""Requests are signed to expire this many seconds after signing."""

# A Retry-After longer than this is not waited for (the gateway asks for at most 30 s).
_MAX_RETRY_AFTER_S = 30.0
# Final failures that did not consume the forwarder nonce (see the gateway's batcher): the
# local nonce counter has a hole after them and must be read again from the gateway.
_NONCE_NOT_USED = frozenset(
    {"RequestExpired", "NonceTooLow", "ForwarderSkipped", "NonceGap", "PaymentSkipped"}
)
# Rejections naming one pocket that "auto" chose from a stale index, or whose category rules
# exclude the merchant: paying again without that pocket may succeed.
_POCKET_ERRORS = (
    ProgramCategoryNotAllowed,
    ProgramExpired,
    ProgramNotStarted,
    ProgramAlreadyClosed,
    ProgramUnknown,
)

_T = TypeVar("_T")


def sign_forward_request(
    key: LocalKey, domain: ForwarderDomain, request: ForwardRequest
) -> SignedRequest:
    """Sign ``request`` (whose ``from_`` must be ``key``'s address) for the forwarder."""
    if request.from_ != key.address:
        raise ValueError(f"request is from {request.from_}, the key is {key.address}")
    return SignedRequest(request, key.sign_digest(request_digest(domain, request)))


def _bytes32(value: bytes | str, what: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def directory_search(
    q: str | None,
    category: int | None,
    dong: str | None,
    near: tuple[float, float] | None,
    radius_m: int | None,
    cursor: str | None,
    limit: int | None,
) -> list[tuple[str, str]]:
    """The directory's query parameters, the unset ones left out."""
    given = {
        "q": q, "category": category, "dong": dong, "radius_m": radius_m, "cursor": cursor,
        "limit": limit, "near": None if near is None else f"{near[0]},{near[1]}",
    }  # fmt: skip
    return [(name, str(value)) for name, value in given.items() if value is not None]


def _path_part(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class Http:
    method: Literal["GET", "POST"]
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    bearer: str | None = None  # the access token, on routes that read the wallet's own data
    idempotency_key: str | None = None  # repeats of a creating call make one thing

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"} if self.body else {}
        if self.bearer is not None:
            headers["authorization"] = f"Bearer {self.bearer}"
        if self.idempotency_key is not None:
            headers["idempotency-key"] = self.idempotency_key
        return headers


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Op = Generator[Http | Sleep, httpx.Response | None, _T]


class Operations:
    """Everything the clients do, as generators of effects (see the module docstring)."""

    def __init__(
        self,
        key: LocalKey,
        *,
        gas: int,
        deadline_s: int,
        retries: int,
        backoff_s: float,
        poll_interval_s: float,
        network: NetworkInfo | None,
        chain_id: int | None,
        max_backoff_s: float = 5.0,
    ) -> None:
        if network is not None and chain_id is not None and network.chain_id != chain_id:
            raise WrongChain(f"network is chain {network.chain_id}, expected {chain_id}")
        self.key = key
        self.gas = gas
        self.deadline_s = deadline_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._jitter = random.Random()
        self.poll_interval_s = poll_interval_s
        self.expected_chain_id = chain_id
        self.cached_network = network
        # The next forwarder nonce to sign, so requests can be pipelined without asking the
        # gateway each time; None means "ask the gateway" (nothing known, or out of step).
        self._next_nonce: int | None = None
        self._nonce_lock = threading.Lock()
        # The sign-in session (access token, refresh token): reads of the wallet's own data
        # sign in on first use and refresh when the access token expires.
        self.access_token: str | None = None
        self.refresh_token: str | None = None

    # -- plumbing ----------------------------------------------------------------------------

    def exchange(self, http: Http) -> Op[httpx.Response]:
        """One HTTP exchange, retried on transport errors and retryable problems."""
        attempt = 0
        while True:
            try:
                response = yield http
            except TransportError as exc:
                if attempt >= self.retries or not exc.retryable:
                    raise
                delay = self.retry_delay(attempt, None)
            else:
                if response is None:
                    raise RuntimeError("driver sent no response to an HTTP effect")
                if response.status_code < 400:
                    return response
                error = problem_error(response)
                if not error.retryable or attempt >= self.retries:
                    raise error
                hint = error.retry_after if isinstance(error, GatewayUnavailableError) else None
                if hint is not None and hint > _MAX_RETRY_AFTER_S:
                    raise error
                delay = self.retry_delay(attempt, hint)
            attempt += 1
            yield Sleep(delay)

    def retry_delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry number ``attempt + 1``: exponential backoff capped at
        ``max_backoff_s`` with jitter (between half and all of it, so clients refused together
        do not come back together), and never sooner than the gateway asks (its problem's
        ``retry_after_ms``, spread by the gateway, else the Retry-After header).

        Retrying is safe for every request: a submission is sent again with the same signed
        body, whose id the gateway answers with (stored or not), so it runs at most once."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        delay = self._jitter.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, retry_after + self._jitter.uniform(0, self.backoff_s))
        return delay

    def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Op[object]:
        response = yield from self.exchange(Http("GET", path, tuple(params)))
        return read_json(response)

    def get_own(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Op[object]:
        """A read of the wallet's own data: signed in first when needed, once more if the
        session has expired."""
        return (yield from self.own(Http("GET", path, tuple(params))))

    def own(self, http: Http) -> Op[object]:
        """``http`` on the wallet's own data, with the session's token (see :meth:`get_own`)."""
        if self.access_token is None:
            yield from self.login()
        for attempt in range(2):
            try:
                signed_in = dataclasses.replace(http, bearer=self.access_token)
                return read_json((yield from self.exchange(signed_in)))
            except (AuthExpired, AuthInvalid):
                if attempt:
                    raise
                yield from self.renew()
        raise AssertionError("unreachable")

    # -- sign-in -----------------------------------------------------------------------------

    def login(self) -> Op[str]:
        """Signs in with Ethereum (EIP-4361) using the wallet's key; the session's address."""
        offer = Fields((yield from self.get("/v1/auth/nonce")), "sign-in nonce")
        text = siwe_message(
            domain=offer.text("domain"),
            address=self.key.address,
            uri=offer.text("uri"),
            chain_id=offer.integer("chain_id"),
            nonce=offer.text("nonce"),
            statement=offer.text("statement"),
        )
        signature = "0x" + self.key.sign_message(text).hex()
        body = json.dumps({"message": text, "signature": signature}).encode()
        response = yield from self.exchange(Http("POST", "/v1/auth/login", body=body))
        return self._session(read_json(response))

    def renew(self) -> Op[str]:
        """A fresh access token from the refresh token, or a new sign-in without one."""
        if self.refresh_token is None:
            return (yield from self.login())
        body = json.dumps({"refresh_token": self.refresh_token}).encode()
        try:
            response = yield from self.exchange(Http("POST", "/v1/auth/refresh", body=body))
        except (AuthExpired, AuthInvalid):
            return (yield from self.login())
        return self._session(read_json(response))

    def logout(self) -> Op[None]:
        if self.access_token is not None:
            http = Http("POST", "/v1/auth/logout", body=b"{}", bearer=self.access_token)
            with contextlib.suppress(AuthExpired, AuthInvalid):  # already over
                yield from self.exchange(http)
        self.access_token = self.refresh_token = None

    def _session(self, body: object) -> str:
        fields = Fields(body, "session")
        self.access_token = fields.text("access_token")
        self.refresh_token = fields.text("refresh_token")
        return fields.text("address")

    # -- network and nonces ------------------------------------------------------------------

    def network(self) -> Op[NetworkInfo]:
        if self.cached_network is None:
            network = parse_network((yield from self.get("/v1/network")))
            expected = self.expected_chain_id
            if expected is not None and network.chain_id != expected:
                raise WrongChain(f"gateway serves chain {network.chain_id}, expected {expected}")
            self.cached_network = network
        return self.cached_network

    def next_nonce(self) -> Op[int]:
        body = yield from self.get(f"/v1/nonces/{self.key.address}")
        return Fields(body, "nonce").integer("nonce")

    def allocate_nonce(self) -> Op[int]:
        with self._nonce_lock:
            if self._next_nonce is not None:
                self._next_nonce += 1
                return self._next_nonce - 1
        fetched = yield from self.next_nonce()
        with self._nonce_lock:
            # Another caller may have fetched and allocated meanwhile; continue after it.
            if self._next_nonce is None:
                self._next_nonce = fetched
            self._next_nonce += 1
            return self._next_nonce - 1

    def release_nonce(self, nonce: int) -> None:
        """``nonce`` was not used: step back if nothing was allocated after it, else forget
        (the gateway's next nonce fills holes)."""
        with self._nonce_lock:
            self._next_nonce = nonce if self._next_nonce == nonce + 1 else None

    def forget_nonces(self) -> None:
        with self._nonce_lock:
            self._next_nonce = None

    # -- signing and submitting --------------------------------------------------------------

    def prepare(
        self,
        to: str,
        data: bytes,
        *,
        nonce: int | None = None,
        deadline: int | None = None,
        gas: int | None = None,
    ) -> Op[SignedRequest]:
        network = yield from self.network()
        allocated = nonce is None
        if nonce is None:
            nonce = yield from self.allocate_nonce()
        try:
            request = ForwardRequest(
                from_=self.key.address,
                to=to,
                value=0,
                gas=self.gas if gas is None else gas,
                nonce=nonce,
                deadline=int(time.time()) + self.deadline_s if deadline is None else deadline,
                data=data,
            )
            return sign_forward_request(self.key, network.domain, request)
        except BaseException:
            if allocated:
                self.release_nonce(nonce)  # a bad argument must not leave a hole
            raise

    def submit_signed(self, signed: SignedRequest) -> Op[Submission]:
        network = yield from self.network()
        mine = signed.request.from_ == self.key.address
        expected = request_id(network.domain, signed)
        body = json.dumps(signed_request_to_json(signed)).encode()
        try:
            response = yield from self.exchange(Http("POST", "/v1/requests", body=body))
        except NonceError:
            if mine:
                self.forget_nonces()
            raise
        except TransportError as exc:
            exc.request_id = expected
            if mine:
                self.forget_nonces()  # accepted or not, the gateway knows; ask it next time
            raise
        except DongneError:
            if mine:
                self.release_nonce(signed.request.nonce)
            raise
        except BaseException:
            # Cancelled or interrupted, perhaps after the gateway accepted it: ask next time.
            # A nonce left unused would hold back every later request until its deadline.
            if mine:
                self.forget_nonces()
            raise
        fields = Fields(read_json(response), "submission")
        rid = fields.text("id")
        if rid.lower() != expected:
            raise UnexpectedResponseError(f"gateway answered id {rid}, the request is {expected}")
        return Submission(
            rid, fields.text("status"), signed.request.nonce, signed.request.deadline, signed
        )

    def send(self, to: str, data: bytes, *, deadline: int | None = None) -> Op[Submission]:
        """Sign with the next nonce and submit; a nonce someone else used is replaced once."""
        signed = yield from self.prepare(to, data, deadline=deadline)
        try:
            return (yield from self.submit_signed(signed))
        except (NonceTooLow, NonceConflict):
            # Our counter was behind the gateway's (another device, a request we gave up
            # on): a fresh nonce makes a new request, and the old one never ran.
            signed = yield from self.prepare(to, data, deadline=signed.request.deadline)
            return (yield from self.submit_signed(signed))

    # -- payments ----------------------------------------------------------------------------

    def pocket_candidates(self, token: str) -> Op[list[Pocket]]:
        try:
            balances = yield from self.balances(token)
        except NotFound:
            return []  # a gateway without the query API: pay from the general pocket
        return list(balances.of(token).pockets)

    def pay_with_pockets(
        self,
        token: str,
        build: Callable[[list[int]], bytes],
        pockets: PocketChoice,
        amount: int,
        *,
        deadline: int | None = None,
        candidates: list[Pocket] | None = None,
        first: int | None = None,
    ) -> Op[tuple[Submission, tuple[int, ...]]]:
        """Submit ``build(program_ids)``. With ``"auto"``, pockets come from the index, and a
        rejection naming one of them (stale index, category rules) drops it and tries again."""
        if pockets != "auto":
            ids = list(pockets)
            submission = yield from self.send(token, build(ids), deadline=deadline)
            return submission, tuple(ids)
        if candidates is None:
            candidates = yield from self.pocket_candidates(token)
        excluded: set[int] = set()
        while True:
            usable = [p for p in candidates if p.program_id not in excluded]
            ids = order_pockets(usable, now=int(time.time()), amount=amount)
            if first is not None and first not in excluded:
                ids = [first, *(i for i in ids if i != first)]
            try:
                submission = yield from self.send(token, build(ids), deadline=deadline)
            except _POCKET_ERRORS as exc:
                program_id = exc.program_id
                if program_id not in ids or program_id == first:
                    raise
                excluded.add(program_id)
                continue
            return submission, tuple(ids)

    def pay(
        self,
        token: str,
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None,
        pockets: PocketChoice,
        deadline: int | None = None,
    ) -> Op[PaymentSubmission]:
        pid = _payment_id(payment_id)
        submission, ids = yield from self.pay_with_pockets(
            token,
            lambda ids: encode_pay(merchant, amount, pid, ids),
            pockets,
            amount,
            deadline=deadline,
        )
        return _payment(submission, pid, ids)

    def payment_nonce(self, token: str) -> Op[int]:
        """The wallet's next signed-payment nonce on ``token``: its payment sequence there,
        past its payments the gateway holds (``GET /v1/nonces/{address}?token=``)."""
        body = yield from self.get(f"/v1/nonces/{self.key.address}", [("token", token)])
        return Fields(body, "nonce").integer("nonce")

    def sign_payment(
        self,
        token: str,
        merchant: str,
        amount: int,
        nonce: int,
        *,
        payment_id: bytes | str | None,
        program_ids: Sequence[int],
        deadline: int | None,
    ) -> Op[tuple[SignedPayment, PaymentSignature]]:
        network = yield from self.network()
        payment = SignedPayment(
            self.key.address,
            merchant,
            amount,
            _payment_id(payment_id),
            tuple(program_ids),
            nonce,
            int(time.time()) + self.deadline_s if deadline is None else deadline,
        )
        digest = payment_digest(token_domain(network.chain_id, token), payment)
        return payment, PaymentSignature.from_rsv(self.key.sign_digest(digest))

    def submit_payment(
        self, token: str, payment: SignedPayment, signature: PaymentSignature
    ) -> Op[SignedPaymentSubmission]:
        network = yield from self.network()
        expected = payment_request_id(token_domain(network.chain_id, token), payment, signature)
        body = json.dumps(payment_to_json(token, payment, signature)).encode()
        try:
            response = yield from self.exchange(Http("POST", "/v1/payments", body=body))
        except TransportError as exc:
            exc.request_id = expected  # sent again, the same payment gets this id
            raise
        fields = Fields(read_json(response), "submission")
        rid = fields.text("id")
        if rid.lower() != expected:
            raise UnexpectedResponseError(f"gateway answered id {rid}, the payment is {expected}")
        return SignedPaymentSubmission(rid, fields.text("status"), token, payment, signature)

    def pay_signed(
        self,
        token: str,
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None,
        program_ids: Sequence[int],
        deadline: int | None = None,
    ) -> Op[SignedPaymentSubmission]:
        """A token-native signed payment (``payBySig``): signed for the token itself with the
        payer's next payment sequence, relayed in a ``payBySigBatch``. A nonce another
        payment took meanwhile (another device) is signed again once with the next one: the
        gateway refused the first, so nothing of it runs."""
        for attempt in range(2):
            nonce = yield from self.payment_nonce(token)
            payment, signature = yield from self.sign_payment(
                token, merchant, amount, nonce, payment_id=payment_id,
                program_ids=program_ids, deadline=deadline,
            )  # fmt: skip
            try:
                return (yield from self.submit_payment(token, payment, signature))
            except VoucherInvalidPaymentNonce:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def pay_invoice(
        self, invoice: PaymentRequest, *, amount: int | None, pockets: PocketChoice
    ) -> Op[PaymentSubmission]:
        network = yield from self.network()
        if invoice.chain_id != network.chain_id:
            raise WrongChain(
                f"the code is for chain {invoice.chain_id}, the gateway's is {network.chain_id}",
                args_={"chain_id": invoice.chain_id, "expected": network.chain_id},
            )
        now = int(time.time())
        deadline = now + self.deadline_s
        if invoice.expiry is not None:
            if now > invoice.expiry:
                raise InvoiceExpiredError(
                    f"invoice expired at {invoice.expiry}, now {now}",
                    expiry=invoice.expiry,
                    now=now,
                )
            # The chain then enforces the invoice's expiry: paid in time or not at all.
            deadline = min(deadline, invoice.expiry)
        if invoice.amount is not None and amount is not None and amount != invoice.amount:
            raise ValueError(f"the invoice is for {invoice.amount}, not {amount}")
        total = invoice.amount if invoice.amount is not None else amount
        if total is None:
            raise ValueError("a merchant's static code has no amount; pass amount=")
        return (
            yield from self.pay(
                invoice.token,
                invoice.merchant,
                total,
                payment_id=invoice.invoice_id,
                pockets=pockets,
                deadline=deadline,
            )
        )

    def claim_and_pay(
        self,
        token: str,
        program_id: int,
        index: int,
        grant_amount: int,
        proof: Sequence[bytes | str],
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None,
        pockets: PocketChoice,
    ) -> Op[PaymentSubmission]:
        pid = _payment_id(payment_id)
        candidates: list[Pocket] | None = None
        first: int | None = None
        if pockets == "auto":
            # The grant is not in the index yet: add it to the pocket it will land in.
            candidates = yield from self.pocket_candidates(token)
            existing = next((p for p in candidates if p.program_id == program_id), None)
            try:
                info = yield from self.program(token, program_id)
            except NotFound:
                first = program_id  # window unknown: spend the fresh grant first
            else:
                held = existing.amount if existing is not None else 0
                grant = Pocket(
                    program_id, held + grant_amount, info.start_time, info.expiry, info.closed
                )
                candidates = [p for p in candidates if p.program_id != program_id] + [grant]

        def build(ids: list[int]) -> bytes:
            return encode_claim_and_pay(
                program_id, index, grant_amount, proof, merchant, amount, pid, ids
            )

        submission, ids = yield from self.pay_with_pockets(
            token, build, pockets, amount, candidates=candidates, first=first
        )
        return _payment(submission, pid, ids)

    def pay_through_platform(
        self,
        token: str,
        platform: str,
        shop: str,
        amount: int,
        *,
        payment_id: bytes | str | None,
        pockets: PocketChoice,
    ) -> Op[PaymentSubmission]:
        pid = _payment_id(payment_id)
        submission, ids = yield from self.pay_with_pockets(
            token,
            lambda ids: encode_pay_through_platform(platform, shop, amount, pid, ids),
            pockets,
            amount,
        )
        return _payment(submission, pid, ids)

    def pay_request(
        self, request: Invoice, *, amount: int | None, pockets: PocketChoice
    ) -> Op[PaymentSubmission]:
        """Pays a remote payment request (or any open invoice) once, by its id."""
        if request.status != "open":
            raise ValueError(f"the request is {request.status}, not open")
        if request.amount and amount is not None and amount != request.amount:
            raise ValueError(f"the request is for {request.amount}, not {amount}")
        total = request.amount or amount
        if not total:
            raise ValueError("the request leaves the amount to the payer; pass amount=")
        now = int(time.time())
        if request.expiry and now >= request.expiry:
            raise InvoiceExpiredError(
                f"request expired at {request.expiry}, now {now}", expiry=request.expiry, now=now
            )
        deadline = now + self.deadline_s
        if request.expiry:
            deadline = min(deadline, request.expiry)
        return (
            yield from self.pay(
                request.token,
                request.merchant,
                total,
                payment_id=request.invoice_id,
                pockets=pockets,
                deadline=deadline,
            )
        )

    # -- queries -----------------------------------------------------------------------------

    def payment_requests(
        self, status: InvoiceStatus | None, token: str | None
    ) -> Op[tuple[Invoice, ...]]:
        """Remote payment requests addressed to this wallet."""
        params = _filters(status, token)
        path = f"/v1/wallets/{self.key.address}/payment-requests"
        return parse_invoices((yield from self.get_own(path, params)))

    def invoices(self, status: InvoiceStatus | None, token: str | None) -> Op[tuple[Invoice, ...]]:
        """A merchant's own invoices and payment requests."""
        params = _filters(status, token)
        path = f"/v1/merchants/{self.key.address}/invoices"
        return parse_invoices((yield from self.get_own(path, params)))

    def balances(self, token: str | None = None) -> Op[Balances]:
        params = [("token", token)] if token is not None else []
        body = yield from self.get_own(f"/v1/wallets/{self.key.address}/balances", params)
        return parse_balances(body)

    def history(self, cursor: str | None, limit: int, token: str | None) -> Op[HistoryPage]:
        params = [("limit", str(limit))]
        if cursor is not None:
            params.append(("cursor", cursor))
        if token is not None:
            params.append(("token", token))
        body = yield from self.get_own(f"/v1/wallets/{self.key.address}/history", params)
        return parse_history(body, self.key.address)

    # -- the merchant registry ---------------------------------------------------------------

    def apply_as_merchant(self, token: str, profile: MerchantApplication) -> Op[MerchantProfile]:
        body = json.dumps(profile.to_json()).encode()
        path = f"/v1/tokens/{_path_part(token)}/merchant-applications"
        return parse_profile((yield from self.own(Http("POST", path, body=body))))

    def merchant_application(self, token: str) -> Op[MerchantProfile]:
        path = f"/v1/tokens/{_path_part(token)}/merchants/{self.key.address}/profile"
        return parse_profile((yield from self.get_own(path)))

    def directory(self, token: str, search: Sequence[tuple[str, str]]) -> Op[DirectoryPage]:
        body = yield from self.get(f"/v1/tokens/{_path_part(token)}/directory", search)
        return parse_directory(body)

    def program(self, token: str, program_id: int) -> Op[ProgramInfo]:
        body = yield from self.get(f"/v1/tokens/{_path_part(token)}/programs/{int(program_id)}")
        return parse_program(body)

    # -- in-app purchases ----------------------------------------------------------------------

    def buy(self, token: str, face: int, idempotency_key: str | None) -> Op[PurchaseOrder]:
        """Orders ``face`` won of ``token``'s vouchers; the answer names the virtual account to
        pay. One key per purchase: a retry after a lost answer returns the same order."""
        key = idempotency_key or "sdk-" + secrets.token_hex(16)
        body = json.dumps({"token": token, "face": int(face)}).encode()
        path = f"/v1/wallets/{self.key.address}/purchase-orders"
        http = Http("POST", path, body=body, idempotency_key=key)
        return parse_purchase_order((yield from self.own(http)))

    def purchase_order(self, order_id: str) -> Op[PurchaseOrder]:
        path = f"/v1/wallets/{self.key.address}/purchase-orders/{_path_part(order_id)}"
        return parse_purchase_order((yield from self.get_own(path)))

    def purchase_orders(self, token: str | None, limit: int) -> Op[tuple[PurchaseOrder, ...]]:
        params = [("limit", str(limit))] + ([("token", token)] if token is not None else [])
        path = f"/v1/wallets/{self.key.address}/purchase-orders"
        return parse_purchase_orders((yield from self.get_own(path, params)))

    def cancel_purchase(self, order_id: str) -> Op[PurchaseOrder]:
        path = f"/v1/wallets/{self.key.address}/purchase-orders/{_path_part(order_id)}/cancel"
        return parse_purchase_order((yield from self.own(Http("POST", path))))

    def wait_purchase(self, order_id: str, timeout: float) -> Op[PurchaseOrder]:
        """The order once issued on chain; its typed exception if it ended otherwise."""
        give_up = time.monotonic() + timeout
        delay = self.poll_interval_s
        while True:
            order = yield from self.purchase_order(order_id)
            if order.state == "issued":
                return order
            error = order.exception()
            if error is not None:
                raise error
            if time.monotonic() + delay > give_up:
                raise WaitTimeoutError(
                    f"purchase order {order_id} still {order.state} after {timeout}s",
                    request_id=order_id,
                    last_status=order.state,
                )
            yield Sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def status(self, rid: str) -> Op[RequestState]:
        body = yield from self.get(f"/v1/requests/{_path_part(rid)}")
        return parse_state(body)

    def wait(self, rid: str, timeout: float) -> Op[RequestState]:
        give_up = time.monotonic() + timeout
        delay = self.poll_interval_s
        while True:
            state = yield from self.status(rid)
            if state.status == "succeeded":
                return state
            error = state.exception()
            if error is not None:
                # Without a transaction (refused by simulation before sending, expired) or
                # with a code that says so, the nonce is still free: read it again.
                unused = state.tx_hash is None or state.error_code in _NONCE_NOT_USED
                if state.signer == self.key.address and unused:
                    self.forget_nonces()
                raise error
            if time.monotonic() + delay > give_up:
                raise WaitTimeoutError(
                    f"request {rid} still {state.status} after {timeout}s",
                    request_id=rid,
                    last_status=state.status,
                )
            yield Sleep(delay)
            delay = min(delay * 1.5, 1.0)


def new_invoice_id() -> bytes:
    """A fresh random invoice id (32 bytes)."""
    return secrets.token_bytes(32)


def invoice_bytes(value: bytes | str) -> bytes:
    """An invoice or payment id as 32 bytes (from bytes or 0x-hex)."""
    return _bytes32(value, "invoice_id")


def _payment_id(payment_id: bytes | str | None) -> bytes:
    """A non-zero payment id is a single-use invoice id (the token refuses a second payment
    with it at the same merchant); a plain payment carries none, and pays no gas for it."""
    return bytes(32) if payment_id is None else _bytes32(payment_id, "payment_id")


def _filters(status: str | None, token: str | None) -> list[tuple[str, str]]:
    params = [] if status is None else [("status", status)]
    return params + ([] if token is None else [("token", token)])


def _payment(submission: Submission, payment_id: bytes, ids: tuple[int, ...]) -> PaymentSubmission:
    return PaymentSubmission(
        submission.id,
        submission.status,
        submission.nonce,
        submission.deadline,
        submission.request,
        payment_id,
        ids,
    )


def transport_error(exc: httpx.HTTPError) -> TransportError:
    error = TransportError(f"gateway unreachable: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def request_id_of(request: str | Submission | SignedPaymentSubmission) -> str:
    return request if isinstance(request, str) else request.id


class ClientBase:
    def __init__(
        self,
        key: LocalKey,
        *,
        gas: int,
        deadline_s: int,
        retries: int,
        backoff_s: float,
        poll_interval_s: float,
        network: NetworkInfo | None,
        chain_id: int | None,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._ops = Operations(
            key,
            gas=gas,
            deadline_s=deadline_s,
            retries=retries,
            backoff_s=backoff_s,
            poll_interval_s=poll_interval_s,
            network=network,
            chain_id=chain_id,
            max_backoff_s=max_backoff_s,
        )

    @property
    def address(self) -> str:
        """The wallet's address (the signer of every request)."""
        return self._ops.key.address

    @staticmethod
    def _step(
        op: Op[_T], reply: httpx.Response | None, error: TransportError | None
    ) -> tuple[Http | Sleep | None, _T | None]:
        """Advance ``op``: (next effect, None) or (None, its result)."""
        try:
            effect = op.send(reply) if error is None else op.throw(error)
        except StopIteration as stop:
            return None, cast(_T, stop.value)
        return effect, None
