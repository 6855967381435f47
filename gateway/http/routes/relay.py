"""Relay endpoints: submit a signed request, read its state, learn the network and nonces."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

import orjson
from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from chain.protocol.forwarder import ForwarderDomain
from chain.rpc import NodeUnavailableError, RpcError
from gateway.errors import GatewayError
from gateway.http.deps import ManifestDep, RelayerDep
from gateway.http.openapi import CONTRACT_CODES, codes
from gateway.http.params import ADDRESS_PATTERN
from gateway.http.responses import JSONBytes
from gateway.relayer.service import Relayer

router = APIRouter(prefix="/v1", tags=["relay"])


_DECIMAL = r"^[0-9]{1,78}$"
_BYTES32 = "^0x[0-9a-fA-F]{64}$"


class SignedRequestBody(BaseModel):
    """A ForwardRequest signed with EIP-712 by the wallet; integers as decimal strings. Only
    documents the body: the route parses it itself (orjson, then the intake's own checks)."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from", pattern=ADDRESS_PATTERN, description="the signer")
    to: str = Field(pattern=ADDRESS_PATTERN, description="a municipal voucher token")
    value: str = Field(pattern="^0$", description="always 0: vouchers move no ether")
    gas: str = Field(pattern=_DECIMAL)
    nonce: str = Field(pattern=_DECIMAL, description="the forwarder nonce (GET /v1/nonces)")
    deadline: str = Field(pattern=_DECIMAL, description="unix seconds")
    data: str = Field(
        pattern="^0x[0-9a-fA-F]{8}([0-9a-fA-F]{2})*$",
        description="the call: a function selector and its ABI-encoded arguments",
    )
    signature: str = Field(pattern="^0x[0-9a-fA-F]{130}$", description="65 bytes, 0x-hex")


class PaymentSignatureBody(BaseModel):
    """EIP-2098 compact signature: 32-byte r, and s with the recovery bit in its top bit."""

    r: str = Field(pattern=_BYTES32)
    vs: str = Field(pattern=_BYTES32)


class SignedPaymentBody(BaseModel):
    """A token-native signed payment (VoucherToken.payBySig): the EIP-712 ``SignedPayment``
    the payer signed under its city token's domain ("Dongne Voucher", "1", chain id, token),
    integers as decimal strings. Only documents the body: the route parses it itself."""

    token: str = Field(pattern=ADDRESS_PATTERN, description="the city's voucher token")
    payer: str = Field(pattern=ADDRESS_PATTERN, description="the signer")
    merchant: str = Field(pattern=ADDRESS_PATTERN)
    amount: str = Field(pattern=_DECIMAL, description="won")
    paymentId: str = Field(  # noqa: N815 - the struct's field name on the wire
        pattern=_BYTES32, description="an invoice's id, or 32 zero bytes"
    )
    programIds: list[str] = Field(  # noqa: N815
        max_length=32, description="the program pockets to spend first (decimal strings)"
    )
    nonce: str = Field(
        pattern=_DECIMAL,
        description="the payer's next payment sequence on the token "
        "(GET /v1/nonces/{address}?token=...)",
    )
    deadline: str = Field(pattern=_DECIMAL, description="unix seconds")
    signature: PaymentSignatureBody


class Accepted(BaseModel):
    id: str = Field(description="the request's id: keep it to follow the request")
    status: str


class RequestError(BaseModel):
    code: str
    args: dict[str, object]


class RequestState(BaseModel):
    id: str
    kind: Literal["forward", "payment"] = Field(
        description="a forwarder request (POST /v1/requests) or a signed payment "
        "(POST /v1/payments): for a payment, signer is the payer, target the token and "
        "nonce its payment sequence"
    )
    status: Literal["queued", "submitted", "succeeded", "failed"]
    signer: str | None
    target: str | None
    selector: str | None
    nonce: str | None
    tx_hash: str | None
    block_number: int | None
    error: RequestError | None
    created_at: float
    updated_at: float


class TokenEntry(BaseModel):
    region: int
    token: str
    name: str
    symbol: str


class Network(BaseModel):
    chain_id: int
    forwarder: str
    registry: str
    factory: str
    domain: dict[str, str | int] = Field(description="the forwarder's EIP-712 domain")
    tokens: list[TokenEntry]


class NextNonce(BaseModel):
    address: str
    nonce: str
    token: str | None = Field(
        default=None, description="set when the nonce is a payment sequence on this token"
    )


_INTAKE_CODES = (
    "GasTooLow", "DeadlineTooFar", "RequestExpired", "WrongChain", "InvalidSignature",
    "SignerUnregistered", "SignerFrozen", "TargetNotAllowed", "SelectorNotAllowed",
    "NonceTooLow", "NonceConflict", "NonceTooHigh", "RateLimited", "SignerThrottled",
    "NodeUnavailable", "DatabaseUnavailable", "NotReady", "RelayerBusy", "Overloaded",
)  # fmt: skip


@router.post(
    "/requests",
    status_code=202,
    response_class=JSONBytes,
    response_model=Accepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SignedRequestBody.model_json_schema()}},
        },
        **codes(*_INTAKE_CODES, *CONTRACT_CODES),
    },
)
async def submit_request(request: Request) -> JSONBytes:
    """Accepts a signed request: 202 once it is stored. The same request sent again gets the
    same id and is executed at most once."""
    return await _submit(request, payment=False)


