"""`dongne merchants ...`: a merchant registrar's on-chain actions on a shop's registration,
signed with the registrar's own key and recorded in the staff log (see ``gateway.cli.staff``).

Registered as `dongne merchants` beside `dongne merchant` (applications, profiles), which is
another module's; the two can merge by adding this app's commands to that one.
"""

from __future__ import annotations

import typer

from gateway.cli.staff import staff_command

merchant_admin = typer.Typer(
    help="A merchant's registration: suspend, reactivate, cancel, ban, re-tier (registrar).",
    no_args_is_help=True,
)

for _name, _operation, _doc, _example in (
    ("suspend", "merchant-suspend", "Suspend a merchant: no payments until reactivated.",
     "dongne merchants suspend 0xShop... --region 41390"),
    ("reactivate", "merchant-reactivate", "Reactivate a suspended merchant.",
     "dongne merchants reactivate 0xShop... --region 41390"),
    ("cancel", "merchant-cancel", "Cancel a merchant's registration (it may register again).",
     "dongne merchants cancel 0xShop... --region 41390"),
    ("ban", "merchant-ban", "Ban a merchant after cash-out fraud: registration cancelled and "
     "re-registration barred for a year (--days).",
     "dongne merchants ban 0xShop... --region 41390"),
    ("tier", "merchant-tier", "Set a merchant's revenue tier (and category, if given).",
     "dongne merchants tier 0xShop... --region 41390 --tier 2"),
    ("platform", "merchant-platform", "Make a merchant a platform (delivery app) with a fee.",
     "dongne merchants platform 0xApp... --region 41390 --platform --fee-bps 100"),
):  # fmt: skip
    staff_command(merchant_admin, _name, _operation, _doc, _example)
