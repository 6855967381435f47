"""`dongne api-key create | list | revoke`: keys for a municipality's services (a bank's
settlement system, a back office), made by the city's admin through the gateway."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import JsonOut, Region, console, emit
from gateway.cli.gateway_api import GatewayUrl, gateway_call, token_of

api_key = typer.Typer(help="API keys for a municipality's services.", no_args_is_help=True)


@api_key.command("create")
def create(
    region: Region,
    name: Annotated[str, typer.Option(help="What the key is for.")],
    role: Annotated[list[str], typer.Option("--role", help="A role it may use (repeat).")],
    days: Annotated[int, typer.Option(help="Days until it expires.")] = 90,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Create a key (shown once) with roles you hold in the municipality.

    Example: dongne api-key create --region 41390 --name "bank settlement" --role AUDITOR_ROLE
    """
    token = token_of(gateway, region)
    body = {"name": name, "roles": role, "ttl_days": days}
    made = gateway_call(gateway, "POST", f"/v1/tokens/{token}/api-keys", body=body)
    assert isinstance(made, dict)
    emit(made, as_json, lambda: console.print(f"{made['secret']}  (shown once; send as X-API-Key)"))


@api_key.command("list")
def list_keys(
    region: Region, gateway: GatewayUrl = "http://127.0.0.1:8000", as_json: JsonOut = False
) -> None:
    """The municipality's keys (never their secrets).

    Example: dongne api-key list --region 41390
    """
    token = token_of(gateway, region)
    keys = gateway_call(gateway, "GET", f"/v1/tokens/{token}/api-keys")
    emit(keys, as_json, lambda: console.print_json(data=keys))


@api_key.command("revoke")
def revoke(
    region: Region,
    key_id: Annotated[str, typer.Option("--id", help="The key's id.")],
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Revoke a key: it stops working at once.

    Example: dongne api-key revoke --region 41390 --id 3f2a9c0d1e2b4a5c
    """
    token = token_of(gateway, region)
    gateway_call(gateway, "DELETE", f"/v1/tokens/{token}/api-keys/{key_id}")
    emit({"id": key_id, "revoked": True}, as_json, lambda: console.print(f"revoked {key_id}"))