async def _submit(request: Request, *, payment: bool) -> JSONBytes:
    body = await request.body()
    try:
        # orjson bounds nesting depth, so a hostile body cannot exhaust the stack.
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise GatewayError("InvalidRequest", "body is not valid JSON") from None
    # The relayer straight from app state: a dependency costs measurable time on this path.
    relayer: Relayer = request.app.state.relayer
    rid, status, _created = await relayer.intake.submit(parsed, payment=payment)
    return JSONBytes({"id": rid, "status": status}, status_code=202)


_PAYMENT_CODES = (
    "TargetNotAllowed", "VoucherSignedPaymentExpired", "DeadlineTooFar",
    "VoucherInvalidPaymentSignature", "SignerUnregistered", "SignerFrozen",
    "VoucherInvalidPaymentNonce", "NonceTooHigh", "RateLimited", "NodeUnavailable",
    "DatabaseUnavailable",
    "NotReady", "RelayerBusy", "Overloaded",
)  # fmt: skip


@router.post(
    "/payments",
    status_code=202,
    response_class=JSONBytes,
    response_model=Accepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SignedPaymentBody.model_json_schema()}},
        },
        **codes(*_PAYMENT_CODES, *CONTRACT_CODES),
    },
)
async def submit_payment(request: Request) -> JSONBytes:
    """Accepts a token-native signed payment (payBySig): 202 once it is stored; relayed in a
    payBySigBatch of its token (cheaper than a forwarded pay: README "Signed payments").
    Follow it with GET /v1/requests/{id}. The same payment sent again gets the same id and
    is paid at most once (its nonce is the payer's payment sequence)."""
    return await _submit(request, payment=True)


@router.get(
    "/requests/{request_id}",
    response_model=RequestState,
    response_class=JSONBytes,
    openapi_extra=codes("NotFound", "DatabaseUnavailable"),
)
async def get_request(
    request_id: Annotated[str, Path(pattern="^0x[0-9a-fA-F]{64}$")], relayer: RelayerDep
) -> JSONBytes:
    stored = await asyncio.to_thread(relayer.store.get, request_id.lower())
    if stored is None:
        raise GatewayError("NotFound", "no such request", {"id": request_id})
    return JSONBytes(stored.public())


@router.get("/network", response_class=JSONBytes, response_model=Network)
async def network(manifest: ManifestDep) -> JSONBytes:
    """What a wallet needs to sign: the chain, the forwarder's EIP-712 domain, the tokens."""
    domain = ForwarderDomain(manifest.chain_id, manifest.forwarder)
    return JSONBytes(
        {
            "chain_id": manifest.chain_id,
            "forwarder": manifest.forwarder,
            "registry": manifest.registry,
            "factory": manifest.factory,
            "domain": domain.as_dict(),
            "tokens": [
                {"region": m.region, "token": m.token, "name": m.name, "symbol": m.symbol}
                for m in sorted(manifest.municipalities.values(), key=lambda m: m.region)
            ],
        }
    )


@router.get(
    "/nonces/{address}",
    response_class=JSONBytes,
    response_model=NextNonce,
    openapi_extra=codes("NodeUnavailable", "TargetNotAllowed"),
)
async def next_nonce(
    address: Annotated[str, Path(pattern=ADDRESS_PATTERN)],
    relayer: RelayerDep,
    token: Annotated[
        str | None,
        Query(
            pattern=ADDRESS_PATTERN,
            description="a city token: the payer's next payment sequence there (the nonce "
            "of a signed payment, POST /v1/payments) instead of the forwarder nonce",
        ),
    ] = None,
) -> JSONBytes:
    """The forwarder nonce a wallet should sign next, or with ``token`` its next signed
    payment's nonce on that token; both count requests still in flight."""
    signer = to_checksum_address(address)
    try:
        if token is None:
            nonce = await relayer.next_nonce(signer)
        else:
            token = to_checksum_address(token)
            nonce = await relayer.next_payment_nonce(token, signer)
    except (NodeUnavailableError, RpcError) as exc:
        raise GatewayError("NodeUnavailable", f"cannot read the nonce: {exc}") from None
    return JSONBytes({"address": signer, "nonce": str(nonce), "token": token})
