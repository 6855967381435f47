"""`dongne merchant apply | applications | approve | reject | profile | directory`: the
merchant registry through the gateway, signed in with your own key (`dongne login`).

A shop applies with its own wallet; the city's registrar lists and reviews applications.
`approve` records the approval at the gateway, which answers the ``registerMerchant``
transaction, and sends it signed with the registrar's own key (`DONGNE_KEY` or a keystore):
the gateway holds no registrar key, and the contract checks the role.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

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
from gateway.cli.gateway_api import GatewayUrl, gateway_call, gateway_get, token_of

merchant = typer.Typer(
    help="Merchant registry: applications, reviews, profiles, the public directory.",
    no_args_is_help=True,
)

_DEFAULT_GATEWAY = "http://127.0.0.1:8000"
Wallet = Annotated[str, typer.Argument(help="The shop's wallet address.")]


def _applications_path(gateway: str, region: int) -> str:
    return f"/v1/tokens/{token_of(gateway, region)}/merchant-applications"


@merchant.command("apply")
def apply(
    region: Region,
    name: Annotated[str, typer.Option(help="Business name (상호).")],
    business_number: Annotated[str, typer.Option(help="사업자등록번호, e.g. 123-45-67891.")],
    address: Annotated[str, typer.Option(help="Street address.")],
    legal_dong: Annotated[str, typer.Option(help="10-digit 법정동 code of the shop.")],
    category: Annotated[int, typer.Option(help="KSIC industry code (5 digits).")],
    lat: Annotated[float | None, typer.Option(help="Latitude.")] = None,
    lng: Annotated[float | None, typer.Option(help="Longitude.")] = None,
    market: Annotated[bool, typer.Option(help="A traditional-market stall.")] = False,
    phone: Annotated[str | None, typer.Option(help="Contact phone.")] = None,
    email: Annotated[str | None, typer.Option(help="Contact e-mail.")] = None,
    bank_code: Annotated[str | None, typer.Option(help="Settlement bank (3-digit code).")] = None,
    bank_account: Annotated[str | None, typer.Option(help="Settlement account number.")] = None,
    account_holder: Annotated[str | None, typer.Option(help="The account's holder.")] = None,
    gateway: GatewayUrl = _DEFAULT_GATEWAY,
    as_json: JsonOut = False,
) -> None:
    """Apply to be a merchant of a municipality with your own (signed-in) wallet.

    Example: dongne merchant apply --region 41390 --name "동네 빵집" --business-number
    123-45-67891 --address "시흥시 정왕동 1" --legal-dong 4139013200 --category 10712
    """
    body = {
        "business_name": name,
        "business_number": business_number,
        "address": address,
        "legal_dong": legal_dong,
        "category": category,
        "latitude": lat,
        "longitude": lng,
        "market": market,
        "phone": phone,
        "email": email,
        "bank_code": bank_code,
        "bank_account": bank_account,
        "account_holder": account_holder,
    }
    made = gateway_call(gateway, "POST", _applications_path(gateway, region), body=body)
    assert isinstance(made, dict)
    emit(made, as_json, lambda: console.print(f"applied: {made['merchant']} ({made['status']})"))


@merchant.command("applications")
def applications(
    region: Region,
    status: Annotated[
        str, typer.Option(help="applied, approved, registered, rejected or all.")
    ] = "applied",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    gateway: GatewayUrl = _DEFAULT_GATEWAY,
    as_json: JsonOut = False,
) -> None:
    """A municipality's applications in one state, oldest first (registrars, admins,
    auditors).

    Example: dongne merchant applications --region 41390 --status applied
    """
    page = gateway_get(gateway, _applications_path(gateway, region), status=status, limit=limit)
    assert isinstance(page, dict)

    def render() -> None:
        table = Table("merchant", "name", "business no.", "dong", "KSIC", "status", "applied")
        for item in page["items"]:
            table.add_row(
                item["merchant"],
                item["business_name"],
                item["business_number"],
                item["legal_dong"],
                str(item["category"]),
                item["status"],
                str(int(item["applied_at"])),
            )
        console.print(table)
        console.print(f"{page['total']} {status}")

    emit(page, as_json, render)


@merchant.command("approve")
def approve(
    wallet: Wallet,
    region: Region,
    tier: Annotated[int, typer.Option(help="Revenue tier (0 smallest).")] = 0,
    note: Annotated[str | None, typer.Option(help="Review note.")] = None,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    gateway: GatewayUrl = _DEFAULT_GATEWAY,
    as_json: JsonOut = False,
) -> None:
    """Approve an application and register the shop on chain with your registrar key.

    Example: DONGNE_KEY=0x... dongne merchant approve 0xAbc... --region 41390 --tier 0
    """
    shop = address_option(wallet, "wallet")
    body = {"tier": tier, "note": note}
    path = f"{_applications_path(gateway, region)}/{shop}/approve"
    approval = gateway_call(gateway, "POST", path, body=body)
    assert isinstance(approval, dict)
    call = approval.get("call")
    tx_hash = None
    if isinstance(call, dict):  # not on chain yet: the registrar's own wallet sends it
        _, operator = operator_for(rpc, manifest_path)
        data = bytes.fromhex(str(call["data"]).removeprefix("0x"))
        receipt = run_action(lambda: operator.send(str(call["to"]), data, str(call["function"])))
        tx_hash = str(receipt.get("transactionHash"))
    result = {**approval, "tx_hash": tx_hash}
    emit(
        result,
        as_json,
        lambda: console.print(
            f"approved {shop}" + (f"; registered on chain in {tx_hash}" if tx_hash else "")
        ),
    )


@merchant.command("reject")
def reject(
    wallet: Wallet,
    region: Region,
    note: Annotated[str, typer.Option(help="Why (the shop reads it).")],
    gateway: GatewayUrl = _DEFAULT_GATEWAY,
    as_json: JsonOut = False,
) -> None:
    """Reject an application not yet registered, with the reason.

    Example: dongne merchant reject 0xAbc... --region 41390 --note "business closed"
    """
    shop = address_option(wallet, "wallet")
    path = f"{_applications_path(gateway, region)}/{shop}/reject"
    done = gateway_call(gateway, "POST", path, body={"note": note})
    assert isinstance(done, dict)
    emit(done, as_json, lambda: console.print(f"rejected {shop}"))


@merchant.command("profile")
def profile(
    wallet: Wallet,
    region: Region,
    gateway: GatewayUrl = _DEFAULT_GATEWAY,
    as_json: JsonOut = False,
) -> None:
    """A shop's full profile (the shop itself, its city's staff; logged for others).

    Example: dongne merchant profile 0xAbc... --region 41390 --json
    """
    shop = address_option(wallet, "wallet")
    token = token_of(gateway, region)
    found = gateway_get(gateway, f"/v1/tokens/{token}/merchants/{shop}/profile")
    emit(found, as_json, lambda: console.print_json(data=found))


@merchant.command("directory")
def directory(
    region: Region,
    q: Annotated[str | None, typer.Option(help="Part of the shop's name.")] = None,
    category: Annotated[int | None, typer.Option(help="KSIC code.")] = None,
    dong: Annotated[str | None, typer.Option(help="법정동 code prefix (district).")] = None,
    near: Annotated[str | None, typer.Option(help="lat,lng: nearest first.")] = None,
    radius: Annotated[int, typer.Option(help="Metres around --near.")] = 1_000,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
    gateway: GatewayUrl = _DEFAULT_GATEWAY,
    as_json: JsonOut = False,
) -> None:
    """Search a municipality's registered shops (public).

    Example: dongne merchant directory --region 41390 --q 빵 --near 37.38,126.80
    """
    if near is not None and near.count(",") != 1:
        fail("--near is lat,lng, e.g. 37.38,126.80")
    token = token_of(gateway, region)
    page = gateway_get(
        gateway,
        f"/v1/tokens/{token}/directory",
        q=q,
        category=category,
        dong=dong,
        near=near,
        radius_m=radius if near else None,
        limit=limit,
    )
    assert isinstance(page, dict)

    def render() -> None:
        table = Table("name", "address", "KSIC", "distance", "wallet")
        for e in page["items"]:
            far = "" if e["distance_m"] is None else f"{e['distance_m']:.0f} m"
            table.add_row(e["business_name"], e["address"], str(e["category"]), far, e["merchant"])
        console.print(table)

    emit(page, as_json, render)
