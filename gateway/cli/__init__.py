"""`dongne`: the local network in one command, city operations and auditors' reports.

Every command takes `--json` for machine-readable output and exits non-zero with a one-line
reason on bad input. City operations are signed with the operator's own key
(`DONGNE_DEPLOYER_KEY`, or `DONGNE_DEPLOYER_KEYSTORE` + `DONGNE_DEPLOYER_PASSWORD`).
The commands live by subject: `up` (up, reindex), `city`, `program`, `audit`; what they share
is in `common`.
"""

from __future__ import annotations

import typer

from gateway.cli.audit import audit
from gateway.cli.city import city
from gateway.cli.keys import api_key
from gateway.cli.program import program
from gateway.cli.session import login, logout, whoami
from gateway.cli.up import reindex, up

app = typer.Typer(
    name="dongne",
    help="Dongne: a permissioned voucher network for local currencies and policy allowances.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(up)
app.command()(reindex)
app.command()(login)
app.command()(logout)
app.command()(whoami)
app.add_typer(city, name="city")
app.add_typer(program, name="program")
app.add_typer(audit, name="audit")
app.add_typer(api_key, name="api-key")


def main() -> None:  # pragma: no cover - console script entry
    app()
