"""`dongne`: the local network in one command, city operations and auditors' reports.

Every command takes `--json` for machine-readable output (and errors as one JSON object on
stderr) and exits with a one-line reason and a code that says why (see ``common``); no
traceback reaches a user unless ``DONGNE_DEBUG=1`` asks for it. A municipality's staff sign
with their own key (`DONGNE_KEY`, or `DONGNE_KEYSTORE` + `DONGNE_PASSWORD`); deploying a city
and registering identities take the network operator's (`DONGNE_DEPLOYER_*`).
The commands live by subject: `up` (up, reindex), `indexer` (the indexer as its own process),
`serve` (`gateway`: the gateway alone, N replicas on one port),
`city` (+ `city_admin`), `merchant` (+ `merchant_admin`), `import`, `rules`, `program`,
`invoice`, `reward`, `staff`, `audit`, `bank-sim`; what they share is in `common`, and every
staff write goes through `staff.run_staff`.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

import typer
from typer.exceptions import TyperException

from gateway.cli import (
    city_admin,  # noqa: F401 - adds the city's staff commands to `city`
    merchant_admin,  # noqa: F401 - adds the registrar's commands to `merchant`
)
from gateway.cli.audit import audit
from gateway.cli.banksim import bank_sim
from gateway.cli.city import city
from gateway.cli.common import EXIT_CODES_HELP, EXIT_FAILED, EXIT_USAGE, errors, fail
from gateway.cli.indexer import indexer
from gateway.cli.invoice import invoice
from gateway.cli.keys import api_key
from gateway.cli.merchant import merchant
from gateway.cli.onboarding import importer
from gateway.cli.program import program
from gateway.cli.reward import reward
from gateway.cli.rules import rules
from gateway.cli.serve import gateway
from gateway.cli.session import login, logout, whoami
from gateway.cli.staff import staff
from gateway.cli.up import reindex, up

app = typer.Typer(
    name="dongne",
    help="Dongne: a permissioned voucher network for local currencies and policy allowances.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version() -> str:
    try:
        return version("dongne")
    except PackageNotFoundError:  # a checkout run without installing
        return "0+unknown"


def _show_version(value: bool) -> None:
    if value:
        print(f"dongne {_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Dongne: a permissioned voucher network for local currencies and policy allowances."""


app.command()(up)
app.command()(reindex)
app.command()(indexer)
app.command()(gateway)
app.command()(login)
app.command()(logout)
app.command()(whoami)
app.command("bank-sim")(bank_sim)
app.add_typer(city, name="city")
app.add_typer(program, name="program")
app.add_typer(audit, name="audit")
app.add_typer(api_key, name="api-key")
app.add_typer(merchant, name="merchant")
app.add_typer(importer, name="import")
app.add_typer(rules, name="rules")
app.add_typer(invoice, name="invoice")
app.add_typer(reward, name="reward")
app.add_typer(staff, name="staff")


def main() -> None:
    """The console script: errors as JSON when asked, and never a traceback for a user."""
    errors.as_json = "--json" in sys.argv[1:]
    try:
        try:
            # With --json, Click's own usage errors become JSON too: run it without its
            # standalone handling (which prints them itself and exits).
            code = app(standalone_mode=not errors.as_json)
        except TyperException as exc:  # click's usage (2) and other refusals (1)
            exit_code = int(getattr(exc, "exit_code", EXIT_USAGE))
            fail(str(getattr(exc, "format_message", exc.__str__)()), exit_code, "UsageError")
        except KeyboardInterrupt:
            fail("interrupted", EXIT_FAILED, "Interrupted")
        except (SystemExit, typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if os.environ.get("DONGNE_DEBUG"):
                raise
            fail(f"{type(exc).__name__}: {exc} (DONGNE_DEBUG=1 shows where)", EXIT_FAILED, "Bug")
    except typer.Exit as done:  # fail() outside a command
        raise SystemExit(done.exit_code) from None
    except typer.Abort:
        raise SystemExit(EXIT_FAILED) from None
    raise SystemExit(code if isinstance(code, int) else 0)
