"""Each demo municipality's own figures, from what the real programs publish (DOMAIN.md).

Siheung and Seongnam run on the shared mobile platform with today's guideline figures
(:func:`~chain.protocol.calls.default_rules`: 10% purchase discount); the others differ where
their programs do. Figures change by guideline, so they are rules on chain, never constants in
code: a scenario reads them here to know what to expect.
"""

from __future__ import annotations

from dataclasses import replace

from chain.protocol.calls import FundingShare, Rules, default_rules, funder_id

# Merchant revenue tiers as the demo registers them: 0 up to ₩300M a year, 1 and 2 up to the
# ₩3B cap, 3 above it (purchased money refused there).
SMALL_MERCHANT_TIER = 0


def busan_rules() -> Rules:
    """Busan Dongbaekjeon: bought at face value (no discount) and paid back as cashback by the
    merchant's size, 7% at small shops, 5% and 3% at larger ones, on ₩500,000 of spending a
    month; ₩500,000 of purchases a month."""
    return replace(
        default_rules(),
        cashback_bps_tier0=700,
        cashback_bps_tier1=500,
        cashback_bps_tier2=300,
        cashback_monthly_base=500_000,
        max_discount_bps=0,
        monthly_purchase_cap=500_000,
    )


# Busan's cashback: the state pays 4 points of every 10 (the national support for local
# vouchers), the city the rest.
BUSAN_FUNDING = (
    FundingShare(funder_id("state"), 4_000, 4_000),
    FundingShare(funder_id("busan"), 6_000, 6_000),
)


def incheon_rules() -> Rules:
    """Incheon e-음: no purchase discount; cashback 10% at merchants with revenue up to ₩300M
    and 5% elsewhere, on ₩300,000 of spending a month; ₩500,000 of purchases a month."""
    return replace(
        default_rules(),
        cashback_bps_tier0=1000,
        cashback_bps_tier1=500,
        cashback_bps_tier2=500,
        cashback_monthly_base=300_000,
        max_discount_bps=0,
        monthly_purchase_cap=500_000,
    )


# Incheon's cashback is stacked: the city pays 7 points of every 10, the district (Namdong-gu)
# the other 3; both as shares of what is paid, so each funder's bill is exact to the won.
INCHEON_FUNDING = (
    FundingShare(funder_id("incheon"), 7_000, 7_000),
    FundingShare(funder_id("incheon-namdong"), 3_000, 3_000),
)
# Incheon's delivery app brokers orders for about 1% of the order.
DELIVERY_FEE_BPS = 100


# The market voucher's discount is the state's (the SME ministry's budget) alone.
MARKET_FUNDING = (FundingShare(funder_id("state"), 10_000, 10_000),)


def market_rules() -> Rules:
    """The national traditional-market voucher: sold at 5-15% off, no cashback, up to
    ₩1,000,000 a month, and the remaining purchased balance refunded in cash once 60% is spent
    (the paper voucher's rule)."""
    return replace(
        default_rules(),
        cashback_bps_tier0=0,
        cashback_bps_tier1=0,
        cashback_bps_tier2=0,
        min_discount_bps=500,
        max_discount_bps=1500,
        refund_threshold_bps=6000,
        monthly_purchase_cap=1_000_000,
    )
