"""Every staff command's one path: build the operation's call from the table
(:mod:`chain.protocol.staff`), send it with the caller's own key, and have the gateway record
the transaction in the staff log (``POST /v1/tokens/{token}/staff-actions``, which verifies it on
chain: who sent it, what it did, the state before and after). A command succeeds only when
both happened; if the record failed, the transaction stands and `dongne staff record TX`
records it later.

`dongne staff operations` lists the table; `dongne staff record` records a transaction sent by
other means (a hardware wallet, the portal without a connection to this gateway).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from chain.protocol.staff import KEEP, Param
from gateway.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    JsonOut,
    ManifestPath,
    Region,
    RpcUrl,
    console,
    emit,
    fail,
    operator_for,
    run_action,
)
from gateway.cli.gateway_api import GatewayUrl

staff = typer.Typer(
    help="Staff operations: the table of them, and recording a staff transaction.",
    no_args_is_help=True,
)

_SIGNED_OUT = ("AuthRequired", "AuthExpired", "AuthInvalid")


def record(gateway: str, token: str, tx_hash: str) -> dict[str, object]:
    """The staff log entry of ``tx_hash`` (signing in with the caller's key when there is no
    session, or it expired); fails the command with the hash, so the record can be retried."""
    import httpx

    from gateway.cli.session import session_headers, sign_in

    url = gateway.rstrip("/") + f"/v1/tokens/{token}/staff-actions"
    retry = f" (the transaction stands: `dongne staff record {tx_hash}` records it)"
    for attempt in range(2):
        if attempt or not session_headers(gateway):
            sign_in(gateway)
        try:
            reply = httpx.post(url, json={"tx_hash": tx_hash},
                               headers=session_headers(gateway), timeout=60)  # fmt: skip
        except httpx.HTTPError as exc:
            fail(f"gateway at {gateway} unreachable: {exc}{retry}", EXIT_FAILED, "StaffLogFailed")
        body = reply.json() if "json" in reply.headers.get("content-type", "") else {}
        if reply.status_code < 400 and isinstance(body, dict):
            return body
        code = str(body.get("code")) if isinstance(body, dict) else "HTTPError"
        if code not in _SIGNED_OUT or attempt:
            detail = body.get("detail") if isinstance(body, dict) else reply.text[:200]
            fail(f"{code}: {detail}{retry}", EXIT_FAILED, code)
    raise AssertionError("unreachable")


def run_staff(
    name: str, region: int, raw: dict[str, object], *, rpc: str, manifest_path: Path,
    gateway: str, as_json: bool,
) -> dict[str, object]:  # fmt: skip
    """Sends staff operation ``name`` in ``region``'s municipality, records it in the staff log
    and prints the outcome; the outcome as a dict."""
    from chain.protocol.calls import CallEncodingError
    from chain.protocol.staff import PreparedCall

    manifest, operator = operator_for(rpc, manifest_path)
    token = str(run_action(lambda: manifest.token(region)))
    target = manifest.registry if name in ("freeze", "unfreeze") else token

    def prepare() -> PreparedCall:
        try:
            return operator.prepare_staff(target, name, **raw)
        except CallEncodingError as exc:  # a value the command let through: a usage error
            fail(str(exc), EXIT_USAGE, "InvalidRequest")

    call = run_action(prepare)
    receipt = run_action(lambda: operator.send(target, call.data, call.function))
    tx_hash = str(receipt["transactionHash"])
    entry = record(gateway, token, tx_hash)
    result: dict[str, object] = {
        "operation": name, "summary": call.summary, "token": token, "to": target,
        "function": call.function, "values": call.values, "tx_hash": tx_hash,
        "block_number": int(str(receipt["blockNumber"]), 16),
        "staff_log": {k: entry.get(k) for k in ("seq", "actor", "role", "before", "after")},
    }  # fmt: skip
    emit(result, as_json, lambda: console.print(
        f"{call.summary}: tx {tx_hash} (staff log #{entry.get('seq')})"))  # fmt: skip
    return result


@staff.command("operations")
def staff_operations(as_json: JsonOut = False) -> None:
    """The staff operations: the contract function each calls and the role it needs.

    Example: dongne staff operations --json
    """
    from chain.protocol.staff import OPERATIONS

    table = [
        {"name": op.name, "function": op.function, "contract": op.contract, "role": op.role,
         "params": [p.name for p in op.params], "summary": op.summary}
        for op in OPERATIONS
    ]  # fmt: skip

    def render() -> None:
        for row in table:
            console.print(f"{row['name']:<22} {row['function']:<30} {row['role'] or 'anyone'}")

    emit(table, as_json, render)


@staff.command("record")
def staff_record(
    tx_hash: Annotated[str, typer.Argument(help="The staff transaction's hash.")],
    region: Region,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Record a staff transaction in the staff log (the gateway verifies it on chain).

    Example: dongne staff record 0x5e1f...c0de --region 41390
    """
    from chain.manifest import Manifest

    if not manifest_path.exists():
        fail(f"no manifest at {manifest_path}: run `dongne up` or pass --manifest")
    token = str(run_action(lambda: Manifest.load(manifest_path).token(region)))
    entry = record(gateway, token, tx_hash)
    line = f"staff log #{entry.get('seq')}: {entry.get('action')} by {entry.get('actor')}"
    emit(entry, as_json, lambda: console.print(line))


