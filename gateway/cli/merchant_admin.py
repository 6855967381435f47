"""`dongne merchant suspend|reactivate|cancel|ban|tier|platform`: a merchant registrar's
on-chain actions on a shop's registration, signed with the registrar's own key and recorded in
the staff log (see ``gateway.cli.staff``). They join the registry's `dongne merchant` group
(applications, profiles, the directory): one group for everything about a shop.
"""

from __future__ import annotations

from gateway.cli.merchant import merchant
from gateway.cli.staff import staff_command

for _name, _operation, _doc, _example in (
    ("suspend", "merchant-suspend", "Suspend a merchant: no payments until reactivated.",
     "dongne merchant suspend 0xShop... --region 41390"),
    ("reactivate", "merchant-reactivate", "Reactivate a suspended merchant.",
     "dongne merchant reactivate 0xShop... --region 41390"),
    ("cancel", "merchant-cancel", "Cancel a merchant's registration (it may register again).",
     "dongne merchant cancel 0xShop... --region 41390"),
    ("ban", "merchant-ban", "Ban a merchant after cash-out fraud: registration cancelled and "
     "re-registration barred for a year (--days).",
     "dongne merchant ban 0xShop... --region 41390"),
    ("tier", "merchant-tier", "Set a merchant's revenue tier (and category, if given).",
     "dongne merchant tier 0xShop... --region 41390 --tier 2"),
    ("platform", "merchant-platform", "Make a merchant a platform (delivery app) with a fee.",
     "dongne merchant platform 0xApp... --region 41390 --platform --fee-bps 100"),
):  # fmt: skip
    staff_command(merchant, _name, _operation, _doc, _example)
