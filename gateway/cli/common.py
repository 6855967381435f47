"""What every `dongne` command shares: the consoles, option types, failing with one line (and
the exit code that says why), the operator's key, and turning a chain error into that line.

Exit codes, the same for every command (`dongne --help` lists them):
0 done; 1 the operation failed; 2 usage (a bad flag or value); 3 something it needs is
unavailable (node, gateway or database); 4 a rule rejected it (a contract's custom error, or
the gateway's 422). With `--json` the reason is one JSON object on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.markup import escape as rich_escape

from chain.manifest import Manifest
from chain.operator import Operator
from chain.protocol.errors import GENERIC_REVERT_NAMES, DongneChainError
from chain.sender import TransactionFailed
from gateway.errors import GatewayError

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


EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_REJECTED = 4
EXIT_CODES_HELP = (
    "Exit codes: 0 done, 1 failed, 2 usage, 3 node/gateway/database unavailable,"
    " 4 rejected by a rule."
)


class _Errors:
    as_json = False  # set by gateway.cli.main when --json is on the command line


errors = _Errors()


def fail(reason: str, exit_code: int = EXIT_USAGE, code: str | None = None) -> NoReturn:
    """Ends the command with one line (one JSON object with ``--json``) on stderr.

    The default is a usage error: most failures are a flag or a value the command refused;
    callers say when the operation failed (1), a dependency is unavailable (3) or a rule
    rejected it (4)."""
    if errors.as_json:
        error = {"code": code, "detail": reason, "exit_code": exit_code}
        print(json.dumps({"error": error}), file=sys.stderr)
    else:
        err.print(f"[red]error:[/red] {rich_escape(reason)}", soft_wrap=True)
    raise typer.Exit(exit_code)


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


def exit_for_status(status: int) -> int:
    """The exit code of a gateway error's HTTP status: 400 is a bad value given, 422 a rule's
    refusal, 429/5xx an unavailable service, anything else a failed operation."""
    if status == 400:
        return EXIT_USAGE
    if status == 422:
        return EXIT_REJECTED
    if status == 429 or status >= 500:
        return EXIT_UNAVAILABLE
    return EXIT_FAILED


def fail_with(error: GatewayError, hint: str = "") -> NoReturn:
    """Ends the command with a gateway error (raised here or answered over HTTP)."""
    fail(f"{error.code}: {error.detail}{hint}", exit_for_status(error.status), error.code)


def run_action(action: Callable[[], T]) -> T:
    """Runs a chain action; its failure becomes one line with the exit code of its kind."""
    from chain.rpc import NodeUnavailableError

    try:
        return action()
    except TransactionFailed as exc:
        if exc.revert is not None and exc.revert.name not in GENERIC_REVERT_NAMES:
            fail(str(exc), EXIT_REJECTED, exc.revert.name)
        fail(str(exc), EXIT_FAILED, "TransactionFailed")
    except NodeUnavailableError as exc:
        fail(str(exc), EXIT_UNAVAILABLE, "NodeUnavailable")
    except DongneChainError as exc:
        fail(str(exc), EXIT_FAILED, type(exc).__name__)


Region = Annotated[int, typer.Option("--region", help="5-digit legal-district code (0: national).")]
