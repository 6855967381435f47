"""wallet_sdk.client and wallet_sdk.exceptions without a gateway: a fake gateway behind
httpx.MockTransport answers as gateway/api/relay.py and gateway/api/query.py do."""

from __future__ import annotations

import asyncio
import json
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st
from siwe import SiweMessage

from chain.protocol.calls import SELECTORS, PaymentRecord, encode_gift
from chain.protocol.errors import ERROR_CODES, REGISTRY
from chain.protocol.forwarder import (
    ForwarderDomain,
    SignedRequest,
    recover_signer,
    request_id,
    signed_request_from_json,
    signed_request_to_json,
)
from gateway.errors import GATEWAY_CODES, RETRYABLE
from wallet_sdk import exceptions as x
from wallet_sdk.client import (
    AsyncDongneClient,
    DongneClient,
    HistoryItem,
    NetworkInfo,
    Pocket,
    TokenInfo,
    order_pockets,
)
from wallet_sdk.exceptions.base import (
    GatewayError,
    GatewayUnavailableError,
    InvoiceExpiredError,
    TransportError,
    UnexpectedResponseError,
    WaitTimeoutError,
    error_for,
)
from wallet_sdk.keys import LocalKey
from wallet_sdk.qr import PaymentRequest

CHAIN_ID = 31337
FORWARDER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TOKEN = "0x" + "7a" * 20
MERCHANT = "0x" + "3c" * 20
DOMAIN = ForwarderDomain(CHAIN_ID, FORWARDER)
NETWORK = NetworkInfo(
    CHAIN_ID,
    FORWARDER,
    "0x" + "11" * 20,
    "0x" + "22" * 20,
    DOMAIN,
    (TokenInfo(TOKEN, 41390, "S", "S"),),
)
KEY = LocalKey.from_private_key("0x" + "42" * 32)


# ------------------------------------------------------------------------------ exceptions


def test_every_user_facing_contract_error_has_its_class() -> None:
    wanted = {n for n in ERROR_CODES if n.startswith(("Voucher", "Program", "Identity"))}
    for name in wanted:
        cls = getattr(x, name)
        assert cls.__name__ == name
        assert issubclass(cls, x.ContractError)
        err = error_for(name, "no", {})
        assert type(err) is cls
        assert isinstance(err, x.ContractError)
        assert err.code == name
        assert err.status == 422


def test_every_gateway_code_has_its_class_with_the_gateways_status() -> None:
    for code, status in GATEWAY_CODES.items():
        cls = getattr(x, code)
        assert cls.__name__ == code
        err = error_for(code, "no", {})
        assert type(err) is cls
        assert isinstance(err, GatewayError)
        assert err.status == status  # the code's status, even from a request's final state
        assert err.retryable == (code in RETRYABLE)
        assert isinstance(err, GatewayUnavailableError) == (code in RETRYABLE)


@pytest.mark.parametrize("cls", x.CONTRACT_ERRORS, ids=lambda c: c.__name__)
def test_contract_error_attributes_match_the_abi(cls: type[x.ContractError]) -> None:
    spec = next(s for s in REGISTRY.values() if s.name == cls.__name__)
    hints = typing.get_type_hints(cls)
    assert [a.name for a in cls.arguments] == list(spec.names)
    assert set(cls.__annotations__) == {a.attribute for a in cls.arguments}
    for argument, kind in zip(cls.arguments, spec.types, strict=True):
        expected = (
            int
            if kind.startswith(("uint", "int"))
            else str
            if kind in ("address", "string")
            else bytes
            if kind.startswith("bytes")
            else bool
        )
        assert hints[argument.attribute] is expected, argument


