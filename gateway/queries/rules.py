"""A municipality's rules (current version, pending changes, history) and a resident's
remaining monthly caps under them, from the indexed rule events.

Months are calendar months in Korea Standard Time, as the token counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, func, select

from gateway.db.tables import index as t
from gateway.queries.municipalities import municipality_rows
from gateway.queries.scope import as_int, chain_of, checksum
from gateway.queries.series import KST_OFFSET_S

__all__ = ["MonthlyCaps", "RuleChange", "RulesView", "monthly_caps", "rules_view"]


@dataclass(frozen=True, slots=True)
class RuleChange:
    version: int
    action: str  # proposed | activated | cancelled
    effective_at: int | None  # a proposal's take-effect time
    block_time: int
    rules: dict[str, int | bool] | None


@dataclass(frozen=True, slots=True)
class RulesView:
    token: str
    current: RuleChange | None  # the latest activated version
    pending: list[RuleChange]  # proposed, neither activated nor cancelled yet
    history: list[RuleChange]  # every change, newest first


def _changes(conn: Connection, chain: int, token: str) -> list[RuleChange]:
    c = t.rule_changes.c
    query = (
        select(c.version, c.action, c.effective_at, c.block_time, c.rules)
        .where(c.chain_id == chain, c.token == token)
        .order_by(c.block_number.desc(), c.log_index.desc())
    )
    return [
        RuleChange(r.version, r.action, r.effective_at, r.block_time, r.rules)
        for r in conn.execute(query)
    ]


def rules_view(engine: Engine, token: str, *, chain_id: int | None = None) -> RulesView | None:
    tok = token.lower()
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        found = municipality_rows(conn, chain, tok)
        if not found:
            return None
        history = _changes(conn, chain, tok)
    current = next((c for c in history if c.action == "activated"), None)
    # Oldest first: a proposal is pending until an activation or a cancellation of its
    # version follows it (a cancelled version number is proposed again).
    open_proposals: dict[int, RuleChange] = {}
    for change in reversed(history):
        if change.action == "proposed":
            open_proposals[change.version] = change
        else:
            open_proposals.pop(change.version, None)
    pending = sorted(open_proposals.values(), key=lambda c: c.version)
    return RulesView(found[0].token, current, pending, history)


@dataclass(frozen=True, slots=True)
class MonthlyCaps:
    token: str
    address: str
    month: str  # YYYY-MM in KST
    purchase_cap: int
    purchased: int  # face value bought this month
    purchase_left: int
    gift_enabled: bool
    gift_sent_cap: int
    gift_sent: int
    gift_sent_left: int
    gift_received_cap: int
    gift_received: int
    gift_received_left: int


def _month_start(now: int) -> tuple[str, int]:
    local = datetime.fromtimestamp(now + KST_OFFSET_S, UTC)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.strftime("%Y-%m"), int((start - timedelta(seconds=KST_OFFSET_S)).timestamp())


def monthly_caps(
    engine: Engine, token: str, address: str, *, now: int | None = None, chain_id: int | None = None
) -> MonthlyCaps | None:
    """What ``address`` may still buy, send and receive this month in ``token``; None for an
    unknown token or one whose rules are not indexed yet."""
    tok, who = token.lower(), address.lower()
    month, since = _month_start(int(datetime.now(UTC).timestamp()) if now is None else now)
    view = rules_view(engine, tok, chain_id=chain_id)
    if view is None or view.current is None or view.current.rules is None:
        return None
    rules = view.current.rules
    s, g = t.sales.c, t.gifts.c
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        mine = (s.chain_id == chain, s.token == tok, s.block_time >= since)
        bought = conn.execute(select(func.sum(s.face)).where(*mine, s.buyer == who)).scalar()
        gifts = (g.chain_id == chain, g.token == tok, g.block_time >= since)
        sent = conn.execute(select(func.sum(g.amount)).where(*gifts, g.sender == who)).scalar()
        got = conn.execute(select(func.sum(g.amount)).where(*gifts, g.recipient == who)).scalar()
    purchase_cap = int(rules.get("monthlyPurchaseCap", 0))
    send_cap = int(rules.get("giftSendCap", 0))
    receive_cap = int(rules.get("giftReceiveCap", 0))
    purchased, gift_sent, gift_received = as_int(bought), as_int(sent), as_int(got)
    return MonthlyCaps(
        token=view.token,
        address=checksum(who),
        month=month,
        purchase_cap=purchase_cap,
        purchased=purchased,
        purchase_left=max(0, purchase_cap - purchased),
        gift_enabled=bool(rules.get("giftEnabled", False)),
        gift_sent_cap=send_cap,
        gift_sent=gift_sent,
        gift_sent_left=max(0, send_cap - gift_sent),
        gift_received_cap=receive_cap,
        gift_received=gift_received,
        gift_received_left=max(0, receive_cap - gift_received),
    )
