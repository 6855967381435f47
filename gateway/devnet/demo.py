"""Demo data for `dongne up --demo`: four municipalities' merchants, citizens and keys.

Demo keys are random, written to `<data dir>/demo-keys.json` so a wallet app can use them;
they exist only on the local demo network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from chain.manifest import Manifest
from chain.operator import Operator
from chain.protocol.calls import encode_issue
from gateway.devnet.localnet import BUSAN, NATIONAL, SEONGNAM, SIHEUNG, MunicipalitySpec

DEMO_MUNICIPALITIES: tuple[MunicipalitySpec, ...] = (SIHEUNG, SEONGNAM, BUSAN, NATIONAL)

# (name, KSIC category, revenue tier) per shop; the national voucher's shops are market stores.
SHOPS = (
    ("Bakery", 10712, 0),
    ("Noodle house", 56111, 0),
    ("Grocery", 47121, 1),
    ("Department store", 47111, 3),
)
MARKET_SHOPS = (("Market fish stall", 47215, 0, 41390), ("Market produce stall", 47212, 0, 41130))


@dataclass(frozen=True)
class DemoWallet:
    role: str
    name: str
    address: str
    private_key: str
    region: int | None = None


def seed_demo(
    data_dir: Path,
    manifest: Manifest,
    operator: Operator,
    *,
    citizens: int = 20,
    say: Callable[[str], None] = print,
) -> list[DemoWallet]:
    """Creates merchants and citizens once; later runs read the saved keys."""
    keys_file = data_dir / "demo-keys.json"
    if keys_file.exists():
        return [DemoWallet(**w) for w in json.loads(keys_file.read_text())]
    wallets: list[DemoWallet] = []

    def new(role: str, name: str, region: int | None = None) -> DemoWallet:
        account = Account.create()
        wallet = DemoWallet(role, name, account.address, "0x" + bytes(account.key).hex(), region)
        wallets.append(wallet)
        return wallet

    people = [new("citizen", f"Citizen {i + 1}") for i in range(citizens)]
    institution = new("institution", "Siheung city office")
    shops: list[tuple[DemoWallet, int, int, int, bool]] = []
    for spec in DEMO_MUNICIPALITIES:
        if spec.region == 0:
            for name, category, tier, region in MARKET_SHOPS:
                shops.append((new("merchant", name, 0), region, category, tier, True))
        else:
            for name, category, tier in SHOPS:
                wallet = new("merchant", f"{spec.name.split()[0]} {name}", spec.region)
                shops.append((wallet, spec.region, category, tier, False))
    say(f"registering {len(people)} citizens, 1 institution and {len(shops)} merchants")
    operator.register(manifest.registry, [p.address for p in people], "citizen")
    operator.register(manifest.registry, [institution.address], "institution")
    operator.register(manifest.registry, [s[0].address for s in shops], "merchant")
    for wallet, region, category, tier, market in shops:
        token = manifest.token(0 if market else region)
        operator.register_merchant(token, wallet.address, region, category, tier, market)
    say("selling each citizen ₩200,000 of Siheung and national vouchers at 10% off")
    sales = []
    for spec in (SIHEUNG, NATIONAL):
        token = manifest.token(spec.region)
        sales += [(token, encode_issue(p.address, 200_000, 180_000)) for p in people]
    sales.append(
        (
            manifest.token(SIHEUNG.region),
            encode_issue(institution.address, 1_000_000, 1_000_000 - 50_000),
        )
    )
    operator.send_calls(sales, "issue")
    data_dir.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps([w.__dict__ for w in wallets], indent=2) + "\n")
    keys_file.chmod(0o600)
    return wallets
