"""Relay endpoints: submit a signed request, read its state, learn the network and nonces."""

from __future__ import annotations

import asyncio

import orjson
from eth_utils.address import is_address, to_checksum_address
from fastapi import APIRouter, Request
from pydantic import BaseModel

from chain.protocol.forwarder import ForwarderDomain
from gateway.errors import GatewayError
from gateway.http.deps import ManifestDep, RelayerDep
from gateway.http.responses import JSONBytes
from gateway.relayer.service import Relayer

router = APIRouter(prefix="/v1", tags=["relay"])


class SignedRequestBody(BaseModel):
    """A ForwardRequest signed with EIP-712 by the wallet; integers as decimal strings."""

    model_config = {"populate_by_name": True}

    from_: str
    to: str
    value: str
    gas: str
    nonce: str
    deadline: str
    data: str
    signature: str


class RequestState(BaseModel):
    id: str
    status: str
    signer: str | None = None
    nonce: str | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    error: dict[str, object] | None = None


@router.post(
    "/requests",
    status_code=202,
    response_class=JSONBytes,
    responses={202: {"model": RequestState}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SignedRequestBody.model_json_schema()}},
        }
    },
)
async def submit_request(request: Request) -> JSONBytes:
    """Accepts a signed request: 202 once it is stored. The same request sent again gets the
    same id and is executed at most once."""
    body = await request.body()
    try:
        # orjson bounds nesting depth, so a hostile body cannot exhaust the stack.
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise GatewayError("InvalidRequest", "body is not valid JSON") from None
    # The relayer straight from app state: a dependency costs measurable time on this path.
    relayer: Relayer = request.app.state.relayer
    rid, status, _created = await relayer.intake.submit(parsed)
    return JSONBytes({"id": rid, "status": status}, status_code=202)


@router.get("/requests/{request_id}", response_model=RequestState, response_class=JSONBytes)
async def get_request(request_id: str, relayer: RelayerDep) -> JSONBytes:
    if len(request_id) != 66 or not request_id.startswith("0x"):
        raise GatewayError("InvalidRequest", "request id is a 0x-prefixed 32-byte hash")
    stored = await asyncio.to_thread(relayer.store.get, request_id.lower())
    if stored is None:
        raise GatewayError("NotFound", "no such request", {"id": request_id})
    return JSONBytes(stored.public())


@router.get("/network", response_class=JSONBytes)
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


@router.get("/nonces/{address}", response_class=JSONBytes)
async def next_nonce(address: str, relayer: RelayerDep) -> JSONBytes:
    """The forwarder nonce a wallet should sign next, counting requests still in flight."""
    if not is_address(address):
        raise GatewayError("InvalidRequest", "not an address", {"address": address})
    signer = to_checksum_address(address)
    nonce = relayer.next_nonce(signer)
    if nonce is None:
        nonce = await relayer.view.forwarder_nonce(signer)
        relayer.nonces.chain_next.setdefault(signer, nonce)
        nonce = relayer.next_nonce(signer) or nonce
    return JSONBytes({"address": signer, "nonce": str(nonce)})
