"""A relayed payment from the HTTP world's citizen, for the observability suites."""

from __future__ import annotations

import secrets
import time

import httpx
from eth_account.signers.local import LocalAccount

from chain.protocol.calls import encode_pay
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    sign_request,
    signed_request_to_json,
)

from .conftest import World, until


def relay_payment(
    world: World,
    amount: int,
    headers: dict[str, str] | None = None,
    *,
    payer: LocalAccount | None = None,
    gateway_url: str | None = None,
) -> httpx.Response:
    """Signs a payment of ``amount`` won to the world's merchant with the payer's key (the
    world's citizen by default), at its next nonce, and posts it to ``/v1/requests`` of the
    world's gateway (or ``gateway_url``)."""
    citizen = payer or world.accounts["citizen"]
    http = httpx.Client(base_url=gateway_url or world.gateway.url, timeout=30)
    nonce = int(http.get(f"/v1/nonces/{citizen.address}").json()["nonce"])
    manifest = world.net.manifest
    request = ForwardRequest(
        from_=citizen.address,
        to=world.siheung,
        value=0,
        gas=400_000,
        nonce=nonce,
        deadline=int(time.time()) + 300,
        data=encode_pay(world.accounts["merchant"].address, amount, secrets.token_bytes(32)),
    )
    signed = sign_request(
        bytes(citizen.key), ForwarderDomain(manifest.chain_id, manifest.forwarder), request
    )
    return http.post("/v1/requests", json=signed_request_to_json(signed), headers=headers or {})


def final_state(world: World, relay_id: str, gateway_url: str | None = None) -> dict[str, object]:
    """The request's state once it is final (succeeded or failed)."""
    http = httpx.Client(base_url=gateway_url or world.gateway.url, timeout=30)
    state: dict[str, object] = {}

    def final() -> bool:
        state.update(http.get(f"/v1/requests/{relay_id}").json())
        return state["status"] in ("succeeded", "failed")

    until(final, f"request {relay_id} final")
    return state
