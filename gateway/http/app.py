"""The gateway application: relayer, indexer, query and audit API in one FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chain.manifest import Manifest
from chain.rpc_async import AsyncRpc
from gateway.db import create_engine_for
from gateway.errors import GatewayError
from gateway.http import portal
from gateway.http.access import Access, enforce
from gateway.http.docs import install_docs
from gateway.http.indexer_task import start_indexer
from gateway.http.openapi import describe
from gateway.http.problems import install_problem_handlers, problem_response
from gateway.http.responses import JSONBytes
from gateway.http.routes import audit, auth, distribution, queries, relay
from gateway.http.shedding import Shed
from gateway.relayer.service import Relayer
from gateway.settings import Settings, get_settings

log = logging.getLogger("dongne.gateway")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    relaying: bool
    replica: str
    unfunded: list[str] = Field(description="relayer keys below the minimum balance")
    key_balances: dict[str, str | None] = Field(description="wei, as decimal strings")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manifest = Manifest.load(settings.manifest_path)
        engine = await asyncio.to_thread(create_engine_for, settings.database_url)
        rpc = AsyncRpc(settings.rpc_url)
        app.state.settings = settings
        app.state.manifest = manifest
        app.state.engine = engine
        app.state.rpc = rpc
        app.state.access = Access.build(settings, manifest, engine)
        relayer = Relayer.build(settings, manifest, engine, rpc)
        app.state.relayer = relayer
        await relayer.start()
        background = await _start_background(app, settings, manifest, engine)
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await relayer.stop()
            await rpc.close()
            engine.dispose()

    app = FastAPI(
        title="Dongne gateway",
        version="0.1.0",
        summary="Relays wallets' signed voucher requests and serves the chain's index.",
        lifespan=lifespan,
        default_response_class=JSONBytes,
        docs_url=None,  # gateway.http.docs serves both pages from local assets
        redoc_url=None,
        # The one access dependency: every route's policy from gateway.http.access.POLICIES.
        dependencies=[Depends(enforce)],
    )
    install_problem_handlers(app)
    describe(app)
    install_docs(app)

    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    # Outside all but CORS (whose headers a browser needs on a refusal too): a saturated
    # relayer refuses submissions before anything else runs (gateway.http.shedding).
    app.add_middleware(Shed)
    if settings.cors_origins:
        # Starlette's middleware answers preflights itself (before routing and policies); the
        # credentials are headers (Bearer, X-API-Key), never cookies.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["authorization", "content-type", "x-api-key", "x-request-id"],
            max_age=600,
        )
    routers = (relay.router, queries.router, audit.router, distribution.router, auth.router)
    for router in (*routers, portal.router):
        app.include_router(router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["ops"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "standby, or no key can pay gas"}},
    )
    async def readyz(request: Request) -> Response:
        """Readiness: 503 on a standby replica (another holds the batcher lease) and while no
        relayer key can pay for gas (where gas has a price)."""
        relayer: Relayer = request.app.state.relayer
        batcher = relayer.batcher
        # Wei exceed JSON's (and orjson's) integers: decimal strings, as the API sends amounts.
        keys = {k.address: None if k.balance is None else str(k.balance) for k in batcher.keys}
        body = {
            "ready": batcher.ready() and relayer.relaying,
            "relaying": relayer.relaying,  # False on a standby replica: another one relays
            "replica": relayer.lease.owner,
            "unfunded": batcher.unfunded(),
            "key_balances": keys,
        }
        return JSONBytes(body, status_code=200 if body["ready"] else 503)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        return Response(_metrics(request.app), media_type=CONTENT_TYPE_LATEST)

    return app


class BodyLimit:
    """Rejects bodies over the limit from their Content-Length, before reading them. A pure
    ASGI middleware: Starlette's BaseHTTPMiddleware costs several percent of the hot path."""

    # Recipient lists and auditors' own CSVs are uploads, not requests.
    UPLOADS = (b"/v1/distributions", b"/v1/audit/")

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("raw_path") or scope["path"].encode()
        limit = self.max_upload_bytes if path.startswith(self.UPLOADS) else self.max_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    response = problem_response(
                        GatewayError("PayloadTooLarge", f"body over {limit} bytes")
                    )
                    await response(scope, receive, send)
                    return
                await self.app(scope, receive, send)
                return
        # No Content-Length (chunked): count the bytes as they arrive and stop at the limit,
        # so a huge streamed body is never read whole. The error surfaces where the route
        # reads its body and answers 413 like the rest.
        counted = 0

        async def counting_receive() -> Message:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > limit:
                    raise GatewayError("PayloadTooLarge", f"body over {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def _start_background(
    app: FastAPI, settings: Settings, manifest: Manifest, engine: Engine
) -> list[asyncio.Task[None]]:
    """Starts the indexer's follower unless this replica only relays (``embedded_indexer`` off)."""
    if not settings.embedded_indexer:
        return []
    task: asyncio.Task[None] = await start_indexer(app, settings, manifest, engine)
    return [task]


def _metrics(app: FastAPI) -> bytes:
    registry = CollectorRegistry()
    relayer: Relayer | None = getattr(app.state, "relayer", None)
    if relayer is not None:
        s = relayer.batcher.stats
        for name, value, doc in (
            ("dongne_relay_batches_sent", s.batches_sent, "executeBatch transactions sent"),
            ("dongne_relay_requests_sent", s.requests_sent, "requests put in batches"),
            ("dongne_relay_succeeded", s.succeeded, "requests that succeeded on chain"),
            ("dongne_relay_failed", s.failed, "requests that ended failed"),
            ("dongne_relay_requeued", s.requeued, "requests requeued after a skip or drop"),
            ("dongne_relay_refused_unsent", s.refused_unsent, "requests failed by simulation"),
            ("dongne_relay_resent", s.resent, "batch transactions resent"),
            ("dongne_relay_gas_used", s.gas_used, "gas used by mined batches"),
            ("dongne_relay_in_flight_batches", len(relayer.batcher.in_flight), "batches in flight"),
            ("dongne_relay_waiting", relayer.batcher._waiting_count(), "requests waiting"),
        ):
            Gauge(name, doc, registry=registry).set(value)
        balance = Gauge(
            "dongne_relayer_key_balance_wei", "relayer key balances", ["key"], registry=registry
        )
        for key in relayer.batcher.keys:
            if key.balance is not None:
                balance.labels(key=key.address).set(key.balance)
    return generate_latest(registry)
