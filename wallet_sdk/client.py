"""Typed client of a Dongne gateway for wallet apps: sign on the device, relay, follow, query.

:class:`DongneClient` (``httpx.Client``) and :class:`AsyncDongneClient` (``httpx.AsyncClient``)
share one implementation. Every operation is written once, in :class:`_Operations`, as a
generator that yields what it needs from the outside world (an HTTP exchange or a pause) and is
sent the answer; each client only drives those generators with its own I/O. Retries, nonce
bookkeeping, the choice of pockets and the mapping of problems to exceptions therefore behave
the same in both.

Errors: an unreachable gateway raises :class:`TransportError`; an overloaded or degraded one
:class:`GatewayUnavailableError` (both retried a few times first: a signed request sent twice
gets the same id and runs at most once); any other problem+json answer the exception class
named by its ``code`` (see :mod:`wallet_sdk.exceptions`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Literal, Self, TypeVar, cast
from urllib.parse import quote

import httpx

from chain.protocol.calls import (
    PaymentRecord,
    encode_cancel_payment,
    encode_claim,
    encode_claim_and_pay,
    encode_gift,
    encode_pay,
    encode_redeem,
    encode_refund,
)
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    SignedRequest,
    request_digest,
    request_id,
    signed_request_to_json,
)
from wallet_sdk.errors import (
    DongneError,
    GatewayError,
    GatewayUnavailableError,
    InvoiceExpiredError,
    TransportError,
    UnexpectedResponseError,
    WaitTimeoutError,
    error_for,
)
from wallet_sdk.exceptions import (
    NonceConflict,
    NonceError,
    NonceTooLow,
    NotFound,
    ProgramAlreadyClosed,
    ProgramCategoryNotAllowed,
    ProgramExpired,
    ProgramNotStarted,
    ProgramUnknown,
    WrongChain,
)
from wallet_sdk.keys import LocalKey
from wallet_sdk.qr import PaymentRequest

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_GAS",
    "FINAL_STATUSES",
    "AsyncDongneClient",
    "Balances",
    "DongneClient",
    "HistoryItem",
    "HistoryPage",
    "NetworkInfo",
    "PaymentSubmission",
    "Pocket",
    "PocketChoice",
    "ProgramInfo",
    "RequestState",
    "Submission",
    "TokenBalance",
    "TokenInfo",
    "order_pockets",
    "sign_forward_request",
]

DEFAULT_GAS: Final = 500_000
"""Gas limit signed into requests; a payment naming several pockets stays well below it."""
DEFAULT_DEADLINE_S: Final = 600
"""Requests are signed to expire this many seconds after signing."""
FINAL_STATUSES: Final = frozenset({"succeeded", "failed"})

PocketChoice = Literal["auto"] | Sequence[int]
"""``"auto"`` or the program ids to spend first, in order."""

_MAX_RETRY_DELAY_S = 5.0
# Final failures that did not consume the forwarder nonce (see the gateway's batcher): the
# local nonce counter has a hole after them and must be read again from the gateway.
_NONCE_NOT_USED = frozenset({"RequestExpired", "NonceTooLow", "ForwarderSkipped"})
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


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A municipality's voucher token as the gateway lists it."""

    token: str
    region: int
    name: str
    symbol: str


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """What a wallet needs to sign: the chain, the forwarder's EIP-712 domain, the tokens."""

    chain_id: int
    forwarder: str
    registry: str
    factory: str
    domain: ForwarderDomain
    tokens: tuple[TokenInfo, ...]

    def token_for(self, region: int) -> str:
        """The token of the municipality with legal-district code ``region``."""
        for info in self.tokens:
            if info.region == region:
                return info.token
        raise LookupError(f"no municipality with region {region}")


@dataclass(frozen=True, slots=True)
class Submission:
    """A signed request the gateway accepted (stored) under ``id``."""

    id: str
    status: str  # queued | submitted | succeeded | failed
    nonce: int
    deadline: int
    request: SignedRequest


