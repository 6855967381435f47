"""Per HTTP request: its id (the client's ``X-Request-ID`` or a new one; in the log context and
echoed in the answer), its count and latency by route template and status, one access line.

A pure ASGI middleware, outermost, so 413s from BodyLimit and 500s are counted too (Starlette's
BaseHTTPMiddleware would cost several percent of the relayer's hot path and would not carry
the context variable into the route).
"""

from __future__ import annotations

import logging
import re
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability.http_metrics import (
    HTTP_REQUESTS,
    HTTP_SECONDS,
    PREFLIGHT_ROUTE,
    UNMATCHED_ROUTE,
)
from gateway.observability.logs import REQUEST_ID, new_request_id

__all__ = ["REQUEST_ID_HEADER", "Telemetry", "request_id_of"]

log = logging.getLogger("dongne.http")

REQUEST_ID_HEADER = b"x-request-id"
# A client's id is taken as is when it is short and plain; anything else gets a new one, so a
# header can neither flood the logs nor smuggle characters into them.
_CLIENT_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# Methods are label values too: any other verb a client makes up is counted as OTHER.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Telemetry:
    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log
        # Children by (method, route, status): labels() is the costly part of a metric update.
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._histograms: dict[tuple[str, str], Histogram] = {}
        self._templates: dict[object, str] = {}  # plain Starlette routes' paths, by endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500  # what the server answers if the app raises before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            template = self._template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self._observe(method, template, status, seconds)
            if self.access_log:
                log.info(
                    "%s %s %d", method, template, status,
                    extra={"path": scope["path"], "status": status,
                           "duration_ms": round(seconds * 1000, 2)},
                )  # fmt: skip
            REQUEST_ID.reset(token)

    def _template(self, scope: Scope) -> str:
        """The matched route's path template. FastAPI's routes put themselves in the scope;
        plain Starlette routes (/openapi.json, the docs pages) only their endpoint, looked up
        once among the app's routes."""
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            return path
        endpoint = scope.get("endpoint")
        if endpoint is None:
            preflight = scope["method"] == "OPTIONS" and any(
                name == b"access-control-request-method" for name, _ in scope["headers"]
            )
            return PREFLIGHT_ROUTE if preflight else UNMATCHED_ROUTE
        template = self._templates.get(endpoint)
        if template is None:
            routes = getattr(scope.get("app"), "routes", ())
            found = [r.path for r in routes if getattr(r, "endpoint", None) is endpoint]
            template = self._templates[endpoint] = found[0] if found else UNMATCHED_ROUTE
        return template

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self._counters[(method, route, status)] = HTTP_REQUESTS.labels(
                method=method, route=route, status=str(status)
            )
        histogram = self._histograms.get((method, route))
        if histogram is None:
            histogram = self._histograms[(method, route)] = HTTP_SECONDS.labels(
                method=method, route=route
            )
        counter.inc()
        histogram.observe(seconds)


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-ID when it is short and plain, else a new one."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if _CLIENT_ID.fullmatch(value):
                return bytes(value).decode()
            break
    return new_request_id()
