"""A relayed payment from the HTTP world's citizen, for the observability suites."""

from __future__ import annotations

import secrets
import time

import httpx

from chain.protocol.calls import encode_pay
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    sign_request,
    signed_request_to_json,
)

from .conftest import World, until


def relay_payment(
    world: World, amount: int, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Signs a payment of ``amount`` won to the world's merchant with the citizen's key, at its
    next nonce, and posts it to ``/v1/requests``."""
    citizen = world.accounts["citizen"]
    http = httpx.Client(base_url=world.gateway.url, timeout=30)
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


def final_state(world: World, relay_id: str) -> dict[str, object]:
    """The request's state once it is final (succeeded or failed)."""
    http = httpx.Client(base_url=world.gateway.url, timeout=30)
    state: dict[str, object] = {}

    def final() -> bool:
        state.update(http.get(f"/v1/requests/{relay_id}").json())
        return state["status"] in ("succeeded", "failed")

    until(final, f"request {relay_id} final")
    return state
