"""Operations endpoints: liveness, readiness (for a load balancer) and Prometheus metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field

from gateway.http.responses import JSONBytes
from gateway.indexer.follower import Indexer
from gateway.observability.readiness import probe
from gateway.observability.registry import REGISTRY
from gateway.observability.scrape import GatewayState
from gateway.relayer.service import Relayer
from gateway.settings import Settings

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: Literal["ok"]


class Checks(BaseModel):
    node: bool = Field(description="the node answered eth_blockNumber in time")
    database: bool = Field(description="the database answered SELECT 1 in time")
    indexer: bool | None = Field(
        description="the index reached the head within the allowed lag (null: this replica "
        "does not index)"
    )


class Readiness(BaseModel):
    ready: bool
    relaying: bool = Field(description="this replica batches at least one shard")
    shards: list[int] = Field(description="the shards (relayer keys) this replica batches")
    replica: str
    unfunded: list[str] = Field(description="relayer keys below the minimum balance")
    key_balances: dict[str, str | None] = Field(description="wei, as decimal strings")
    checks: Checks
    index_lag_blocks: int | None = Field(description="blocks the index trails the head by")
    index_lag_s: float | None = Field(description="seconds since the index last reached the head")


@router.get("/healthz")
async def healthz() -> Health:
    """Liveness: the process answers (nothing else is asked: a restart would not fix it)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "not ready: the node or the database does not answer, the index "
            "trails the head by more than allowed, or no key can "
            "pay for gas",
        }
    },
)
async def readyz(request: Request) -> Response:
    """Readiness: 200 when this replica can relay and serve current data, 503 otherwise, with
    the failing check named."""
    state = request.app.state
    settings: Settings = state.settings
    relayer: Relayer = state.relayer
    probes = await probe(
        state.rpc,
        state.engine,
        getattr(state, "indexer", None),
        timeout=settings.ready_probe_timeout_s,
        max_index_lag_s=settings.ready_max_index_lag_s,
    )
    # Wei exceed JSON's (and orjson's) integers: decimal strings, as the API sends amounts.
    keys = {k.address: None if k.balance is None else str(k.balance) for k in relayer.keys}
    # Any replica accepts (those holding no shard store what the shards' owners relay).
    ready = probes.ok and relayer.ready()
    body = Readiness(
        ready=ready,
        relaying=relayer.relaying,
        shards=sorted(relayer.batchers),
        replica=relayer.replica_id,
        unfunded=relayer.unfunded(),
        key_balances=keys,
        checks=Checks(node=probes.node, database=probes.database, indexer=probes.indexer),
        index_lag_blocks=None if probes.lag is None else probes.lag.blocks,
        index_lag_s=None if probes.lag is None else round(probes.lag.seconds, 3),
    )
    return JSONBytes(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    """Prometheus text format: HTTP, relayer, indexer, JSON-RPC, database and process metrics
    (see docs/grafana-dongne.json for a dashboard of them)."""
    relayer: Relayer | None = getattr(request.app.state, "relayer", None)
    indexer: Indexer | None = getattr(request.app.state, "indexer", None)
    state = CollectorRegistry(auto_describe=False)
    state.register(GatewayState(relayer, indexer))
    return Response(
        generate_latest(REGISTRY) + generate_latest(state), media_type=CONTENT_TYPE_LATEST
    )
