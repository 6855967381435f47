"""Demo data for `dongne up --demo`: five municipalities' merchants, citizens and keys.

Each city runs its own program with its own rules (gateway/devnet/city_rules.py): Siheung the
shared mobile platform with walking rewards, Seongnam the national QR rail with a public
body's expense wallet, Busan its cashback currency, Incheon its stacked cashback with a
delivery platform, and the national market voucher stalls in three cities' markets.

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
    encode_register_merchant,
    encode_set_excluded_category,
    encode_set_institution_blocked_category,
    encode_set_institution_limits,
    encode_set_platform,
)
from chain.protocol.contracts import encode_function
from gateway.devnet.city_rules import DELIVERY_FEE_BPS
from gateway.devnet.localnet import (
    BUSAN,
    INCHEON,
    NATIONAL,
    SEONGNAM,
    SIHEUNG,
    MunicipalitySpec,
)

DEMO_MUNICIPALITIES: tuple[MunicipalitySpec, ...] = (SIHEUNG, SEONGNAM, BUSAN, INCHEON, NATIONAL)

# (name, KSIC category, revenue tier) per shop; the national voucher's shops are market stores.
SHOPS = (
    ("Bakery", 10712, 0),
    ("Noodle house", 56111, 0),
    ("Grocery", 47121, 1),
    ("Department store", 47111, 3),
)
MARKET_SHOPS = (
    ("Market fish stall", 47215, 0, SIHEUNG.region),
    ("Market produce stall", 47212, 0, SEONGNAM.region),
    ("Market dried-fish stall", 47215, 0, BUSAN.region),  # Busan's Jagalchi market
)
# Incheon's public delivery app: a platform merchant (KSIC 63120, internet intermediation).
DELIVERY_APP = ("Incheon Delivery app", 63120, 0)

# The national QR rail's public body, in Seongnam, whose vouchers are sold and paid on that
# rail: it pays business expenses from one wallet, ₩300,000 a payment and ₩1,000,000 a month
# at most, never at entertainment bars, golf courses or gambling businesses (KSIC).
PUBLIC_BODY = "Seongnam Urban Development Corp"
PUBLIC_BODY_BUDGET = 1_000_000
PUBLIC_BODY_PER_PAYMENT = 300_000
PUBLIC_BODY_PER_MONTH = 1_000_000
PUBLIC_BODY_BLOCKED = (56211, 91121, 91249)
# Seongnam businesses a public body may not pay: a golf course and an entertainment bar.
SEONGNAM_LEISURE = (("Golf course", 91121, 1), ("Bar", 56211, 0))

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
    public_body = new("institution", PUBLIC_BODY, SEONGNAM.region)
    shops: list[tuple[DemoWallet, int, int, int, bool]] = []
    for spec in DEMO_MUNICIPALITIES:
        if spec.region == 0:
            for name, category, tier, region in MARKET_SHOPS:
                shops.append((new("merchant", name, 0), region, category, tier, True))
        else:
            leisure = SEONGNAM_LEISURE if spec is SEONGNAM else ()
            for name, category, tier in SHOPS + leisure:
                wallet = new("merchant", f"{spec.name.split()[0]} {name}", spec.region)
                shops.append((wallet, spec.region, category, tier, False))
    name, category, tier = DELIVERY_APP
    delivery = new("merchant", name, INCHEON.region)
    shops.append((delivery, INCHEON.region, category, tier, False))
    say("excluding department stores, large marts, entertainment bars and online malls for"
        " purchased money")  # fmt: skip
    exclusions = [
        (manifest.token(spec.region), encode_set_excluded_category(category, True))
        for spec in DEMO_MUNICIPALITIES
        for category in TYPICAL_EXCLUSIONS
    ]
    operator.send_calls(exclusions, "setExcludedCategory")
    say(f"registering {len(people)} citizens, 2 institutions and {len(shops)} merchants")
    operator.register(manifest.registry, [p.address for p in people], "citizen")
    operator.register(manifest.registry, [institution.address, public_body.address], "institution")
    operator.register(manifest.registry, [s[0].address for s in shops], "merchant")
    merchants = [
        (
            manifest.token(0 if market else region),
            encode_register_merchant(wallet.address, region, category, tier, market),
        )
        for wallet, region, category, tier, market in shops
    ]
    operator.send_calls(merchants, "registerMerchant")
    incheon = manifest.token(INCHEON.region)
    say(f"Incheon's delivery app brokers orders for {DELIVERY_FEE_BPS / 100:g}%")
    operator.send_calls(
        [(incheon, encode_set_platform(delivery.address, True, DELIVERY_FEE_BPS))], "setPlatform"
    )
    _public_body(manifest, operator, public_body.address)
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


def _public_body(manifest: Manifest, operator: Operator, body: str) -> None:
    """The public body's expense wallet: its budget (at face value: public money buys no
    discount), its limits and the categories it may never pay."""
    token = manifest.token(SEONGNAM.region)
    calls = [
        (token, encode_issue(body, PUBLIC_BODY_BUDGET, PUBLIC_BODY_BUDGET)),
        (
            token,
            encode_set_institution_limits(body, PUBLIC_BODY_PER_PAYMENT, PUBLIC_BODY_PER_MONTH),
        ),
    ]
    calls += [
        (token, encode_set_institution_blocked_category(body, category, True))
        for category in PUBLIC_BODY_BLOCKED
    ]
    operator.send_calls(calls, "public body's budget and limits")


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
