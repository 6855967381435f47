"""Reading the gateway's answers: JSON bodies into :mod:`~wallet_sdk.client.models`, and
problem+json error answers into the exception class named by their ``code``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import httpx

from chain.protocol.forwarder import ForwarderDomain
from wallet_sdk.client.fields import Fields
from wallet_sdk.client.models import (
    Balances,
    HistoryItem,
    HistoryPage,
    NetworkInfo,
    Pocket,
    ProgramInfo,
    RequestState,
    TokenBalance,
    TokenInfo,
)
from wallet_sdk.exceptions import NotFound
from wallet_sdk.exceptions.base import (
    DongneError,
    GatewayError,
    GatewayUnavailableError,
    UnexpectedResponseError,
    error_for,
)

__all__ = [
    "parse_balances",
    "parse_history",
    "parse_network",
    "parse_program",
    "parse_state",
    "problem_error",
    "read_json",
]


def read_json(response: httpx.Response) -> object:
    try:
        body: object = response.json()
    except ValueError:
        raise UnexpectedResponseError(
            f"{response.request.method} {response.request.url.path}: answer is not JSON",
            status=response.status_code,
        ) from None
    return body


def problem_error(response: httpx.Response) -> DongneError:
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
        error.retry_after = _retry_after(response.headers.get("retry-after"), body)
    return error


def _retry_after(header: str | None, body: object) -> float | None:
    """Seconds to wait: the problem's ``args.retry_after_ms`` when it has one (the gateway
    spreads the wallets it refuses together over a range finer than Retry-After's whole
    seconds, which is that hint rounded up, for clients that only read headers), else the
    header."""
    args = body.get("args") if isinstance(body, Mapping) else None
    hint = args.get("retry_after_ms") if isinstance(args, Mapping) else None
    if isinstance(hint, int | float) and not isinstance(hint, bool) and hint >= 0:
        return hint / 1000
    try:
        return max(0.0, float(header)) if header is not None else None
    except ValueError:
        return None  # an HTTP date; the gateway sends seconds


def parse_network(body: object) -> NetworkInfo:
    fields = Fields(body, "network")
    domain_fields = Fields(fields.raw("domain"), "network domain")
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
        token = Fields(item, "network token")
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


def parse_state(body: object) -> RequestState:
    fields = Fields(body, "request state")
    error = fields.raw("error")
    error_fields = Fields(error, "request error") if error is not None else None
    return RequestState(
        id=fields.text("id"),
        status=fields.text("status"),
        signer=fields.optional_text("signer"),
        nonce=fields.optional_integer("nonce"),
        tx_hash=fields.optional_text("tx_hash"),
        block_number=fields.optional_integer("block_number"),
        error_code=error_fields.text("code") if error_fields else None,
        error_args=dict(error_fields.mapping("args")) if error_fields else {},
        target=fields.optional_text("target"),
        selector=fields.optional_text("selector"),
        created_at=_optional_float(fields.raw("created_at")),
        updated_at=_optional_float(fields.raw("updated_at")),
    )


def _optional_float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def parse_balances(body: object) -> Balances:
    if not isinstance(body, list):
        raise UnexpectedResponseError("balances: expected a JSON array")
    items: list[object] = body
    out = []
    for item in items:
        fields = Fields(item, "token balance")
        pockets = []
        for raw in fields.array("pockets"):
            pocket = Fields(raw, "pocket")
            pockets.append(
                Pocket(
                    program_id=pocket.integer("program_id"),
                    amount=pocket.integer("amount"),
                    start_time=pocket.integer("start_time"),
                    expiry=pocket.integer("expiry"),
                    closed=pocket.flag("closed"),
                )
            )
        out.append(
            TokenBalance(
                token=fields.text("token"),
                symbol=fields.text("symbol"),
                general=fields.integer("general"),
                pockets=tuple(pockets),
                total=fields.integer("total"),
            )
        )
    return Balances(tuple(out))


def parse_history(body: object, holder: str) -> HistoryPage:
    fields = Fields(body, "history")
    items = []
    for raw in fields.array("items"):
        item = Fields(raw, "history item")
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


def parse_program(body: object) -> ProgramInfo:
    fields = Fields(body, "program")
    return ProgramInfo(
        token=fields.text("token"),
        program_id=fields.integer("program_id"),
        start_time=fields.integer("start_time"),
        expiry=fields.integer("expiry"),
        closed=fields.flag("closed"),
        categories=tuple(
            Fields({"c": c}, "program category").integer("c") for c in fields.array("categories")
        ),
        revenue_cap_waived=fields.flag("revenue_cap_waived"),
        budget=fields.integer("budget"),
        granted=fields.integer("granted"),
        spent=fields.integer("spent"),
    )
