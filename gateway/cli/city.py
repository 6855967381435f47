"""`dongne city ...`: a municipality's staff operations, signed with the operator's key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chain.operator import KIND
from gateway.cli.common import (
    JsonOut,
    ManifestPath,
    Region,
    RpcUrl,
    address_option,
    console,
    emit,
    fail,
    operator_for,
    run_action,
)
from gateway.cli.gateway_api import GatewayUrl, gateway_get, token_of

city = typer.Typer(
    help="City operations, signed with the operator's own key.", no_args_is_help=True
)


@city.command("deploy")
def city_deploy(
    region: Region,
    name: Annotated[str, typer.Option(help="Voucher name.")],
    symbol: Annotated[str, typer.Option(help="Ticker.")],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Deploy a municipality's voucher token through the factory (today's default rules).

    Example: dongne city deploy --region 41130 --name "Seongnam Love Voucher" --symbol SNV
    """
    from web3 import Web3

    from chain.deploy import deploy_municipality
    from chain.protocol.calls import default_rules

    if region != 0 and not 10_000 <= region <= 99_999:
        fail("--region must be a 5-digit legal-district code or 0")
    manifest, operator = operator_for(rpc, manifest_path, network=True)
    municipality = run_action(
        lambda: deploy_municipality(
            Web3(Web3.HTTPProvider(rpc)),
            operator.account,
            manifest,
            region=region,
            name=name,
            symbol=symbol,
            admin=operator.address,
            rules=default_rules().as_tuple(),
            manifest_path=manifest_path,
        )
    )
    run_action(lambda: operator.grant_roles(municipality.token, operator.address))
    emit(municipality.__dict__, as_json, lambda: console.print(f"{region}: {municipality.token}"))


@city.command("register")
def city_register(
    address: Annotated[str, typer.Argument(help="Wallet address.")],
    kind: Annotated[str, typer.Option(help="citizen, merchant or institution.")],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Register a verified wallet in the identity registry (KYC registrar's key).

    Example: dongne city register 0xAbc... --kind citizen
    """

    if kind not in KIND:
        fail(f"--kind must be one of {', '.join(KIND)}")
    account = address_option(address, "address")
    manifest, operator = operator_for(rpc, manifest_path, network=True)
    run_action(lambda: operator.register(manifest.registry, [account], kind))
    emit(
        {"address": account, "kind": kind},
        as_json,
        lambda: console.print(f"registered {account} as {kind}"),
    )


@city.command("merchant")
def city_merchant(
    address: Annotated[str, typer.Argument(help="Merchant wallet (registered as merchant).")],
    region: Region,
    category: Annotated[int, typer.Option(help="KSIC industry code.")],
    tier: Annotated[int, typer.Option(help="Revenue tier (0 smallest).")] = 0,
    shop_region: Annotated[
        int | None, typer.Option(help="Shop's region (national voucher).")
    ] = None,
    market: Annotated[bool, typer.Option(help="Traditional-market store.")] = False,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Register a merchant of a municipality.

    Example: dongne city merchant 0xAbc... --region 41390 --category 56111 --tier 0
    """

    account = address_option(address, "address")
    manifest, operator = operator_for(rpc, manifest_path)
    token = run_action(lambda: manifest.token(region))
    run_action(
        lambda: operator.register_merchant(
            str(token),
            account,
            shop_region if shop_region is not None else region,
            category,
            tier,
            market,
        )
    )
    emit(
        {"merchant": account, "token": token, "category": category, "tier": tier},
        as_json,
        lambda: console.print(f"merchant {account} registered in {region}"),
    )


@city.command("sell")
def city_sell(
    buyer: Annotated[str, typer.Argument(help="Buyer's wallet.")],
    region: Region,
    face: Annotated[int, typer.Option(help="Face value in won.")],
    paid: Annotated[int, typer.Option(help="Cash paid in won (face minus discount).")],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Sell vouchers at a discount (sales agent's key).

    Example: dongne city sell 0xAbc... --region 41390 --face 100000 --paid 90000
    """

    if face <= 0 or paid < 0 or paid > face:
        fail("--face must be positive and --paid between 0 and --face")
    account = address_option(buyer, "buyer")
    manifest, operator = operator_for(rpc, manifest_path)
    token = run_action(lambda: manifest.token(region))
    run_action(lambda: operator.issue(str(token), account, face, paid))
    emit(
        {"buyer": account, "face": face, "paid": paid, "subsidy": face - paid},
        as_json,
        lambda: console.print(f"sold ₩{face:,} to {account} for ₩{paid:,}"),
    )


@city.command("rules")
def city_rules(
    region: Region,
    set_: Annotated[
        list[str], typer.Option("--set", help="field=value, e.g. holding_cap=2000000.")
    ],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Propose new rules; they take effect after the municipality's change delay (the same
    as `dongne rules propose`).

    Example: dongne city rules --region 41390 --set monthly_purchase_cap=500000
    """
    from gateway.cli.rules import propose

    propose(region, set_, rpc, manifest_path, gateway, as_json)


RoleName = Annotated[str, typer.Option("--role", help="e.g. AUDITOR_ROLE, PROGRAM_MANAGER_ROLE.")]


@city.command("roles")
def city_roles(
    region: Region,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Who holds which role in a municipality (from the gateway's index of the chain).

    Example: dongne city roles --region 41390
    """
    token = token_of(gateway, region)
    holders = gateway_get(gateway, f"/v1/tokens/{token}/roles")
    emit(holders, as_json, lambda: console.print_json(data=holders))


def _change_role(grant: bool, region: int, role: str, address: str, rpc: str, manifest: Path,
                 gateway: str, as_json: bool) -> None:  # fmt: skip
    from gateway.access.roles import ROLE_NAMES
    from gateway.cli.staff import run_staff

    if role not in ROLE_NAMES:
        fail(f"--role must be one of {', '.join(ROLE_NAMES)}")
    account = address_option(address, "address")
    run_staff("role-grant" if grant else "role-revoke", region, {"role": role, "account": account},
              rpc=rpc, manifest_path=manifest, gateway=gateway, as_json=as_json)  # fmt: skip


@city.command("grant-role")
def city_grant_role(
    address: Annotated[str, typer.Argument(help="The staff member's wallet.")],
    region: Region,
    role: RoleName,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Grant a role on chain, signed with your own key (you must be the city's admin);
    recorded in the staff log.

    Example: dongne city grant-role 0xAuditor... --region 41390 --role AUDITOR_ROLE
    """
    _change_role(True, region, role, address, rpc, manifest_path, gateway, as_json)


@city.command("revoke-role")
def city_revoke_role(
    address: Annotated[str, typer.Argument(help="The staff member's wallet.")],
    region: Region,
    role: RoleName,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Revoke a role on chain; the gateway stops honouring it within seconds. Recorded in the
    staff log.

    Example: dongne city revoke-role 0xAuditor... --region 41390 --role AUDITOR_ROLE
    """
    _change_role(False, region, role, address, rpc, manifest_path, gateway, as_json)
