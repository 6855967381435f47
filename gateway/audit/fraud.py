"""Fraud flags for cash-out (상품권 깡): published, explainable rules over the index.

Each rule reads one municipality's events in a window ``[since, until)`` with thresholds the
municipality sets (stored per token, defaults below). A flag names its rule, the thresholds
that judged it and its evidence rows (transaction hashes and amounts), so an inspector can
check it by hand and a merchant can be told why. Flags are leads for an inspection, not
verdicts. Rules:

- ``linked_wallet_payment``: a merchant's own or linked wallets pay it. The chain cannot tell
  that two addresses share an owner, so links start from wallets the city declares (owner,
  family, staff: from KYC and the business registration) and extend to every wallet that
  exchanged a gift with one of them (money funded by or sent to the family).
- ``buy_then_pay``: a purchase, then most of it paid from purchased money to one merchant
  within minutes: the "buy in one's own name and cash it" pattern.
- ``revenue_tier``: vouchers received in a calendar month (KST) over what the merchant's
  revenue tier allows.
- ``round_amount_burst``: many payments of exact multiples of ₩10,000 to one merchant in a
  short window (payments with no sale behind them are typed in round figures).
- ``circular_gifts``: gifts that come back to their sender (A->B->C->A) within a window.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from eth_utils.address import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from sqlalchemy import Engine, and_, delete, func, insert, or_, select, tuple_

from gateway.audit.settlement import KST
from gateway.db.tables import distribution as d
from gateway.db.tables import index as t

__all__ = [
    "Evidence",
    "Flag",
    "Thresholds",
    "WalletLink",
    "flags",
    "links",
    "set_links",
    "set_thresholds",
    "thresholds",
]

# ------------------------------------------------------------------------------ thresholds


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool = True  # JSON true or false, not 0 or "yes"

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, value: object, info: ValidationInfo) -> object:
        # JSON true is not the threshold 1 (pydantic's lax mode would take it as one).
        field = cls.model_fields.get(str(info.field_name))
        if isinstance(value, bool) and field is not None and field.annotation is int:
            raise ValueError("a number, not a boolean")
        return value


# Upper bounds keep every threshold a sane, JSON-safe number: ₩10 trillion is more than any
# city's whole budget; windows stop at a month (minutes) or a year (hours).
WON_MAX = 10**13
MINUTES_MAX = 43_200
Won = Annotated[int, Field(ge=0, le=WON_MAX, strict=True)]


class LinkedWalletRule(_Rule):
    min_amount: int = Field(
        default=0, ge=0, le=WON_MAX, description="payments below this are ignored"
    )


class BuyThenPayRule(_Rule):
    window_minutes: int = Field(default=30, ge=1, le=MINUTES_MAX)
    min_share_bps: int = Field(default=8_000, ge=1, le=10_000, description="of the face bought")
    min_face: int = Field(default=50_000, ge=0, le=WON_MAX, description="smaller are ignored")


class RevenueTierRule(_Rule):
    # Annual revenue bounds of the card-fee tiers (₩300M, ₩800M, ₩3B) spread over 12 months;
    # a tier with no entry has no cap.
    monthly_cap_by_tier: dict[Annotated[int, Field(ge=0, le=255)], Won] = Field(
        max_length=256,
        # JSON keys are strings: the document says which strings are tiers.
        json_schema_extra={
            "propertyNames": {"pattern": "^(0|[1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5])$"}
        },
        default_factory=lambda: {0: 25_000_000, 1: 66_666_666, 2: 250_000_000},
    )


class RoundBurstRule(_Rule):
    unit: int = Field(default=10_000, ge=1, le=WON_MAX)
    min_count: int = Field(default=5, ge=2, le=100_000)
    window_minutes: int = Field(default=60, ge=1, le=MINUTES_MAX)


class CircularGiftRule(_Rule):
    window_hours: int = Field(default=72, ge=1, le=8_760)
    min_length: int = Field(default=3, ge=2, le=6)
    max_length: int = Field(default=4, ge=2, le=6)
    min_amount: int = Field(default=10_000, ge=0, le=WON_MAX)


class Thresholds(BaseModel):
    """A municipality's fraud thresholds; every rule can be tuned or switched off."""

    model_config = ConfigDict(extra="forbid")
    linked_wallet_payment: LinkedWalletRule = Field(default_factory=lambda: LinkedWalletRule())
    buy_then_pay: BuyThenPayRule = Field(default_factory=lambda: BuyThenPayRule())
    revenue_tier: RevenueTierRule = Field(default_factory=lambda: RevenueTierRule())
    round_amount_burst: RoundBurstRule = Field(default_factory=lambda: RoundBurstRule())
    circular_gifts: CircularGiftRule = Field(default_factory=lambda: CircularGiftRule())