@dataclass(frozen=True, slots=True)
class PaymentSubmission(Submission):
    """An accepted payment: its ``payment_id`` and the program pockets it names, in order."""

    payment_id: bytes
    program_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RequestState:
    """A relayed request as ``GET /v1/requests/{id}`` reports it."""

    id: str
    status: str  # queued | submitted | succeeded | failed
    signer: str | None
    nonce: int | None
    tx_hash: str | None
    block_number: int | None
    error_code: str | None
    error_args: Mapping[str, object]

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def exception(self) -> DongneError | None:
        """The typed exception of a failed request (``None`` unless it failed)."""
        if self.status != "failed":
            return None
        code = self.error_code or "ForwardedCallFailed"
        error = error_for(code, f"request {self.id} failed: {code}", self.error_args)
        if isinstance(error, GatewayError):
            error.request_id = self.id
            error.tx_hash = self.tx_hash
        return error


@dataclass(frozen=True, slots=True)
class Pocket:
    """A holder's balance in one policy program, spendable in ``[start, expiry)`` unless
    the program is closed."""

    program_id: int
    balance: int
    start: int
    expiry: int
    closed: bool = False

    def usable(self, now: int) -> bool:
        return self.balance > 0 and not self.closed and self.start <= now < self.expiry


@dataclass(frozen=True, slots=True)
class TokenBalance:
    """Purchased money (``general``) and program pockets in one municipality's token."""

    token: str
    symbol: str
    general: int
    pockets: tuple[Pocket, ...]
    total: int


@dataclass(frozen=True, slots=True)
class Balances:
    """Balances in every token the wallet has touched, from the gateway's index."""

    tokens: tuple[TokenBalance, ...]

    def of(self, token: str) -> TokenBalance:
        """One token's balances; zero for a token the wallet never touched."""
        for balance in self.tokens:
            if balance.token.lower() == token.lower():
                return balance
        return TokenBalance(token, "", 0, (), 0)


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    """A policy program: its window, category rules and distribution figures."""

    token: str
    program_id: int
    start: int
    expiry: int
    closed: bool
    categories: tuple[int, ...]  # allowed KSIC codes; empty allows every category
    revenue_cap_waived: bool
    budget: int
    granted: int
    spent: int


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One entry of a wallet's history, seen from ``holder`` (the wallet asked about)."""

    holder: str
    kind: str  # sale | payment | cancellation | gift | redemption | refund | grant
    token: str
    block_number: int
    log_index: int
    tx_hash: str
    block_time: int
    direction: str  # in | out
    amount: int
    counterparty: str | None
    details: Mapping[str, object]

    def payment_record(self) -> PaymentRecord:
        """The record a merchant presents to ``cancel_payment``, rebuilt from a payment entry.

        The token checks the record's hash, so it must list exactly the pockets the payment
        named; the index keeps only pockets that paid something, so a payment that named an
        empty pocket cannot be rebuilt here (cancelling it fails with VoucherPaymentNotFound).
        """
        if self.kind != "payment":
            raise ValueError(f"a {self.kind} entry is not a payment")
        fields = _Fields(self.details, "payment details")
        payer = self.holder if self.direction == "out" else self.counterparty
        if payer is None:
            raise UnexpectedResponseError("payment entry without a counterparty")
        pockets = [_Fields(p, "pocket") for p in fields.array("pockets")]
        return PaymentRecord(
            payer=payer,
            seq=fields.integer("seq"),
            payment_id=fields.hex_bytes("payment_id"),
            amount=self.amount,
            from_general=fields.integer("from_general"),
            cashback=fields.integer("cashback"),
            program_ids=tuple(p.integer("program_id") for p in pockets),
            program_amounts=tuple(p.integer("amount") for p in pockets),
        )


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """A page of history, newest first; pass ``next_cursor`` back for the next (older) one."""

    items: tuple[HistoryItem, ...]
    next_cursor: str | None


# ------------------------------------------------------------------------------ pure helpers


def order_pockets(pockets: Iterable[Pocket], *, now: int, amount: int | None = None) -> list[int]:
    """Program ids to spend, soonest expiry first, skipping pockets not spendable at ``now``.

    With ``amount``, only as many pockets as cover it: a pocket named needlessly could only
    make the payment fail (its program may exclude the merchant's category). The token takes
    what it can from each named pocket in order and the rest from the general pocket.
    """
    usable = sorted((p for p in pockets if p.usable(now)), key=lambda p: (p.expiry, p.program_id))
    chosen: list[int] = []
    covered = 0
    for pocket in usable:
        if amount is not None and covered >= amount:
            break
        if pocket.program_id not in chosen:
            chosen.append(pocket.program_id)
            covered += pocket.balance
    return chosen


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


