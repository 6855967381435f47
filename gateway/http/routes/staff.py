"""Staff tools over HTTP: the call of every staff operation, built for the staff wallet to sign
(the gateway signs nothing), and the record of every staff transaction sent, from the chain.

The operations are one table (:data:`chain.protocol.staff.OPERATIONS`); one handler factory
makes a route per operation, so each has its own entry in the policy table (the role the
contract checks) and its own page in the OpenAPI document. Building a call is logged in the
staff log (``prepare <operation>``, with the state it would change); the transaction itself is
logged by ``POST /v1/tokens/{token}/staff-actions`` (the portal and the CLI post its hash), which
reads the sender, the arguments and the state before and after from the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field, JsonValue
from sqlalchemy import Engine, select

from chain.protocol.calls import CallEncodingError
from chain.protocol.staff import OPERATIONS, StaffOperation, parse_values, prepare
from chain.rpc import NodeUnavailableError, RpcClient, RpcError
from chain.staff import NotAStaffActionError, complete, read_state, simulate, verify_action
from gateway.access import staff_log
from gateway.db.tables import access as a
from gateway.errors import GatewayError
from gateway.http.access import record_staff_action, staff_path
from gateway.http.deps import EngineDep, ManifestDep, SettingsDep
from gateway.http.openapi import CONTRACT_CODES, codes
from gateway.http.routes.queries import AddressPath, _address, _known_token
from gateway.queries.scope import checksum

router = APIRouter(prefix="/v1", tags=["staff"])
T = TypeVar("T")


class StaffParam(BaseModel):
    name: str
    kind: str = Field(description="address | uint | bool | bytes32 | addresses | role | rules | "
                      "rewards | shares")  # fmt: skip
    help: str
    default: JsonValue = Field(description="null: required")


class StaffOperationInfo(BaseModel):
    name: str
    function: str
    contract: str = Field(description="token (the municipality's) or registry (the network's)")
    role: str | None = Field(description="the role the contract checks (null: anyone)")
    path: str = Field(description="the route building its call")
    params: list[StaffParam]
    summary: str


class StaffCallBody(BaseModel):
    values: dict[str, JsonValue] = Field(
        default_factory=dict, description="the operation's parameters (GET /v1/staff/operations)"
    )


class StaffCall(BaseModel):
    """A staff transaction for the caller's own wallet to sign and send (value 0)."""

    operation: str
    to: str = Field(description="the contract to send it to")
    data: str = Field(description="calldata, 0x-hex")
    function: str
    role: str | None = Field(description="the role the contract will check")
    summary: str = Field(description="what it does, for the person signing")
    values: dict[str, JsonValue]
    before: JsonValue = Field(description="the state it changes, as the chain shows it now")
    staff_log_seq: int = Field(description="the staff log entry recording the prepared call")


class StaffActionBody(BaseModel):
    tx_hash: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]


class StaffActionRecord(BaseModel):
    """A staff transaction as the chain executed it, and its staff log entry."""

    seq: int
    action: str
    actor: str = Field(description="the transaction's sender (the role holder)")
    role: str | None
    token: str = Field(description="the municipality whose staff acted (the log's filing)")
    contract: str = Field(description="the contract it changed: the token or the registry")
    tx_hash: str
    block_number: int
    args: list[JsonValue]
    before: JsonValue
    after: JsonValue
    new: bool = Field(description="false when this transaction was already recorded")


def _chain(call: Callable[[], T]) -> T:
    """Runs a node read: a node that cannot be reached is a retryable 503."""
    try:
        return call()
    except (NodeUnavailableError, RpcError) as exc:
        raise GatewayError("NodeUnavailable", f"the chain node is unavailable: {exc}") from exc


def _invalid(exc: CallEncodingError) -> GatewayError:
    return GatewayError("InvalidRequest", exc.problem, {"field": exc.problem.split(":")[0]})


@router.get("/staff/operations")
def staff_operations() -> list[StaffOperationInfo]:
    """Every staff operation: the function it calls, the role the contract checks, its
    parameters and the route that builds its call."""
    return [
        StaffOperationInfo(
            name=op.name, function=op.function, contract=op.contract, role=op.role,
            path=staff_path(op), summary=op.summary,
            params=[StaffParam(name=p.name, kind=p.kind, help=p.help, default=p.default)  # type: ignore[arg-type]
                    for p in op.params],
        )
        for op in OPERATIONS
    ]  # fmt: skip


def _build(
    op: StaffOperation, request: Request, engine: Engine, rpc_url: str, target: str,
    body: StaffCallBody,
) -> StaffCall:  # fmt: skip
    try:
        values = parse_values(op, body.values)
        with RpcClient(rpc_url) as rpc:
            values = _chain(lambda: complete(rpc, target, op, values))
            block = _chain(lambda: rpc.get_block("latest"))
            now = int(str(block["timestamp"]), 16) if block else 0
            call = prepare(op, values, now)
            before = _chain(lambda: read_state(rpc, target, op, values))
            # What the contract would answer the caller's wallet now: a refusal is named here
            # (422 with the custom error), before anyone signs anything.
            sender = _principal_address(request)
            revert = _chain(lambda: simulate(rpc, sender, target, call.data)) if sender else None
    except CallEncodingError as exc:
        raise _invalid(exc) from exc
    if revert:
        raise GatewayError(revert.name, f"the contract would refuse it: {revert}", revert.args)
    shown = {k: _json(v) for k, v in values.items()}
    data = "0x" + call.data.hex()
    after = {"values": shown, "to": checksum(target), "data": data}
    entry = record_staff_action(
        request, engine, f"prepare {op.name}", token=target, before=before, after=after
    )
    return StaffCall(
        operation=op.name, to=checksum(target), data=data, function=op.function, role=op.role,
        summary=call.summary, values=shown, before=_json(before), staff_log_seq=entry.seq,
    )  # fmt: skip