def test_builtin_twins_and_retryable() -> None:
    assert issubclass(x.VoucherInsufficientBalance, ValueError)
    assert issubclass(x.ProgramInsufficientPocket, ValueError)
    assert issubclass(x.VoucherNotMerchant, PermissionError)
    assert issubclass(x.SignerUnregistered, PermissionError)
    assert issubclass(x.NotFound, LookupError)
    assert issubclass(x.NonceTooLow, x.NonceError)
    assert issubclass(x.NonceTooLow, ValueError)
    for cls in (x.RateLimited, x.NodeUnavailable, x.DatabaseUnavailable, x.NotReady):
        assert issubclass(cls, GatewayUnavailableError)
        assert issubclass(cls, ConnectionError)
        assert issubclass(cls, GatewayError)
        assert cls.retryable
    assert not x.VoucherInsufficientBalance.retryable
    assert TransportError.retryable


def test_typed_arguments() -> None:
    holder = "0x" + "ab" * 20
    err = error_for(
        "VoucherInsufficientBalance",
        "short",
        {"holder": holder, "balance": "5000", "needed": 50_000},
        status=422,
    )
    assert isinstance(err, x.VoucherInsufficientBalance)
    assert (err.holder, err.balance, err.needed) == (to_checksum_address(holder), 5000, 50_000)
    assert err.args_ == {"holder": err.holder, "balance": 5000, "needed": 50_000}
    inactive = error_for(
        "VoucherMerchantInactive", "", {"merchant": MERCHANT, "status": 2}, status=422
    )
    assert isinstance(inactive, x.VoucherMerchantInactive)
    assert (inactive.merchant_status, inactive.status) == (2, 422)
    edge = error_for("VoucherEdgeNotAllowed", "", {"from": MERCHANT, "to": holder})
    assert isinstance(edge, x.VoucherEdgeNotAllowed)
    assert edge.from_.lower() == MERCHANT
    # A missing or malformed argument reads as zero; args_ keeps what was sent.
    broken = error_for("VoucherInsufficientBalance", "", {"balance": "lots"})
    assert isinstance(broken, x.VoucherInsufficientBalance)
    assert (broken.holder, broken.balance, broken.needed) == ("", 0, 0)
    assert broken.args_ == {"balance": "lots"}
    low = error_for("NonceTooLow", "", {"nonce": 3, "next": 5}, status=409)
    assert isinstance(low, x.NonceTooLow)
    assert (low.nonce, low.next_nonce) == (3, 5)


def test_unknown_codes() -> None:
    assert type(error_for("BrandNew", "", {})) is GatewayError
    later = error_for("BrandNewOutage", "", {}, status=503, retryable=True)
    assert type(later) is GatewayUnavailableError
    assert later.retryable


# ------------------------------------------------------------------------------ fake gateway


def problem(code: str, status: int, args: dict[str, object] | None = None) -> httpx.Response:
    body = {
        "type": f"https://dongne.dev/problems/{code}",
        "title": code,
        "status": status,
        "detail": f"{code} happened",
        "code": code,
        "args": args or {},
        "retryable": code in RETRYABLE,
    }
    headers = {"retry-after": "0"} if code in RETRYABLE else {}
    return httpx.Response(
        status, json=body, headers={**headers, "content-type": "application/problem+json"}
    )


Rule = Callable[[httpx.Request, SignedRequest | None], httpx.Response | None]


