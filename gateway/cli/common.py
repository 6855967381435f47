"""What every `dongne` command shares: the consoles, option types, failing with one line, the
operator's key, and turning a chain error into that one line."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console

from chain.manifest import Manifest
from chain.operator import Operator
from chain.protocol.errors import DongneChainError
from chain.sender import TransactionFailed

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

DataDir = Annotated[Path, typer.Option("--data-dir", help="Node state, database, manifest.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
RpcUrl = Annotated[str, typer.Option("--rpc", envvar="DONGNE_RPC_URL", help="JSON-RPC endpoint.")]
ManifestPath = Annotated[
    Path, typer.Option("--manifest", envvar="DONGNE_MANIFEST_PATH", help="Deployment manifest.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="DONGNE_DATABASE_URL",
        help="Gateway database (SQLite or PostgreSQL); default: gateway.db beside the manifest.",
    ),
]


def fail(reason: str) -> NoReturn:
    err.print(f"[red]error:[/red] {reason}")
    raise typer.Exit(2)


def emit(data: object, as_json: bool, render: Callable[[], None]) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        render()


def database_url_for(database_url: str | None, manifest_path: Path) -> str:
    """The database a command uses: the one given, else the one `dongne up` creates beside
    the manifest (``.dongne/gateway.db``)."""
    if database_url is not None:
        return database_url
    return f"sqlite:///{(manifest_path.parent / 'gateway.db').resolve()}"


def operator_for(
    rpc_url: str, manifest_path: Path, *, network: bool = False
) -> tuple[Manifest, Operator]:
    """The manifest and a sender of the caller's own transactions: a municipality's staff
    sign with their own key (:func:`caller_account`); ``network`` operations (deploying a
    city, registering identities) need the network operator's key."""
    from chain.deploy import deployer_from_env
    from chain.rpc import RpcClient

    if not manifest_path.exists():
        fail(f"no manifest at {manifest_path}: run `dongne up` or pass --manifest")
    manifest = Manifest.load(manifest_path)
    try:
        account = deployer_from_env() if network else caller_account()
    except DongneChainError as exc:
        fail(str(exc))
    return manifest, Operator(RpcClient(rpc_url), account, manifest.chain_id)


def caller_account() -> LocalAccount:
    """The caller's own key: `DONGNE_KEY`, or `DONGNE_KEYSTORE` + `DONGNE_PASSWORD`; the
    operator's `DONGNE_DEPLOYER_*` key otherwise (the local demo's one-key city staff)."""
    from eth_account import Account

    from chain.deploy import deployer_from_env

    key = os.environ.get("DONGNE_KEY")
    keystore = os.environ.get("DONGNE_KEYSTORE")
    try:
        if key:
            account: LocalAccount = Account.from_key(key)
            return account
        if keystore:
            raw = Account.decrypt(Path(keystore).read_text(), os.environ.get("DONGNE_PASSWORD", ""))
            opened: LocalAccount = Account.from_key(raw)
            return opened
        return deployer_from_env()
    except (OSError, ValueError, TypeError, DongneChainError) as exc:
        fail(f"cannot use your key: {exc} (set DONGNE_KEY, or DONGNE_KEYSTORE + DONGNE_PASSWORD)")


def address_option(value: str, what: str) -> str:
    from eth_utils.address import is_address, to_checksum_address

    if not is_address(value):
        fail(f"{what} is not an address: {value}")
    return str(to_checksum_address(value))


def run_action(action: Callable[[], T]) -> T:
    try:
        return action()
    except TransactionFailed as exc:
        fail(str(exc))
    except DongneChainError as exc:
        fail(str(exc))


Region = Annotated[int, typer.Option("--region", help="5-digit legal-district code (0: national).")]