def thresholds(engine: Engine, chain_id: int, token: str) -> Thresholds:
    c = d.audit_thresholds.c
    with engine.connect() as conn:
        query = select(c.config).where(c.chain_id == chain_id, c.token == token.lower())
        stored = conn.execute(query).scalar()
    return Thresholds() if stored is None else Thresholds.model_validate(stored)


def set_thresholds(engine: Engine, chain_id: int, token: str, config: Thresholds) -> Thresholds:
    c = d.audit_thresholds.c
    key = (c.chain_id == chain_id, c.token == token.lower())
    with engine.begin() as conn:
        conn.execute(delete(d.audit_thresholds).where(*key))
        conn.execute(
            insert(d.audit_thresholds).values(
                chain_id=chain_id,
                token=token.lower(),
                config=config.model_dump(mode="json"),
                updated_at=time.time(),
            )
        )
    return config


# ------------------------------------------------------------------------------ links


@dataclass(frozen=True, slots=True)
class WalletLink:
    merchant: str
    wallet: str
    relation: str  # owner | family | employee | ...
    note: str = ""


def links(engine: Engine, chain_id: int, token: str) -> list[WalletLink]:
    c = d.audit_wallet_links.c
    query = select(c.merchant, c.wallet, c.relation, c.note).where(
        c.chain_id == chain_id, c.token == token.lower()
    )
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(c.merchant, c.wallet)).all()
    return [
        WalletLink(to_checksum_address(m), to_checksum_address(w), rel, note)
        for m, w, rel, note in rows
    ]


def set_links(
    engine: Engine, chain_id: int, token: str, merchant: str, wallets: Iterable[WalletLink]
) -> list[WalletLink]:
    """Replaces the wallets declared as linked to ``merchant``."""
    c = d.audit_wallet_links.c
    key = (c.chain_id == chain_id, c.token == token.lower(), c.merchant == merchant.lower())
    now, unique = time.time(), {w.wallet.lower(): w for w in wallets}
    base = {"chain_id": chain_id, "token": token.lower(), "merchant": merchant.lower()}
    rows = [
        {**base, "wallet": wallet, "relation": w.relation, "note": w.note, "created_at": now}
        for wallet, w in unique.items()
    ]
    with engine.begin() as conn:
        conn.execute(delete(d.audit_wallet_links).where(*key))
        if rows:
            conn.execute(insert(d.audit_wallet_links), rows)
    return [w for w in links(engine, chain_id, token) if w.merchant.lower() == merchant.lower()]


# ------------------------------------------------------------------------------ flags


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str  # payment | sale | gift | link | month_total
    tx_hash: str | None
    block_time: int | None
    sender: str | None
    recipient: str | None
    amount: int | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Flag:
    rule: str
    token: str
    subject: str  # the merchant, or the wallet a gift cycle starts from
    wallets: list[str]  # the other wallets involved
    summary: str  # why, in one sentence
    thresholds: dict[str, object]  # the rule's thresholds as they were applied
    amount: int  # money involved
    first_time: int
    last_time: int
    evidence: list[Evidence]


def _ck(address: str) -> str:
    return to_checksum_address(address)


def _payment(r: Any, note: str = "") -> Evidence:
    payer, merchant = _ck(r.payer), _ck(r.merchant)
    return Evidence("payment", r.tx_hash, r.block_time, payer, merchant, r.amount, note)


