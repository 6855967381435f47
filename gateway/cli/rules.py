"""`dongne rules show|history|propose|activate|cancel`: a city's rules, versioned on chain.

Changes are proposed by the city's admin, visible for the change delay, then activated (by
anyone, once due); every change is an event, indexed by the gateway (`show`, `history`). The
writes go through ``gateway.cli.staff`` (own key, staff log).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import (
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
from gateway.cli.gateway_api import GatewayUrl, gateway_get, token_of
from gateway.cli.staff import run_staff, staff_command

rules = typer.Typer(help="A city's rules: show, history, propose, activate, cancel.",
                    no_args_is_help=True)  # fmt: skip

for _name, _operation, _doc, _example in (
    ("activate", "rules-activate", "Activate the pending rules once their delay has passed.",
     "dongne rules activate --region 41390"),
    ("cancel", "rules-cancel", "Cancel the pending rules before they take effect.",
     "dongne rules cancel --region 41390"),
):  # fmt: skip
    staff_command(rules, _name, _operation, _doc, _example)


@rules.command("show")
def rules_show(
    region: Region, gateway: GatewayUrl = "http://127.0.0.1:8000", as_json: JsonOut = False
) -> None:
    """The rules in force and the pending changes with the time they take effect.

    Example: dongne rules show --region 41390
    """
    token = token_of(gateway, region)
    view = gateway_get(gateway, f"/v1/tokens/{token}/rules")
    assert isinstance(view, dict)
    shown = {"token": view.get("token"), "current": view.get("current"),
             "pending": view.get("pending")}  # fmt: skip
    emit(shown, as_json, lambda: console.print_json(data=shown))


@rules.command("history")
def rules_history(
    region: Region, gateway: GatewayUrl = "http://127.0.0.1:8000", as_json: JsonOut = False
) -> None:
    """Every rule change (proposed, activated, cancelled), newest first.

    Example: dongne rules history --region 41390 --json
    """
    token = token_of(gateway, region)
    changes = gateway_get(gateway, f"/v1/tokens/{token}/rules/history")
    assert isinstance(changes, list)

    def render() -> None:
        for change in changes:
            console.print(f"v{change['version']} {change['action']} at {change['block_time']}")

    emit(changes, as_json, render)


def propose(region: int, changes: list[str], rpc: str, manifest_path: Path, gateway: str,
            as_json: bool) -> None:  # fmt: skip
    """Proposes the rules in force with ``changes`` (``field=value``) applied."""
    from chain.protocol.calls import Rules
    from chain.staff import current_rules

    manifest, operator = operator_for(rpc, manifest_path)
    token = str(run_action(lambda: manifest.token(region)))
    now = run_action(lambda: current_rules(operator.rpc, token))
    names = {f.name for f in dataclasses.fields(Rules)}
    parsed: dict[str, int | bool] = {}
    for item in changes:
        key, _, value = item.partition("=")
        if key not in names or not value:
            fail(f"--set {item!r}: field must be one of {', '.join(sorted(names))}")
        try:
            parsed[key] = value.lower() in ("1", "true", "yes") if key == "gift_enabled" \
                else int(value)  # fmt: skip
        except ValueError:
            fail(f"--set {item!r}: {key} is a whole number")
    new = dataclasses.replace(now, **parsed)  # type: ignore[arg-type]
    run_staff("rules-propose", region, {"rules": new}, rpc=rpc, manifest_path=manifest_path,
              gateway=gateway, as_json=as_json)  # fmt: skip


SetOption = Annotated[
    list[str], typer.Option("--set", help="field=value, e.g. monthly_purchase_cap=500000.")
]


@rules.command("propose")
def rules_propose(
    region: Region,
    set_: SetOption,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Propose new rules (the ones in force with --set changes); they take effect after the
    city's change delay (`dongne rules activate`).

    Example: dongne rules propose --region 41390 --set monthly_purchase_cap=500000
    """
    propose(region, set_, rpc, manifest_path, gateway, as_json)
