"""Demo data for `dongne up --demo`: four municipalities' merchants, citizens and keys.

Demo keys are random, written to `<data dir>/demo-keys.json` so a wallet app can use them;
they exist only on the local demo network.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from chain.manifest import Manifest
from chain.operator import Operator, role_id
from chain.protocol.calls import (
    RewardParams,
    encode_issue,
    encode_set_excluded_category,
)
from chain.protocol.contracts import encode_function
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

# KSIC categories where purchased vouchers are typically refused (DOMAIN.md): department stores,
# large marts and other large general retail, entertainment bars, online malls. Policy pockets
# follow their own program's allowlist.
TYPICAL_EXCLUSIONS = (47111, 47112, 47119, 56211, 56212, 47911, 47912)

# Siheung's walking rewards: ₩100 for each day of 10,000 steps, at most ₩3,000 a month.
WALKING_DAILY_CAP = 100
WALKING_MONTHLY_CAP = 3_000
WALKING_BUDGET = 30_000_000


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
    say("excluding department stores, large marts, entertainment bars and online malls for"
        " purchased money")  # fmt: skip
    exclusions = [
        (manifest.token(spec.region), encode_set_excluded_category(category, True))
        for spec in DEMO_MUNICIPALITIES
        for category in TYPICAL_EXCLUSIONS
    ]
    operator.send_calls(exclusions, "setExcludedCategory")
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
    walking = _walking_rewards(manifest, operator)
    say(f"Siheung walking rewards: program {walking}, ₩{WALKING_DAILY_CAP} a day of 10,000 steps,"
        f" at most ₩{WALKING_MONTHLY_CAP:,} a month")  # fmt: skip
    data_dir.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps([w.__dict__ for w in wallets], indent=2) + "\n")
    keys_file.chmod(0o600)
    return wallets


def _walking_rewards(manifest: Manifest, operator: Operator) -> int:
    """A year of walking rewards in Siheung; the operator (the demo's city staff) is also the
    city's reward service key that signs the daily attestations."""
    token = manifest.token(SIHEUNG.region)
    grant = encode_function("grantRole", [role_id("REWARDER_ROLE"), operator.address])
    operator.send_calls([(token, grant)], "grantRole")
    block = operator.rpc.get_block("latest")
    now = int(str(block["timestamp"]), 16) if block is not None else int(time.time())
    params = RewardParams(
        budget=WALKING_BUDGET,
        start=now,
        expiry=now + 365 * 86_400,
        daily_cap=WALKING_DAILY_CAP,
        monthly_cap=WALKING_MONTHLY_CAP,
        ref=b"walking".ljust(32, b"\0"),
    )
    return operator.create_reward_program(token, params)