# ------------------------------------------------------------------------------------------
# Commands made from the table: one per operation, its parameters as arguments and options.

_POSITIONAL = frozenset({"merchant", "account", "institution"})
_TYPES: dict[str, type] = {"uint": int, "bool": bool, "address": str, "role": str}
_LISTS = ("addresses", "shares")  # repeated options: --merchants A --merchants B


def _cli_param(param: Param) -> inspect.Parameter:
    help_ = param.help
    if param.name in _POSITIONAL:
        info: object = typer.Argument(help=help_, metavar=param.name.upper())
        default: object = inspect.Parameter.empty
    else:
        flag = "--" + param.name.replace("_", "-")
        info = typer.Option(f"{flag}/--not-{param.name}" if param.kind == "bool" else flag,
                            help=help_)  # fmt: skip
        default = None if param.default is None or param.default == KEEP else param.default
    base: Any = list[str] if param.kind in _LISTS else _TYPES.get(param.kind, str)
    optional = default is None and param.name not in _POSITIONAL and param.kind != "bool"
    annotation = Annotated[base | None if optional else base, info]  # type: ignore[valid-type]
    return inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)  # fmt: skip


_COMMON: tuple[tuple[str, object, object], ...] = (
    ("region", Region, inspect.Parameter.empty),
    ("rpc", RpcUrl, "http://127.0.0.1:8545"),
    ("manifest_path", ManifestPath, Path(".dongne/manifest.json")),
    ("gateway", GatewayUrl, "http://127.0.0.1:8000"),
    ("as_json", JsonOut, False),
)


def staff_command(app: typer.Typer, name: str, operation: str, doc: str, example: str) -> None:
    """Adds command ``name`` to ``app``: staff operation ``operation`` through :func:`run_staff`
    (the table's parameters become its arguments and options)."""
    from chain.protocol.staff import operation as find

    op = find(operation)
    params = [_cli_param(p) for p in op.params if p.kind in (*_TYPES, *_LISTS)]
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
               for n, a, d in _COMMON]  # fmt: skip

    def command(**kwargs: object) -> None:
        common = {n: kwargs.pop(n) for n, _a, _d in _COMMON}
        raw = {k: v for k, v in kwargs.items() if v is not None}
        run_staff(operation, int(str(common["region"])), raw, rpc=str(common["rpc"]),
                  manifest_path=Path(str(common["manifest_path"])),
                  gateway=str(common["gateway"]), as_json=bool(common["as_json"]))  # fmt: skip

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    role = op.role or "anyone"
    command.__doc__ = f"{doc} ({op.function}, needs {role}; logged in the staff log.)\n\n" \
        f"Example: {example}"  # fmt: skip
    command.__name__ = name.replace("-", "_")
    app.command(name)(command)