def _gift(r: Any, note: str = "") -> Evidence:
    sender, recipient = _ck(r.sender), _ck(r.recipient)
    return Evidence("gift", r.tx_hash, r.block_time, sender, recipient, r.amount, note)


class _Scan:
    """One run of the rules over one municipality's ``[since, until)``."""

    def __init__(
        self, engine: Engine, chain_id: int, token: str, since: int, until: int, limits: Thresholds
    ) -> None:
        self.engine, self.chain, self.token = engine, chain_id, token.lower()
        self.since, self.until, self.limits = since, until, limits

    def rows(self, query: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def mine(self, table: Any, lo: int | None = None, hi: int | None = None) -> list[Any]:
        """This token's rows in ``[lo, hi)``, by default the scan's window."""
        c = table.c
        lo = self.since if lo is None else lo
        hi = self.until if hi is None else hi
        window = [c.block_time >= lo, c.block_time < hi]
        return [c.chain_id == self.chain, c.token == self.token, *window]

    def flag(
        self,
        rule: str,
        subject: str,
        wallets: Iterable[str],
        summary: str,
        amount: int,
        evidence: list[Evidence],
    ) -> Flag:
        limits: BaseModel = getattr(self.limits, rule)
        times = [e.block_time for e in evidence if e.block_time is not None]
        return Flag(
            rule=rule,
            token=_ck(self.token),
            subject=_ck(subject),
            wallets=sorted({_ck(w) for w in wallets}),
            summary=summary,
            thresholds=limits.model_dump(mode="json"),
            amount=amount,
            first_time=min(times),
            last_time=max(times),
            evidence=evidence,
        )

    # -------------------------------------------------------------------------- rules

    def linked_wallet_payment(self) -> list[Flag]:
        rule = self.limits.linked_wallet_payment
        declared: dict[str, dict[str, Evidence]] = defaultdict(dict)
        for link in links(self.engine, self.chain, self.token):
            note = f"declared {link.relation}" + (f" ({link.note})" if link.note else "")
            evidence = Evidence("link", None, None, link.merchant, link.wallet, None, note)
            declared[link.merchant.lower()][link.wallet.lower()] = evidence
        out = []
        g, p = t.gifts.c, t.payments.c
        for merchant, linked in declared.items():
            family = list(linked)
            gifts = self.rows(
                select(t.gifts)
                .where(
                    *self.mine(t.gifts, lo=0), or_(g.sender.in_(family), g.recipient.in_(family))
                )
                .order_by(g.block_number, g.log_index)
            )
            for r in gifts:  # a gift either way links the other wallet; the first is the proof
                other = r.recipient if r.sender in family else r.sender
                linked.setdefault(other, _gift(r, "gift with a declared wallet"))
            linked.setdefault(merchant, Evidence("link", None, None, None, None, None, "own"))
            payments = self.rows(
                select(t.payments)
                .where(*self.mine(t.payments), p.merchant == merchant)
                .where(p.payer.in_(list(linked)), p.amount >= rule.min_amount)
                .order_by(p.block_number, p.log_index)
            )
            by_payer: dict[str, list[Any]] = defaultdict(list)
            for r in payments:
                by_payer[r.payer].append(r)
            for payer, paid in by_payer.items():
                total, why = sum(r.amount for r in paid), linked[payer]
                summary = (
                    f"{len(paid)} payments of ₩{total:,} from {_ck(payer)}, a wallet linked to "
                    f"the merchant ({why.note})"
                )
                proof = [why, *map(_payment, paid)]
                out.append(
                    self.flag("linked_wallet_payment", merchant, [payer], summary, total, proof)
                )
        return out

    def buy_then_pay(self) -> list[Flag]:
        rule = self.limits.buy_then_pay
        s, p = t.sales.c, t.payments.c
        soon_after = and_(
            p.chain_id == s.chain_id,
            p.token == s.token,
            p.payer == s.buyer,
            tuple_(p.block_number, p.log_index) > tuple_(s.block_number, s.log_index),
            p.block_time <= s.block_time + rule.window_minutes * 60,
            p.from_general > 0,
        )
        paid = (p.tx_hash.label("p_tx"), p.block_time.label("p_time"), p.amount.label("p_amount"))
        pairs = self.rows(
            select(t.sales, p.merchant, p.from_general, *paid)
            .join(t.payments, soon_after)
            .where(*self.mine(t.sales), s.face >= rule.min_face)
            .order_by(s.block_number, s.log_index, p.block_number, p.log_index)
        )
        grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for r in pairs:
            grouped[(r.tx_hash, r.merchant)].append(r)
        out = []
        for (_, merchant), rows in grouped.items():
            sale, spent = rows[0], sum(r.from_general for r in rows)
            if spent * 10_000 < sale.face * rule.min_share_bps:
                continue
            minutes = (rows[-1].p_time - sale.block_time) / 60
            buyer = _ck(sale.buyer)
            summary = (
                f"{buyer} bought ₩{sale.face:,} and paid ₩{spent:,} of it "
                f"({100 * spent / sale.face:.0f}%) to the merchant within {minutes:.0f} minutes"
            )
            cash, issuer, shop = f"paid ₩{sale.paid:,} in cash", _ck(sale.issuer), _ck(merchant)
            proof = [
                Evidence("sale", sale.tx_hash, sale.block_time, issuer, buyer, sale.face, cash)
            ]
            for r in rows:
                note = f"₩{r.from_general:,} from purchased money"
                proof.append(Evidence("payment", r.p_tx, r.p_time, buyer, shop, r.p_amount, note))
            out.append(self.flag("buy_then_pay", merchant, [sale.buyer], summary, spent, proof))
        return out

    def revenue_tier(self) -> list[Flag]:
        rule = self.limits.revenue_tier
        p, x, m = t.payments.c, t.cancellations.c, t.merchants.c
        tiers = dict(
            self.rows(
                select(m.merchant, m.tier).where(m.chain_id == self.chain, m.token == self.token)
            )
        )
        out = []
        for lo, hi, month in _months(self.since, self.until):
            paid = select(p.merchant, func.sum(p.amount)).where(*self.mine(t.payments, lo, hi))
            received = dict(self.rows(paid.group_by(p.merchant)))
            back = select(x.merchant, func.sum(x.amount)).where(*self.mine(t.cancellations, lo, hi))
            for merchant, cancelled in self.rows(back.group_by(x.merchant)):
                received[merchant] = received.get(merchant, 0) - (cancelled or 0)
            for merchant, total in sorted(received.items()):
                cap = rule.monthly_cap_by_tier.get(tiers.get(merchant, -1))
                if cap is None or total <= cap:
                    continue
                largest = self.rows(
                    select(t.payments)
                    .where(*self.mine(t.payments, lo, hi), p.merchant == merchant)
                    .order_by(p.amount.desc(), p.block_number)
                    .limit(20)
                )
                tier = tiers[merchant]
                summary = f"received ₩{total:,} in {month}, over tier {tier}'s ₩{cap:,} a month"
                note = f"{month} net of cancellations; its largest payments follow"
                head = Evidence("month_total", None, lo, None, _ck(merchant), int(total), note)
                proof = [head, *map(_payment, largest)]
                out.append(self.flag("revenue_tier", merchant, [], summary, int(total), proof))
        return out

    def round_amount_burst(self) -> list[Flag]:
        rule = self.limits.round_amount_burst
        p = t.payments.c
        rows = self.rows(
            select(t.payments)
            .where(*self.mine(t.payments), p.amount >= rule.unit, (p.amount % rule.unit) == 0)
            .order_by(p.merchant, p.block_number, p.log_index)
        )
        by_merchant: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            by_merchant[r.merchant].append(r)
        out = []
        for merchant, paid in by_merchant.items():
            times = [r.block_time for r in paid]
            for burst in _bursts(times, rule.window_minutes * 60, rule.min_count):
                chosen = [paid[i] for i in burst]
                total = sum(r.amount for r in chosen)
                minutes = (chosen[-1].block_time - chosen[0].block_time) / 60
                summary = (
                    f"{len(chosen)} payments in multiples of ₩{rule.unit:,} (₩{total:,} in all) "
                    f"within {minutes:.0f} minutes"
                )
                payers = [r.payer for r in chosen]
                proof = list(map(_payment, chosen))
                out.append(self.flag("round_amount_burst", merchant, payers, summary, total, proof))
        return out

    def circular_gifts(self) -> list[Flag]:
        rule = self.limits.circular_gifts
        g = t.gifts.c
        window = rule.window_hours * 3_600
        gifts = self.rows(
            select(t.gifts)
            .where(*self.mine(t.gifts), g.amount >= rule.min_amount)
            .order_by(g.block_number, g.log_index)
        )
        outgoing: dict[str, list[int]] = defaultdict(list)
        for position, r in enumerate(gifts):
            outgoing[r.sender].append(position)
        out = []
        for cycle in _cycles(gifts, outgoing, window, rule.min_length, rule.max_length):
            chosen = [gifts[i] for i in cycle]
            wallets = [r.sender for r in chosen]
            hours = (chosen[-1].block_time - chosen[0].block_time) / 3_600
            path = " -> ".join(_ck(w) for w in [*wallets, wallets[0]])
            summary = f"gifts went round {path} within {hours:.1f} hours"
            amount = min(r.amount for r in chosen)
            proof = list(map(_gift, chosen))
            out.append(self.flag("circular_gifts", wallets[0], wallets[1:], summary, amount, proof))
        return out


def _months(since: int, until: int) -> list[tuple[int, int, str]]:
    """Calendar months (KST) meeting ``[since, until)``, each cut to that window."""
    out = []
    day = datetime.fromtimestamp(since, KST)
    start = day.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while int(start.timestamp()) < until:
        following = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        lo, hi = max(since, int(start.timestamp())), min(until, int(following.timestamp()))
        out.append((lo, hi, start.strftime("%Y-%m")))
        start = following
    return out


def _bursts(times: list[int], window: int, min_count: int) -> list[list[int]]:
    """Maximal runs of positions in which at least ``min_count`` fall within ``window``
    seconds of each other; overlapping runs are merged into one burst."""
    bursts: list[list[int]] = []
    first = 0
    for last, now in enumerate(times):
        while now - times[first] > window:
            first += 1
        if last - first + 1 >= min_count:
            if bursts and bursts[-1][-1] >= first:
                bursts[-1].extend(range(bursts[-1][-1] + 1, last + 1))
            else:
                bursts.append(list(range(first, last + 1)))
    return bursts


def _cycles(
    gifts: list[Any], outgoing: dict[str, list[int]], window: int, shortest: int, longest: int
) -> list[list[int]]:
    """Gift chains back to their first sender, each gift after the one before and the whole
    chain within ``window``. A cycle is found only from its earliest gift, so once."""
    found: list[list[int]] = []

    def walk(path: list[int], visited: set[str]) -> None:
        start, last = gifts[path[0]], gifts[path[-1]]
        chain = outgoing.get(last.recipient, [])
        for position in chain[bisect.bisect_right(chain, path[-1]) :]:
            r = gifts[position]
            if r.block_time - start.block_time > window or len(found) > 1_000:
                break
            if r.recipient == start.sender and len(path) + 1 >= shortest:
                found.append([*path, position])
            elif r.recipient not in visited and len(path) + 1 < longest:
                walk([*path, position], visited | {r.recipient})

    for first, r in enumerate(gifts):
        walk([first], {r.sender, r.recipient})
    return found


def flags(
    engine: Engine,
    chain_id: int,
    token: str,
    since: int,
    until: int,
    *,
    config: Thresholds | None = None,
) -> list[Flag]:
    """Every enabled rule's flags for ``token`` in ``[since, until)``, by rule then time.

    ``config`` overrides the municipality's stored thresholds (e.g. to try new ones).
    """
    limits = config if config is not None else thresholds(engine, chain_id, token)
    scan = _Scan(engine, chain_id, token, since, until, limits)
    out: list[Flag] = []
    for name in Thresholds.model_fields:
        if getattr(limits, name).enabled:
            out.extend(getattr(scan, name)())
    return sorted(out, key=lambda f: (f.rule, f.first_time, f.subject))