def _json(value: object) -> JsonValue:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _token_route(op: StaffOperation) -> None:
    def build(
        request: Request, engine: EngineDep, settings: SettingsDep, token: AddressPath,
        body: Annotated[StaffCallBody, Body()],
    ) -> StaffCall:  # fmt: skip
        return _build(op, request, engine, settings.rpc_url, _known_token(engine, token), body)

    _register(op, build)


def _registry_route(op: StaffOperation) -> None:
    def build(
        request: Request, engine: EngineDep, settings: SettingsDep, manifest: ManifestDep,
        body: Annotated[StaffCallBody, Body()],
    ) -> StaffCall:  # fmt: skip
        return _build(op, request, engine, settings.rpc_url, manifest.registry.lower(), body)

    _register(op, build)


def _register(op: StaffOperation, build: Callable[..., StaffCall]) -> None:
    params = ", ".join(f"{p.name} ({p.kind})" for p in op.params) or "none"
    build.__name__ = "staff_" + op.name.replace("-", "_")
    router.post(
        staff_path(op).removeprefix(router.prefix),
        summary=f"Build {op.function}: {op.name}",
        description=f"The call of `{op.function}` ({op.summary}) for a wallet holding "
        f"{op.role or 'any role'} to sign and send. Values: {params}. Logged in the staff log.",
        openapi_extra=codes("NotFound", "NodeUnavailable", "DatabaseUnavailable", *CONTRACT_CODES),
    )(build)


for _op in OPERATIONS:
    (_registry_route if _op.contract == "registry" else _token_route)(_op)


@router.post(
    "/tokens/{token}/staff-actions",
    openapi_extra=codes(
        "NotFound", "StaffActionUnverified", "NodeUnavailable", "DatabaseUnavailable"
    ),
)
def record_staff_transaction(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    manifest: ManifestDep,
    token: AddressPath,
    body: StaffActionBody,
) -> StaffActionRecord:
    """Records a sent staff transaction in the staff log, once per transaction: the chain says
    who sent it (the actor), that it succeeded, which operation it was, and the state before
    and after it. The CLI posts every transaction it sends here."""
    address = _known_token(engine, token)
    targets = {"token": address, "registry": manifest.registry.lower()}
    with RpcClient(settings.rpc_url) as rpc:
        try:
            done = _chain(lambda: verify_action(rpc, body.tx_hash, targets))
        except NotAStaffActionError as exc:
            raise GatewayError(
                "StaffActionUnverified", str(exc), {"tx_hash": body.tx_hash}
            ) from exc
    # The transaction's hash is the entry's request id (64 hex digits, the column's width):
    # what makes a second post of the same transaction find the first entry.
    request_id = done.tx_hash.removeprefix("0x")
    s = a.staff_log.c
    with engine.connect() as conn:
        seq = conn.execute(select(s.seq).where(s.request_id == request_id)).scalar()
    new = seq is None
    if seq is None:
        entry = staff_log.append(
            engine, actor=done.sender, action=done.operation.name, role=done.operation.role,
            token=address, request_id=request_id, before=_json(done.before),
            after={"state": _json(done.after), "args": _json(done.args), "contract": done.target,
                   "block_number": done.block_number, "recorded_by": _poster(request)},
        )  # fmt: skip
        seq = entry.seq
    return StaffActionRecord(
        seq=int(seq), action=done.operation.name, actor=done.sender, role=done.operation.role,
        token=address, contract=done.target, tx_hash=done.tx_hash, block_number=done.block_number,
        args=[_json(x) for x in done.args], before=_json(done.before), after=_json(done.after),
        new=new,
    )  # fmt: skip


def _principal_address(request: Request) -> str | None:
    principal = getattr(request.state, "principal", None)
    address = getattr(principal, "address", None)
    return address if isinstance(address, str) else None


def _poster(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "actor", "anonymous"))


class InstitutionLimits(BaseModel):
    """``institutionLimitsOf``: an institution wallet's limits and this month's spending."""

    token: str
    institution: str
    per_payment: int = Field(description="won per payment (0: no limit)")
    per_month: int = Field(description="won per month (0: no limit)")
    month: int = Field(description="the KST month (yyyymm) month_spent counts")
    month_spent: int


@router.get(
    "/tokens/{token}/institutions/{institution}/limits",
    openapi_extra=codes("NotFound", "NodeUnavailable", "DatabaseUnavailable"),
)
def institution_limits(
    engine: EngineDep, settings: SettingsDep, token: AddressPath, institution: AddressPath
) -> InstitutionLimits:
    """An institution wallet's spending limits, read from the chain."""
    address = _known_token(engine, token)
    who = _address(institution, "institution")
    op = next(o for o in OPERATIONS if o.name == "institution-limits")
    with RpcClient(settings.rpc_url) as rpc:
        state = _chain(lambda: read_state(rpc, address, op, {"institution": checksum(who)}))
    assert isinstance(state, dict)
    return InstitutionLimits(
        token=checksum(address), institution=checksum(who), per_payment=int(state["perPayment"]),
        per_month=int(state["perMonth"]), month=int(state["month"]),
        month_spent=int(state["monthSpent"]),
    )  # fmt: skip
