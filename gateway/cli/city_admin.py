"""`dongne city pause|unpause|freeze|unfreeze|institution-*|exclusion*|funding-*`: a city's
staff operations on the municipality as a whole, and the KYC registrars' freeze, each signed
with the caller's own key and recorded in the staff log (see ``gateway.cli.staff``).

`dongne city employee` is the institution's own act (its key authorises an employee's wallet),
not staff's: it is sent, not logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.city import city
from gateway.cli.common import (
    JsonOut,
    ManifestPath,
    Region,
    RpcUrl,
    address_option,
    console,
    emit,
    operator_for,
    run_action,
)
from gateway.cli.staff import staff_command

for _name, _operation, _doc, _example in (
    ("pause", "pause", "Pause the city's token: payments, gifts and sales stop.",
     "dongne city pause --region 41390"),
    ("unpause", "unpause", "Resume the city's token.", "dongne city unpause --region 41390"),
    ("freeze", "freeze", "Freeze a wallet network-wide (KYC registrar): it can neither send "
     "nor receive.", "dongne city freeze 0xLost... --region 41390"),
    ("unfreeze", "unfreeze", "Unfreeze a wallet (KYC registrar).",
     "dongne city unfreeze 0xFound... --region 41390"),
    ("institution-limits", "institution-limits", "Set an institution wallet's limits per "
     "payment and per month (0: none).", "dongne city institution-limits 0xOffice... "
     "--region 41390 --per-payment 300000 --per-month 2000000"),
    ("institution-block", "institution-block", "Block (or allow) a category for one "
     "institution.", "dongne city institution-block 0xOffice... --region 41390 "
     "--category 56211 --blocked"),
    ("institution-category", "institution-category", "Block (or allow) a category for every "
     "institution wallet (bars, golf, gambling).",
     "dongne city institution-category --region 41390 --category 56211 --blocked"),
    ("exclusions", "exclusion", "Exclude a category from purchased money (department stores, "
     "large marts), or allow it again.",
     "dongne city exclusions --region 41390 --category 47111 --excluded"),
    ("exclusion-sync", "exclusion-sync", "Re-apply the category exclusions to merchants "
     "registered before the change.",
     "dongne city exclusion-sync --region 41390 --merchants 0xMart... --merchants 0xShop..."),
    ("funding-propose", "funding-propose", "Propose who funds discounts and cashback: one "
     "--shares funder:subsidy_bps:cashback_bps per funder (each column adds up to 10000); it "
     "applies after the city's change delay (`dongne city funding-activate`).",
     "dongne city funding-propose --region 41390 --shares state:4000:0 --shares "
     "gyeonggi:3000:0 --shares siheung:3000:10000"),
    ("funding-activate", "funding-activate", "Activate the pending funding plan after its "
     "delay.", "dongne city funding-activate --region 41390"),
    ("funding-cancel", "funding-cancel", "Cancel the pending funding plan.",
     "dongne city funding-cancel --region 41390"),
):  # fmt: skip
    staff_command(city, _name, _operation, _doc, _example)


@city.command("employee")
def city_employee(
    employee: Annotated[str, typer.Argument(help="The employee's (citizen's) wallet.")],
    region: Region,
    monthly_limit: Annotated[int, typer.Option(help="Won a month; 0 removes the employee.")],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Authorise an employee to spend from your institution's balance (institution's key).

    Example: DONGNE_KEY=$OFFICE dongne city employee 0xClerk... --region 41390 --monthly-limit 50000
    """
    from chain.protocol.calls import encode_set_employee

    account = address_option(employee, "employee")
    manifest, operator = operator_for(rpc, manifest_path)
    token = str(run_action(lambda: manifest.token(region)))
    data = encode_set_employee(account, monthly_limit)
    receipt = run_action(lambda: operator.send(token, data, "setEmployee"))
    result = {"institution": operator.address, "employee": account, "monthly_limit": monthly_limit,
              "tx_hash": receipt["transactionHash"]}  # fmt: skip
    emit(result, as_json, lambda: console.print(
        f"{account} may spend ₩{monthly_limit:,} a month for {operator.address}"))  # fmt: skip