def _path_part(value: str) -> str:
    return quote(value, safe="")


class _Fields:
    """Typed reads from a JSON object the gateway sent; a wrong shape is the gateway's
    fault, reported as :class:`UnexpectedResponseError` rather than a KeyError."""

    def __init__(self, obj: object, what: str) -> None:
        if not isinstance(obj, Mapping):
            raise UnexpectedResponseError(f"{what}: expected a JSON object")
        self.obj: Mapping[str, object] = obj
        self.what = what

    def _fail(self, key: str, expected: str) -> UnexpectedResponseError:
        return UnexpectedResponseError(f"{self.what}: {key} is not {expected}")

    def raw(self, *keys: str) -> object:
        """The first of ``keys`` present (older and newer spellings of one field)."""
        for key in keys:
            if key in self.obj:
                return self.obj[key]
        return None

    def text(self, *keys: str) -> str:
        value = self.raw(*keys)
        if not isinstance(value, str):
            raise self._fail(keys[0], "a string")
        return value

    def optional_text(self, *keys: str) -> str | None:
        return None if self.raw(*keys) is None else self.text(*keys)

    def integer(self, *keys: str) -> int:
        value = self.raw(*keys)
        # Integers come as JSON numbers or, where they may pass 2**53, decimal strings.
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 80:
            return int(value)
        raise self._fail(keys[0], "an integer")

    def optional_integer(self, *keys: str) -> int | None:
        return None if self.raw(*keys) is None else self.integer(*keys)

    def flag(self, *keys: str, default: bool = False) -> bool:
        value = self.raw(*keys)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(keys[0], "a boolean")
        return value

    def array(self, *keys: str) -> list[object]:
        value = self.raw(*keys)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(keys[0], "an array")
        return value

    def mapping(self, *keys: str) -> Mapping[str, object]:
        value = self.raw(*keys)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self._fail(keys[0], "an object")
        return value

    def hex_bytes(self, *keys: str) -> bytes:
        value = self.text(*keys)
        try:
            return bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise self._fail(keys[0], "hex") from None


def _json(response: httpx.Response) -> object:
    try:
        body: object = response.json()
    except ValueError:
        raise UnexpectedResponseError(
            f"{response.request.method} {response.request.url.path}: answer is not JSON",
            status=response.status_code,
        ) from None
    return body


def _problem(response: httpx.Response) -> DongneError:
    """The exception for an HTTP error answer: problem+json by its ``code``, else by status."""
    status = response.status_code
    try:
        body: object = response.json()
    except ValueError:
        body = None
    error: DongneError
    if isinstance(body, Mapping) and isinstance(body.get("code"), str):
        code = str(body["code"])
        detail = body.get("detail")
        args = body.get("args")
        error = error_for(
            code,
            detail if isinstance(detail, str) and detail else code,
            cast(Mapping[str, object], args) if isinstance(args, Mapping) else {},
            status=status,
            retryable=body.get("retryable") is True,
        )
    else:
        # Not from the gateway's handlers: an unknown route, or a proxy in front of it.
        where = f"{response.request.method} {response.request.url.path}"
        if status == 404:
            error = NotFound(f"{where}: not found", status=404)
        elif status in (429, 502, 503, 504):
            error = GatewayUnavailableError(f"{where}: HTTP {status}", status=status)
        else:
            error = GatewayError(f"{where}: HTTP {status}", status=status, code=f"HTTP_{status}")
    if isinstance(error, GatewayUnavailableError):
        error.retry_after = _retry_after(response.headers.get("retry-after"))
    return error