@dataclass
class FakeGateway:
    """Answers like the gateway; ``rules`` may answer a request first (None: fall through)."""

    chain_nonce: int = 0
    pockets: list[dict[str, object]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    submitted: list[SignedRequest] = field(default_factory=list)
    states: dict[str, dict[str, object]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    sessions: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.log.append(f"{request.method} {path}")
        if path.startswith("/v1/auth/"):
            return self.auth(request)
        signed = None
        if request.method == "POST":
            signed = signed_request_from_json(json.loads(request.content))
        for rule in self.rules:
            answer = rule(request, signed)
            if answer is not None:
                return answer
        if path == "/v1/network":
            return httpx.Response(
                200,
                json={
                    "chain_id": CHAIN_ID,
                    "forwarder": FORWARDER,
                    "registry": NETWORK.registry,
                    "factory": NETWORK.factory,
                    "domain": DOMAIN.as_dict(),
                    "tokens": [{"region": 41390, "token": TOKEN, "name": "S", "symbol": "S"}],
                },
            )
        if path.startswith("/v1/nonces/"):
            held = [s.request.nonce for s in self.submitted]
            nonce = max([self.chain_nonce - 1, *held]) + 1
            return httpx.Response(200, json={"address": KEY.address, "nonce": str(nonce)})
        if path == "/v1/requests" and signed is not None:
            rid = request_id(DOMAIN, signed)
            self.submitted.append(signed)
            self.states.setdefault(rid, {"id": rid, "status": "queued"})
            return httpx.Response(202, json={"id": rid, "status": "queued"})
        if path.startswith("/v1/requests/"):
            state = self.states.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, json=state) if state else problem("NotFound", 404)
        if path.endswith("/balances"):
            balance = {"token": TOKEN, "symbol": "S", "general": 100, "pockets": self.pockets}
            balance["total"] = 100 + sum(int(str(p["amount"])) for p in self.pockets)
            return httpx.Response(200, json=[balance])
        return httpx.Response(404, json={"detail": "Not Found"})

    def auth(self, request: httpx.Request) -> httpx.Response:
        """Sign-in as the gateway does it: the SDK's message must pass the siwe package."""
        path = request.url.path
        if path == "/v1/auth/nonce":
            offer = {"nonce": "0123456789abcdef", "expires_at": time.time() + 60,
                     "domain": "gateway.test", "uri": "http://gateway.test",
                     "chain_id": CHAIN_ID, "statement": "Sign in to Dongne"}  # fmt: skip
            return httpx.Response(200, json=offer)
        if path == "/v1/auth/refresh":
            self.sessions += 1
            return httpx.Response(200, json={
                "address": KEY.address, "token_type": "Bearer",
                "access_token": f"token-{self.sessions}", "expires_at": 0,
                "refresh_token": f"refresh-{self.sessions}", "refresh_expires_at": 0,
            })  # fmt: skip
        if path == "/v1/auth/login":
            body = json.loads(request.content)
            message = SiweMessage.from_message(message=body["message"])
            message.verify(body["signature"], domain="gateway.test", nonce="0123456789abcdef")
            self.sessions += 1
            return httpx.Response(200, json={
                "address": message.address, "token_type": "Bearer",
                "access_token": f"token-{self.sessions}", "expires_at": 0,
                "refresh_token": f"refresh-{self.sessions}", "refresh_expires_at": 0,
            })  # fmt: skip
        return httpx.Response(204)

    def client(self, **kw: object) -> DongneClient:
        options: dict[str, object] = {"backoff_s": 0.0, "network": NETWORK, **kw}
        return DongneClient(
            "http://gateway.test",
            KEY,
            transport=httpx.MockTransport(self),
            **options,  # type: ignore[arg-type]
        )


def pay_programs(signed: SignedRequest) -> list[int]:
    assert signed.request.data[:4] == SELECTORS["pay"]
    _, _, _, ids = abi_decode(
        ["address", "uint256", "bytes32", "uint256[]"], signed.request.data[4:]
    )
    return list(ids)


def pocket(program_id: int, balance: int, start: int, expiry: int) -> dict[str, object]:
    return {
        "program_id": program_id,
        "amount": balance,
        "start_time": start,
        "expiry": expiry,
        "closed": False,
    }


# ------------------------------------------------------------------------------ requests


@settings(max_examples=40, deadline=None)
@given(
    secret=st.integers(1, 2**255),
    to=st.binary(min_size=20, max_size=20),
    data=st.binary(max_size=300),
    nonce=st.integers(0, 2**256 - 1),
    deadline=st.integers(0, 2**48 - 1),
    gas=st.integers(0, 2**256 - 1),
)
def test_request_encoding_round_trips(
    secret: int, to: bytes, data: bytes, nonce: int, deadline: int, gas: int
) -> None:
    key = LocalKey(secret.to_bytes(32, "big"))
    sent: list[dict[str, object]] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        rid = request_id(DOMAIN, signed_request_from_json(body))
        return httpx.Response(202, json={"id": rid, "status": "queued"})

    with DongneClient(
        "http://gateway.test", key, network=NETWORK, transport=httpx.MockTransport(gateway)
    ) as client:
        signed = client.prepare("0x" + to.hex(), data, nonce=nonce, deadline=deadline, gas=gas)
        submission = client.submit_signed(signed)
    (body,) = sent
    parsed = signed_request_from_json(body)
    assert parsed == signed == submission.request
    assert body == signed_request_to_json(signed)
    assert recover_signer(DOMAIN, parsed) == key.address
    assert (parsed.request.nonce, parsed.request.deadline, parsed.request.gas) == (
        nonce,
        deadline,
        gas,
    )


def test_defaults_deadline_gas_and_pipelined_nonces() -> None:
    fake = FakeGateway(chain_nonce=7)
    with fake.client(gas=300_000, deadline_s=60) as client:
        subs = [client.gift(TOKEN, MERCHANT, 1_000 + i) for i in range(3)]
    assert [s.nonce for s in subs] == [7, 8, 9]
    assert fake.log.count(f"GET /v1/nonces/{KEY.address}") == 1  # then the local counter
    for s in subs:
        assert s.request.request.gas == 300_000
        assert abs(s.deadline - (time.time() + 60)) < 5
        assert s.request.request.data == encode_gift(MERCHANT, 1_000 + s.nonce - 7)


def test_rejection_frees_the_nonce_for_the_next_request() -> None:
    fake = FakeGateway(chain_nonce=2)

    def reject_big(request: httpx.Request, signed: SignedRequest | None) -> httpx.Response | None:
        if signed is not None and signed.request.data == encode_gift(MERCHANT, 10**9):
            return problem("VoucherInsufficientBalance", 422, {"needed": 10**9})
        return None

    fake.rules.append(reject_big)
    with fake.client() as client:
        with pytest.raises(x.VoucherInsufficientBalance) as info:
            client.gift(TOKEN, MERCHANT, 10**9)
        assert info.value.needed == 10**9
        assert info.value.status == 422
        assert info.value.detail == "VoucherInsufficientBalance happened"
        assert client.gift(TOKEN, MERCHANT, 5).nonce == 2


def test_nonce_used_elsewhere_is_replaced_once() -> None:
    fake = FakeGateway()

    def too_low(request: httpx.Request, signed: SignedRequest | None) -> httpx.Response | None:
        if signed is not None and signed.request.nonce < fake.chain_nonce:
            return problem("NonceTooLow", 409, {"nonce": signed.request.nonce, "next": 5})
        return None

    fake.rules.append(too_low)
    with fake.client() as client:
        assert client.gift(TOKEN, MERCHANT, 5).nonce == 0
        fake.chain_nonce = 5  # another device of this wallet used nonces 1..4
        assert client.gift(TOKEN, MERCHANT, 5).nonce == 5
        assert client.gift(TOKEN, MERCHANT, 5).nonce == 6
        # A signed request is sent as is: no replacement.
        stale = client.prepare(TOKEN, encode_gift(MERCHANT, 1), nonce=0)
        with pytest.raises(x.NonceTooLow) as info:
            client.submit_signed(stale)
        assert (info.value.nonce, info.value.next_nonce) == (0, 5)


def test_retryable_answers_are_retried_then_raised() -> None:
    fake = FakeGateway()
    failures = iter([problem("NodeUnavailable", 503), problem("RateLimited", 429)])

    def flaky(request: httpx.Request, signed: SignedRequest | None) -> httpx.Response | None:
        return next(failures, None) if signed is not None else None

    fake.rules.append(flaky)
    with fake.client() as client:
        assert client.gift(TOKEN, MERCHANT, 5).status == "queued"
    assert fake.log.count("POST /v1/requests") == 3

    down = FakeGateway(rules=[lambda r, s: problem("DatabaseUnavailable", 503)])
    with down.client(retries=1) as client, pytest.raises(x.DatabaseUnavailable) as info:
        client.balances()
    assert info.value.retry_after == 0.0
    assert down.log.count(f"GET /v1/wallets/{KEY.address}/balances") == 2


def test_answers_that_are_not_problems() -> None:
    proxy = FakeGateway(rules=[lambda r, s: httpx.Response(502, text="bad gateway")])
    with proxy.client(retries=0) as client, pytest.raises(GatewayUnavailableError) as info:
        client.status("0x" + "00" * 32)
    assert info.value.status == 502
    teapot = FakeGateway(rules=[lambda r, s: httpx.Response(418, text="no")])
    with teapot.client() as client, pytest.raises(GatewayError) as err:
        client.status("0x" + "00" * 32)
    assert (err.value.code, err.value.status) == ("HTTP_418", 418)
    with FakeGateway().client() as client, pytest.raises(x.NotFound):
        client.program(TOKEN, 1)  # an endpoint this gateway lacks
    garbage = FakeGateway(rules=[lambda r, s: httpx.Response(200, json={"id": 5})])
    with garbage.client() as client, pytest.raises(UnexpectedResponseError):
        client.status("0x" + "00" * 32)


def test_wrong_request_id_is_refused() -> None:
    liar = FakeGateway(
        rules=[
            lambda r, s: (
                httpx.Response(202, json={"id": "0x" + "00" * 32, "status": "queued"})
                if s
                else None
            )
        ]
    )
    with liar.client() as client, pytest.raises(UnexpectedResponseError):
        client.gift(TOKEN, MERCHANT, 1)


def test_unreachable_gateway_is_a_transport_error() -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    with (
        DongneClient(
            "http://gateway.test", KEY, backoff_s=0.0, transport=httpx.MockTransport(refuse)
        ) as client,
        pytest.raises(TransportError) as info,
    ):
        client.network()
    assert type(info.value) is TransportError
    assert isinstance(info.value, ConnectionError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(calls) == 3  # retries=2


def test_wrong_chain_is_refused() -> None:
    with FakeGateway().client(network=None, chain_id=1) as client, pytest.raises(x.WrongChain):
        client.network()


# ------------------------------------------------------------------------------ wait


def test_wait_raises_the_typed_error_of_a_failed_request() -> None:
    fake = FakeGateway()
    with fake.client(poll_interval_s=0.01) as client:
        sub = client.gift(TOKEN, MERCHANT, 5)
        polls = iter(["queued", "submitted", "failed"])

        def progress(request: httpx.Request, signed: SignedRequest | None) -> httpx.Response | None:
            if request.url.path != f"/v1/requests/{sub.id}":
                return None
            status = next(polls)
            error = None
            if status == "failed":
                error = {
                    "code": "VoucherInsufficientBalance",
                    "args": {"holder": KEY.address, "balance": 1, "needed": 5},
                }
            state = {
                "id": sub.id,
                "status": status,
                "signer": KEY.address,
                "nonce": str(sub.nonce),
                "tx_hash": "0x" + "ee" * 32,
                "block_number": 12,
                "error": error,
            }
            return httpx.Response(200, json=state)

        fake.rules.append(progress)
        with pytest.raises(x.VoucherInsufficientBalance) as info:
            client.wait(sub, timeout=5)
    err = info.value
    assert (err.request_id, err.tx_hash, err.needed, err.balance) == (
        sub.id,
        "0x" + "ee" * 32,
        5,
        1,
    )


def test_wait_times_out_and_returns_success() -> None:
    fake = FakeGateway()
    with fake.client(poll_interval_s=0.01) as client:
        sub = client.gift(TOKEN, MERCHANT, 5)
        with pytest.raises(WaitTimeoutError) as info:
            client.wait(sub.id, timeout=0.05)
        assert isinstance(info.value, TimeoutError)
        assert info.value.last_status == "queued"
        fake.states[sub.id] = {"id": sub.id, "status": "succeeded", "tx_hash": "0x1", "nonce": "0"}
        state = client.wait(sub.id)
    assert state.final
    assert state.exception() is None
    assert (state.nonce, state.error_code) == (0, None)


def test_a_failure_that_left_the_nonce_unused_resyncs_the_counter() -> None:
    fake = FakeGateway(chain_nonce=4)
    with fake.client() as client:
        sub = client.gift(TOKEN, MERCHANT, 5)
        fake.states[sub.id] = {
            "id": sub.id,
            "status": "failed",
            "signer": KEY.address,
            "error": {"code": "RequestExpired", "args": {"deadline": 1}},
        }
        with pytest.raises(x.RequestExpired):
            client.wait(sub.id)
        fake.submitted.clear()  # the gateway no longer holds nonce 4
        assert client.gift(TOKEN, MERCHANT, 5).nonce == 4


# ------------------------------------------------------------------------------ pockets


def test_order_pockets_soonest_expiry_first_skipping_unusable() -> None:
    now = 1_800_000_000
    pockets = [
        Pocket(1, 500, now - 100, now + 300),  # second to expire
        Pocket(2, 500, now - 100, now + 100),  # first to expire
        Pocket(3, 500, now - 100, now),  # expired at now (expiry is exclusive)
        Pocket(4, 500, now + 1, now + 50),  # not started
        Pocket(5, 0, now - 100, now + 10),  # empty
        Pocket(6, 500, now - 100, now + 10, closed=True),
        Pocket(7, 500, now, now + 300),  # starts now; ties with 1 broken by id
    ]
    assert order_pockets(pockets, now=now) == [2, 1, 7]
    assert order_pockets(pockets, now=now, amount=400) == [2]
    assert order_pockets(pockets, now=now, amount=500) == [2]
    assert order_pockets(pockets, now=now, amount=501) == [2, 1]
    assert order_pockets(pockets, now=now, amount=10**6) == [2, 1, 7]
    assert order_pockets([], now=now, amount=5) == []


@given(
    st.lists(
        st.builds(
            Pocket,
            program_id=st.integers(1, 30),
            amount=st.integers(0, 1_000),
            start_time=st.integers(0, 200),
            expiry=st.integers(0, 200),
            closed=st.booleans(),
        ),
        max_size=12,
    ),
    st.integers(0, 200),
)
def test_order_pockets_properties(pockets: list[Pocket], now: int) -> None:
    chosen = order_pockets(pockets, now=now)
    assert len(chosen) == len(set(chosen))
    for program_id in chosen:
        assert any(p.program_id == program_id and p.usable(now) for p in pockets)
    expiries = [
        min(p.expiry for p in pockets if p.program_id == i and p.usable(now)) for i in chosen
    ]
    assert expiries == sorted(expiries)
    usable = {p.program_id for p in pockets if p.usable(now)}
    assert set(chosen) == usable


def test_auto_pockets_in_a_payment_and_retry_without_a_refused_one() -> None:
    now = int(time.time())
    fake = FakeGateway(
        pockets=[
            pocket(1, 3_000, now - 10, now + 2 * 86_400),
            pocket(2, 4_000, now - 10, now + 86_400),
            pocket(3, 9_000, now + 86_400, now + 3 * 86_400),  # not started
            pocket(4, 1_000, now - 10, now + 3_600),  # expires first, but wrong category
        ]
    )

    def category(request: httpx.Request, signed: SignedRequest | None) -> httpx.Response | None:
        if signed is not None and 4 in pay_programs(signed):
            return problem("ProgramCategoryNotAllowed", 422, {"programId": 4, "category": 56111})
        return None

    fake.rules.append(category)
    with fake.client() as client:
        payment = client.pay(TOKEN, MERCHANT, 6_000)
        assert payment.program_ids == (2, 1)
        assert pay_programs(payment.request) == [2, 1]
        assert [pay_programs(s) for s in fake.submitted] == [[2, 1]]
        assert payment.nonce == 0  # the refused attempt's nonce was reused
        explicit = client.pay(TOKEN, MERCHANT, 10, pockets=[1], payment_id=b"\x01" * 32)
        assert explicit.program_ids == (1,)
        assert explicit.payment_id == b"\x01" * 32
        with pytest.raises(x.ProgramCategoryNotAllowed) as info:
            client.pay(TOKEN, MERCHANT, 10, pockets=[4, 1])  # chosen by the caller: no retry
        assert info.value.program_id == 4


def test_auto_pockets_without_a_query_api_pay_from_general() -> None:
    missing = FakeGateway(
        rules=[
            lambda r, s: (
                httpx.Response(404, json={"detail": "Not Found"})
                if r.url.path.endswith("/balances")
                else None
            )
        ]
    )
    with missing.client() as client:
        assert client.pay(TOKEN, MERCHANT, 10).program_ids == ()


def test_pay_invoice() -> None:
    now = int(time.time())
    invoice = PaymentRequest(TOKEN, CHAIN_ID, MERCHANT, 2_500, b"\x09" * 32, now + 120, "Cafe")
    fake = FakeGateway()
    with fake.client() as client:
        payment = client.pay_invoice(invoice)
        assert payment.payment_id == b"\x09" * 32
        assert payment.request.request.deadline == now + 120  # expires with the invoice
        _, amount, payment_id, _ = abi_decode(
            ["address", "uint256", "bytes32", "uint256[]"], payment.request.request.data[4:]
        )
        assert (amount, payment_id) == (2_500, b"\x09" * 32)
        expired = PaymentRequest(TOKEN, CHAIN_ID, MERCHANT, 2_500, b"\x09" * 32, now - 1)
        with pytest.raises(InvoiceExpiredError):
            client.pay_invoice(expired)
        other_chain = PaymentRequest(TOKEN, 1, MERCHANT)
        with pytest.raises(x.WrongChain):
            client.pay_invoice(other_chain, amount=10)
        static = PaymentRequest(TOKEN, CHAIN_ID, MERCHANT)
        with pytest.raises(ValueError, match="amount"):
            client.pay_invoice(static)
        assert client.pay_invoice(static, amount=700).program_ids == ()
    assert len(fake.submitted) == 2


def test_payment_record_from_history() -> None:
    payer = "0x" + "ab" * 20
    item = HistoryItem(
        holder=MERCHANT,
        kind="payment",
        token=TOKEN,
        block_number=5,
        log_index=1,
        tx_hash="0x" + "cd" * 32,
        block_time=1,
        direction="in",
        amount=6_000,
        counterparty=payer,
        details={
            "payment_id": "0x" + "01" * 32,
            "seq": 3,
            "from_general": 2_000,
            "from_pockets": 4_000,
            "cashback": 200,
            "pockets": [{"program_id": 2, "amount": 4_000}],
        },
    )
    assert item.payment_record() == PaymentRecord(
        payer, 3, b"\x01" * 32, 6_000, 2_000, 200, (2,), (4_000,)
    )


# ------------------------------------------------------------------------------ async


def test_async_client_shares_the_behaviour() -> None:
    now = int(time.time())
    fake = FakeGateway(chain_nonce=3, pockets=[pocket(9, 50, now - 1, now + 60)])

    async def scenario() -> None:
        async with AsyncDongneClient(
            "http://gateway.test", KEY, backoff_s=0.0, transport=httpx.MockTransport(fake)
        ) as client:
            assert (await client.network()).chain_id == CHAIN_ID
            payments = await asyncio.gather(*(client.pay(TOKEN, MERCHANT, 10) for _ in range(4)))
            assert sorted(p.nonce for p in payments) == [3, 4, 5, 6]
            assert {p.program_ids for p in payments} == {(9,)}
            with pytest.raises(x.NotFound):
                await client.status("0x" + "00" * 32)
            balances = await client.balances()
            assert balances.of(TOKEN).pockets[0].amount == 50
            assert balances.of(MERCHANT).general == 0

    asyncio.run(scenario())
    assert fake.log.count(f"GET /v1/nonces/{KEY.address}") <= 4


def test_a_bad_argument_leaves_no_nonce_hole() -> None:
    fake = FakeGateway(chain_nonce=3)
    with fake.client() as client:
        with pytest.raises(ValueError, match="to"):
            client.prepare("not an address", b"\x00" * 4)
        assert client.gift(TOKEN, MERCHANT, 1).nonce == 3
        assert client.gift(TOKEN, MERCHANT, 1).nonce == 4


def test_cancelled_submission_makes_the_client_ask_for_the_nonce_again() -> None:
    fake = FakeGateway(chain_nonce=0)
    posts: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(1)
            if len(posts) == 2:
                await asyncio.sleep(30)  # the answer never comes before the cancellation
        return fake(request)

    async def scenario() -> None:
        async with AsyncDongneClient(
            "http://gateway.test", KEY, network=NETWORK, transport=httpx.MockTransport(handler)
        ) as client:
            first = await client.gift(TOKEN, MERCHANT, 1)
            assert first.nonce == 0
            task = asyncio.create_task(client.gift(TOKEN, MERCHANT, 2))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Whether or not the gateway got it, the client asks rather than guessing.
            second = await client.gift(TOKEN, MERCHANT, 3)
            assert second.nonce == 1

    asyncio.run(scenario())
    assert fake.log.count(f"GET /v1/nonces/{KEY.address}") == 2


def test_lost_submission_names_its_request_and_resyncs_the_nonce() -> None:
    fake = FakeGateway(chain_nonce=0)

    def cut(request: httpx.Request, signed: SignedRequest | None) -> httpx.Response | None:
        if signed is not None and signed.request.data == encode_gift(MERCHANT, 13):
            raise httpx.ReadTimeout("no answer", request=request)
        return None

    fake.rules.append(cut)
    with fake.client() as client:
        signed = client.prepare(TOKEN, encode_gift(MERCHANT, 13))
        with pytest.raises(TransportError) as info:
            client.submit_signed(signed)
        assert info.value.request_id == request_id(DOMAIN, signed)
        assert fake.log.count("POST /v1/requests") == 3  # resent: the same request, same id
        with pytest.raises(x.NotFound):
            client.status(request_id(DOMAIN, signed))  # it never arrived
        assert client.gift(TOKEN, MERCHANT, 1).nonce == 0
    assert fake.log.count(f"GET /v1/nonces/{KEY.address}") == 2


def test_own_reads_sign_in_once_and_refresh_an_expired_session() -> None:
    seen: list[str | None] = []

    def expire_first(request: httpx.Request, signed: SignedRequest | None) -> httpx.Response | None:
        if request.url.path.endswith("/balances"):
            seen.append(request.headers.get("authorization"))
            if request.headers.get("authorization") == "Bearer token-1":
                return problem("AuthExpired", 401)
        return None

    fake = FakeGateway(rules=[expire_first])
    with fake.client() as client:
        client.balances()
        client.balances()
    assert seen == ["Bearer token-1", "Bearer token-2", "Bearer token-2"]
    assert fake.log.count("POST /v1/auth/login") == 1
    assert fake.log.count("POST /v1/auth/refresh") == 1


def test_overloaded_is_retried_after_the_gateways_spread_hint_not_the_whole_second() -> None:
    """The gateway spreads the wallets it refuses together over 0.5-1.5 s (``retry_after_ms``);
    Retry-After, whole seconds, is that rounded up. Following the header sent every wallet
    refused in one second back in the same second (and a 0.3 s hint back a second later)."""
    sent: list[float] = []

    def shed_once(request: httpx.Request, signed: SignedRequest | None) -> httpx.Response | None:
        if signed is None:
            return None
        sent.append(time.monotonic())
        if len(sent) > 1:
            return None
        args = {"reason": "intake_full", "retry_after": 1, "retry_after_ms": 300}
        answer = problem("Overloaded", 503, args)
        answer.headers["retry-after"] = "1"
        return answer

    fake = FakeGateway(rules=[shed_once])
    with fake.client() as client:
        assert client.gift(TOKEN, MERCHANT, 5).status == "queued"
    assert len(sent) == 2
    assert 0.3 <= sent[1] - sent[0] < 0.9

    refused = FakeGateway(rules=[lambda r, s: problem("Overloaded", 503, {
        "reason": "intake_full", "retry_after": 1, "retry_after_ms": 700})])  # fmt: skip
    with refused.client(retries=0) as client, pytest.raises(x.Overloaded) as info:
        client.gift(TOKEN, MERCHANT, 5)
    assert info.value.retry_after == 0.7
    assert (info.value.retry_after_ms, info.value.retry_after_s) == (700, 1)
