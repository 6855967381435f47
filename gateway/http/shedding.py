"""Load shedding at the door: a saturated relayer's ``Overloaded`` answer before anything else.

Refusing must cost far less than accepting, or the refusals themselves eat the capacity they
protect: offered 1,500/s, the relayer refused ~700 submissions a second for each ~75 it
accepted (bench_relay), and each wallet comes back after its Retry-After. Routing, the access
dependency and reading the body cost more than the check, so the two submit routes
(``POST /v1/requests``, forwarder requests, and ``POST /v1/payments``, signed payments) are
checked here, in a pure ASGI middleware, with the relayer's admission control
(``gateway.relayer.admission``); the intake checks again when it takes its slot. Signed
payments refused behind the routing instead (bench_relay --signed, 800/s offered): ~580
refusals a second held the gateway's one core, its event loop answered the node's replies
~150 ms late, the adaptive intake limit fell to its floor and 27 payments/s were made final
against 199 forwarder requests/s in the same run.

Outermost, before the telemetry and CORS layers: a refusal cost the gateway 202 µs of CPU
behind them and 122 µs here (the gateway process's CPU time over 5,000 refusals). So this
layer does itself the little of theirs a refusal needs: it counts the answer under the submit
route (with its latency), echoes the request id, and adds the CORS headers a browser wallet
needs to read the answer. It writes no access-log line: under overload those would be
thousands of identical lines a second; the counters carry them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.http.problems import problem_response
from gateway.http.telemetry import REQUEST_ID_HEADER, request_id_of
from gateway.observability.http_metrics import HTTP_REQUESTS, HTTP_SECONDS
from gateway.relayer.service import Relayer

__all__ = ["SUBMIT_ROUTES", "Shed"]

SUBMIT_ROUTES = ("/v1/requests", "/v1/payments")
_ORIGIN = b"origin"


class Shed:
    def __init__(self, app: ASGIApp, *, cors_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.cors_origins = frozenset(o.encode() for o in cors_origins)
        # Children bound once: labels() is the costly part of a metric update.
        self._routes = {
            route.encode(): (
                HTTP_REQUESTS.labels(method="POST", route=route, status="503"),
                HTTP_SECONDS.labels(method="POST", route=route),
            )
            for route in SUBMIT_ROUTES
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope.get("raw_path") or scope["path"].encode()
            relayer: Relayer | None = getattr(scope["app"].state, "relayer", None)
            counters = self._routes.get(path)
            if counters is not None and relayer is not None:
                started = time.perf_counter()
                refusal = relayer.intake.admission.refusal()
                if refusal is not None:
                    response = problem_response(refusal)
                    response.headers[REQUEST_ID_HEADER.decode()] = request_id_of(scope)
                    origin = self._allowed_origin(scope)
                    if origin is not None:
                        response.headers["access-control-allow-origin"] = origin
                        response.headers["access-control-expose-headers"] = "x-request-id"
                        response.headers["vary"] = "Origin"
                    await response(scope, receive, send)
                    refused, seconds = counters
                    refused.inc()
                    seconds.observe(time.perf_counter() - started)
                    return
        await self.app(scope, receive, send)

    def _allowed_origin(self, scope: Scope) -> str | None:
        if not self.cors_origins:
            return None
        for name, value in scope["headers"]:
            if name == _ORIGIN:
                return bytes(value).decode() if value in self.cors_origins else None
        return None