def _retry_after(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header is not None else None
    except ValueError:
        return None  # an HTTP date; the gateway sends seconds


def _parse_network(body: object) -> NetworkInfo:
    fields = _Fields(body, "network")
    domain_fields = _Fields(fields.raw("domain"), "network domain")
    chain_id = fields.integer("chain_id")
    forwarder = fields.text("forwarder")
    domain = ForwarderDomain(
        chain_id=domain_fields.integer("chainId"),
        verifying_contract=domain_fields.text("verifyingContract"),
        name=domain_fields.text("name"),
        version=domain_fields.text("version"),
    )
    if domain.chain_id != chain_id or domain.verifying_contract.lower() != forwarder.lower():
        raise UnexpectedResponseError("network: the domain does not match chain and forwarder")
    tokens = []
    for item in fields.array("tokens"):
        token = _Fields(item, "network token")
        tokens.append(
            TokenInfo(
                token.text("token"),
                token.integer("region"),
                token.text("name"),
                token.text("symbol"),
            )
        )
    return NetworkInfo(
        chain_id,
        forwarder,
        fields.optional_text("registry") or "",
        fields.optional_text("factory") or "",
        domain,
        tuple(tokens),
    )


def _parse_state(body: object) -> RequestState:
    fields = _Fields(body, "request state")
    error = fields.raw("error")
    error_fields = _Fields(error, "request error") if error is not None else None
    return RequestState(
        id=fields.text("id"),
        status=fields.text("status"),
        signer=fields.optional_text("signer"),
        nonce=fields.optional_integer("nonce"),
        tx_hash=fields.optional_text("tx_hash"),
        block_number=fields.optional_integer("block_number"),
        error_code=error_fields.text("code") if error_fields else None,
        error_args=dict(error_fields.mapping("args")) if error_fields else {},
    )


def _parse_balances(body: object) -> Balances:
    # The query API answers a list; {"tokens": [...]} is accepted too (the first draft).
    items = body if isinstance(body, list) else _Fields(body, "balances").array("tokens")
    out = []
    for item in items:
        fields = _Fields(item, "token balance")
        pockets = []
        for raw in fields.array("pockets"):
            pocket = _Fields(raw, "pocket")
            pockets.append(
                Pocket(
                    program_id=pocket.integer("program_id"),
                    balance=pocket.integer("amount", "balance"),
                    start=pocket.integer("start_time", "start"),
                    expiry=pocket.integer("expiry"),
                    closed=pocket.flag("closed"),
                )
            )
        general = fields.integer("general")
        total = fields.raw("total")
        out.append(
            TokenBalance(
                token=fields.text("token"),
                symbol=fields.optional_text("symbol") or "",
                general=general,
                pockets=tuple(pockets),
                total=general + sum(p.balance for p in pockets)
                if total is None
                else fields.integer("total"),
            )
        )
    return Balances(tuple(out))


def _parse_history(body: object, holder: str) -> HistoryPage:
    fields = _Fields(body, "history")
    items = []
    for raw in fields.array("items"):
        item = _Fields(raw, "history item")
        items.append(
            HistoryItem(
                holder=holder,
                kind=item.text("kind"),
                token=item.text("token"),
                block_number=item.integer("block_number"),
                log_index=item.integer("log_index"),
                tx_hash=item.text("tx_hash"),
                block_time=item.integer("block_time"),
                direction=item.text("direction"),
                amount=item.integer("amount"),
                counterparty=item.optional_text("counterparty"),
                details=dict(item.mapping("details")),
            )
        )
    return HistoryPage(tuple(items), fields.optional_text("next_cursor"))


def _parse_program(body: object) -> ProgramInfo:
    fields = _Fields(body, "program")
    return ProgramInfo(
        token=fields.text("token"),
        program_id=fields.integer("program_id"),
        start=fields.integer("start_time", "start"),
        expiry=fields.integer("expiry"),
        closed=fields.flag("closed"),
        categories=tuple(
            _Fields({"c": c}, "program category").integer("c") for c in fields.array("categories")
        ),
        revenue_cap_waived=fields.flag("revenue_cap_waived"),
        budget=fields.integer("budget"),
        granted=fields.integer("granted"),
        spent=fields.integer("spent"),
    )


# ------------------------------------------------------------------------------ operations


@dataclass(frozen=True, slots=True)
class _Http:
    method: Literal["GET", "POST"]
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


_Op = Generator[_Http | _Sleep, httpx.Response | None, _T]


class _Operations:
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
    ) -> None:
        if network is not None and chain_id is not None and network.chain_id != chain_id:
            raise WrongChain(f"network is chain {network.chain_id}, expected {chain_id}")
        self.key = key
        self.gas = gas
        self.deadline_s = deadline_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.poll_interval_s = poll_interval_s
        self.expected_chain_id = chain_id
        self.cached_network = network
        # The next forwarder nonce to sign, so requests can be pipelined without asking the
        # gateway each time; None means "ask the gateway" (nothing known, or out of step).
        self._next_nonce: int | None = None
        self._nonce_lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------

    def exchange(self, http: _Http) -> _Op[httpx.Response]:
        """One HTTP exchange, retried on transport errors and retryable problems."""
        attempt = 0
        while True:
            try:
                response = yield http
            except TransportError as exc:
                if attempt >= self.retries or not exc.retryable:
                    raise
                delay = self.backoff_s * 2**attempt
            else:
                if response is None:
                    raise RuntimeError("driver sent no response to an HTTP effect")
                if response.status_code < 400:
                    return response
                error = _problem(response)
                if not error.retryable or attempt >= self.retries:
                    raise error
                hint = error.retry_after if isinstance(error, GatewayUnavailableError) else None
                delay = self.backoff_s * 2**attempt if hint is None else hint
            attempt += 1
            yield _Sleep(min(delay, _MAX_RETRY_DELAY_S))

    def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> _Op[object]:
        response = yield from self.exchange(_Http("GET", path, tuple(params)))
        return _json(response)

    # -- network and nonces ------------------------------------------------------------------

    def network(self) -> _Op[NetworkInfo]:
        if self.cached_network is None:
            network = _parse_network((yield from self.get("/v1/network")))
            expected = self.expected_chain_id
            if expected is not None and network.chain_id != expected:
                raise WrongChain(f"gateway serves chain {network.chain_id}, expected {expected}")
            self.cached_network = network
        return self.cached_network

    def next_nonce(self) -> _Op[int]:
        body = yield from self.get(f"/v1/nonces/{self.key.address}")
        return _Fields(body, "nonce").integer("nonce")

    def allocate_nonce(self) -> _Op[int]:
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
    ) -> _Op[SignedRequest]:
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

    def submit_signed(self, signed: SignedRequest) -> _Op[Submission]:
        network = yield from self.network()
        mine = signed.request.from_ == self.key.address
        expected = request_id(network.domain, signed)
        body = json.dumps(signed_request_to_json(signed)).encode()
        try:
            response = yield from self.exchange(_Http("POST", "/v1/requests", body=body))
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
        fields = _Fields(_json(response), "submission")
        rid = fields.text("id")
        if rid.lower() != expected:
            raise UnexpectedResponseError(f"gateway answered id {rid}, the request is {expected}")
        return Submission(
            rid, fields.text("status"), signed.request.nonce, signed.request.deadline, signed
        )

    def send(self, to: str, data: bytes, *, deadline: int | None = None) -> _Op[Submission]:
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

    def pocket_candidates(self, token: str) -> _Op[list[Pocket]]:
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
    ) -> _Op[tuple[Submission, tuple[int, ...]]]:
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
    ) -> _Op[PaymentSubmission]:
        pid = secrets.token_bytes(32) if payment_id is None else _bytes32(payment_id, "payment_id")
        submission, ids = yield from self.pay_with_pockets(
            token,
            lambda ids: encode_pay(merchant, amount, pid, ids),
            pockets,
            amount,
            deadline=deadline,
        )
        return _payment(submission, pid, ids)

    def pay_invoice(
        self, invoice: PaymentRequest, *, amount: int | None, pockets: PocketChoice
    ) -> _Op[PaymentSubmission]:
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
    ) -> _Op[PaymentSubmission]:
        pid = secrets.token_bytes(32) if payment_id is None else _bytes32(payment_id, "payment_id")
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
                held = existing.balance if existing is not None else 0
                grant = Pocket(
                    program_id, held + grant_amount, info.start, info.expiry, info.closed
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

    # -- queries -----------------------------------------------------------------------------

    def balances(self, token: str | None = None) -> _Op[Balances]:
        params = [("token", token)] if token is not None else []
        body = yield from self.get(f"/v1/wallets/{self.key.address}/balances", params)
        return _parse_balances(body)

    def history(self, cursor: str | None, limit: int, token: str | None) -> _Op[HistoryPage]:
        params = [("limit", str(limit))]
        if cursor is not None:
            params.append(("cursor", cursor))
        if token is not None:
            params.append(("token", token))
        body = yield from self.get(f"/v1/wallets/{self.key.address}/history", params)
        return _parse_history(body, self.key.address)

    def program(self, token: str, program_id: int) -> _Op[ProgramInfo]:
        body = yield from self.get(f"/v1/tokens/{_path_part(token)}/programs/{int(program_id)}")
        return _parse_program(body)

    def status(self, rid: str) -> _Op[RequestState]:
        body = yield from self.get(f"/v1/requests/{_path_part(rid)}")
        return _parse_state(body)

    def wait(self, rid: str, timeout: float) -> _Op[RequestState]:
        give_up = time.monotonic() + timeout
        delay = self.poll_interval_s
        while True:
            state = yield from self.status(rid)
            if state.status == "succeeded":
                return state
            error = state.exception()
            if error is not None:
                if state.signer == self.key.address and state.error_code in _NONCE_NOT_USED:
                    self.forget_nonces()
                raise error
            if time.monotonic() + delay > give_up:
                raise WaitTimeoutError(
                    f"request {rid} still {state.status} after {timeout}s",
                    request_id=rid,
                    last_status=state.status,
                )
            yield _Sleep(delay)
            delay = min(delay * 1.5, 1.0)


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


def _transport_error(exc: httpx.HTTPError) -> TransportError:
    error = TransportError(f"gateway unreachable: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _request_id(request: str | Submission) -> str:
    return request.id if isinstance(request, Submission) else request


# ------------------------------------------------------------------------------ clients


class _ClientBase:
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
    ) -> None:
        self._ops = _Operations(
            key,
            gas=gas,
            deadline_s=deadline_s,
            retries=retries,
            backoff_s=backoff_s,
            poll_interval_s=poll_interval_s,
            network=network,
            chain_id=chain_id,
        )

    @property
    def address(self) -> str:
        """The wallet's address (the signer of every request)."""
        return self._ops.key.address

    @staticmethod
    def _step(
        op: _Op[_T], reply: httpx.Response | None, error: TransportError | None
    ) -> tuple[_Http | _Sleep | None, _T | None]:
        """Advance ``op``: (next effect, None) or (None, its result)."""
        try:
            effect = op.send(reply) if error is None else op.throw(error)
        except StopIteration as stop:
            return None, cast(_T, stop.value)
        return effect, None


class DongneClient(_ClientBase):
    """Blocking client for one wallet (``key``) against the gateway at ``gateway_url``.

    Thread-safe: calls from several threads pipeline their requests with distinct nonces.
    ``network`` skips the ``/v1/network`` request (e.g. when cached by the app); ``chain_id``
    refuses a gateway serving another chain. ``transport`` is passed to ``httpx.Client``.
    """

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
        transport: httpx.BaseTransport | None = None,
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
        self._http = httpx.Client(base_url=gateway_url, timeout=timeout, transport=transport)

    def _run(self, op: _Op[_T]) -> _T:
        try:
            return self._drive(op)
        finally:
            op.close()  # on an interruption, lets the operation give back its nonce

    def _drive(self, op: _Op[_T]) -> _T:
        reply: httpx.Response | None = None
        error: TransportError | None = None
        while True:
            effect, result = self._step(op, reply, error)
            reply, error = None, None
            if effect is None:
                return cast(_T, result)
            if isinstance(effect, _Sleep):
                time.sleep(effect.seconds)
                continue
            try:
                reply = self._http.request(
                    effect.method,
                    effect.path,
                    params=effect.params,
                    content=effect.body,
                    headers={"content-type": "application/json"} if effect.body else None,
                )
            except httpx.HTTPError as exc:
                error = _transport_error(exc)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the wallet's operations (documented on AsyncDongneClient too) ----------------------

    def network(self) -> NetworkInfo:
        """The chain, forwarder domain and tokens (fetched once, then cached)."""
        return self._run(self._ops.network())

    def next_nonce(self) -> int:
        """The gateway's next nonce for this wallet, counting requests in flight."""
        return self._run(self._ops.next_nonce())

    def prepare(
        self,
        to: str,
        data: bytes,
        *,
        nonce: int | None = None,
        deadline: int | None = None,
        gas: int | None = None,
    ) -> SignedRequest:
        """Sign a request to call ``to`` with ``data`` (without sending it); by default with
        the next nonce of the local counter, which then counts it as used."""
        return self._run(self._ops.prepare(to, data, nonce=nonce, deadline=deadline, gas=gas))

    def submit_signed(self, signed: SignedRequest) -> Submission:
        """Send a signed request as is (no nonce replacement, no pocket retry)."""
        return self._run(self._ops.submit_signed(signed))

    def pay(
        self,
        token: str,
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None = None,
        pockets: PocketChoice = "auto",
    ) -> PaymentSubmission:
        """Pay ``amount`` won to ``merchant``. ``pockets="auto"`` spends program pockets
        soonest-expiring first (as the index reports them), then general balance."""
        return self._run(
            self._ops.pay(token, merchant, amount, payment_id=payment_id, pockets=pockets)
        )

    def pay_invoice(
        self, invoice: PaymentRequest, *, amount: int | None = None, pockets: PocketChoice = "auto"
    ) -> PaymentSubmission:
        """Pay a scanned code: an invoice (its id becomes the payment id, and the request
        expires with it) or a merchant's static code with ``amount``."""
        return self._run(self._ops.pay_invoice(invoice, amount=amount, pockets=pockets))

    def gift(self, token: str, to: str, amount: int) -> Submission:
        return self._run(self._ops.send(token, encode_gift(to, amount)))

    def claim(
        self, token: str, program_id: int, index: int, amount: int, proof: Sequence[bytes | str]
    ) -> Submission:
        """Pull one's own grant (leaf ``index`` of the program's list) into its pocket."""
        data = encode_claim(program_id, index, amount, proof)
        return self._run(self._ops.send(token, data))

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
        payment_id: bytes | str | None = None,
        pockets: PocketChoice = "auto",
    ) -> PaymentSubmission:
        """Pull a grant and pay with it in one request (the grant's pocket is included)."""
        return self._run(
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

    def redeem(self, token: str, amount: int, ref: bytes | str) -> Submission:
        """Merchant: burn general balance for cash; ``ref`` (32 bytes) names the settlement."""
        return self._run(self._ops.send(token, encode_redeem(amount, ref)))

    def cancel_payment(self, token: str, record: PaymentRecord) -> Submission:
        """Merchant: cancel a recorded payment; the payer gets their money back."""
        return self._run(self._ops.send(token, encode_cancel_payment(record)))

    def refund(self, token: str) -> Submission:
        """Cash refund of the remaining purchased balance (once enough of it is spent)."""
        return self._run(self._ops.send(token, encode_refund()))

    def balances(self, token: str | None = None) -> Balances:
        return self._run(self._ops.balances(token))

    def history(
        self, cursor: str | None = None, limit: int = 50, *, token: str | None = None
    ) -> HistoryPage:
        return self._run(self._ops.history(cursor, limit, token))

    def program(self, token: str, program_id: int) -> ProgramInfo:
        return self._run(self._ops.program(token, program_id))

    def status(self, request: str | Submission) -> RequestState:
        return self._run(self._ops.status(_request_id(request)))

    def wait(self, request: str | Submission, timeout: float = 60.0) -> RequestState:
        """The request's final state once it succeeded; if it failed, raises its typed
        exception (e.g. VoucherInsufficientBalance); WaitTimeoutError after ``timeout``."""
        return self._run(self._ops.wait(_request_id(request), timeout))


class AsyncDongneClient(_ClientBase):
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

    async def _run(self, op: _Op[_T]) -> _T:
        try:
            return await self._drive(op)
        finally:
            op.close()  # on cancellation, lets the operation give back its nonce

    async def _drive(self, op: _Op[_T]) -> _T:
        reply: httpx.Response | None = None
        error: TransportError | None = None
        while True:
            effect, result = self._step(op, reply, error)
            reply, error = None, None
            if effect is None:
                return cast(_T, result)
            if isinstance(effect, _Sleep):
                await asyncio.sleep(effect.seconds)
                continue
            try:
                reply = await self._http.request(
                    effect.method,
                    effect.path,
                    params=effect.params,
                    content=effect.body,
                    headers={"content-type": "application/json"} if effect.body else None,
                )
            except httpx.HTTPError as exc:
                error = _transport_error(exc)

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
        return await self._run(self._ops.status(_request_id(request)))

    async def wait(self, request: str | Submission, timeout: float = 60.0) -> RequestState:
        return await self._run(self._ops.wait(_request_id(request), timeout))
