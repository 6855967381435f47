"""The CLI's client of the gateway's API: auditors' reports, sign-in, API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import EXIT_FAILED, EXIT_UNAVAILABLE, exit_for_status, fail

GatewayUrl = Annotated[
    str, typer.Option("--gateway", envvar="DONGNE_GATEWAY_URL", help="Gateway base URL.")
]


def _request(
    gateway: str, method: str, path: str, body: object, params: dict[str, str | int | None]
) -> object:
    import httpx

    from gateway.cli.session import session_headers

    query = {k: v for k, v in params.items() if v is not None}
    try:
        return httpx.request(
            method, gateway.rstrip("/") + path, params=query, json=body,
            headers=session_headers(gateway), timeout=600,
        )  # fmt: skip
    except httpx.HTTPError as exc:
        fail(f"gateway at {gateway} unreachable: {exc}", EXIT_UNAVAILABLE, "GatewayUnavailable")


def gateway_call(
    gateway: str, method: str, path: str, *, body: object = None, **params: str | int | None
) -> object:
    """One call to the gateway, signed in with the session `dongne login` saved for it."""
    return answer(_request(gateway, method, path, body, params))


def gateway_bytes(gateway: str, path: str, **params: str | int | None) -> bytes:
    """A GET's answer as the bytes sent (a bank file keeps its own encoding)."""
    response = _request(gateway, "GET", path, None, params)
    status = getattr(response, "status_code", 500)
    if status >= 400:
        answer(response)  # fails with the problem's code
    return bytes(getattr(response, "content", b""))


def gateway_get(gateway: str, path: str, **params: str | int | None) -> object:
    """Auditors' reports come from the gateway's index (the chain is read for reconciliation)."""
    return gateway_call(gateway, "GET", path, **params)


def gateway_post(gateway: str, path: str, body: object) -> object:
    return gateway_call(gateway, "POST", path, body=body)


def answer(response: object) -> object:
    import httpx

    assert isinstance(response, httpx.Response)
    if response.status_code >= 400:
        status = response.status_code
        try:
            problem = response.json()
        except ValueError:
            fail(f"HTTP {status}: {response.text[:200]}", exit_for_status(status), "HTTPError")
        code = str(problem.get("code"))
        hint = (
            " (run `dongne login`)"
            if code in ("AuthRequired", "AuthExpired", "AuthInvalid")
            else ""
        )
        fail(f"{code}: {problem.get('detail')}{hint}", exit_for_status(status), code)
    if response.status_code == 204:
        return None
    if "json" in response.headers.get("content-type", ""):
        return response.json()
    return response.text


def token_of(gateway: str, region: int) -> str:
    network = gateway_get(gateway, "/v1/network")
    assert isinstance(network, dict)
    for token in network.get("tokens", []):
        if token["region"] == region:
            return str(token["token"])
    fail(f"no municipality with region {region} on this network", EXIT_FAILED, "NotFound")
