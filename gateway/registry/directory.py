"""The public directory of a city's shops: public columns only, registered and active.

Selected column by column (never the row), so a private column added to the table later
cannot leak through here. Search by name (case-insensitive substring), KSIC category,
district (a 법정동 code prefix: 5 digits a 시군구, 8 a 읍면동) or distance: near a point the
database narrows to a bounding box (an index-friendly range on both coordinates, the same SQL
on SQLite and PostgreSQL) and Python measures the exact great-circle distance.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select

from gateway.db.tables import index as t
from gateway.db.tables.registry import APPROVED, REGISTERED, merchant_profiles
from gateway.errors import GatewayError
from gateway.queries.scope import checksum

__all__ = ["MAX_RADIUS_M", "DirectoryEntry", "DirectoryPage", "directory", "haversine_m"]

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)
MAX_RADIUS_M = 20_000
_NEAR_CANDIDATES = 5_000  # a 20 km box in the densest city holds fewer shops than this
_ACTIVE = 1  # MerchantStatus.Active

p = merchant_profiles.c
m = t.merchants.c


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    merchant: str  # the wallet to pay
    business_name: str
    address: str
    legal_dong: str
    category: int
    latitude: float | None
    longitude: float | None
    market: bool
    status: str  # on chain: always "active" here
    distance_m: float | None  # when searched near a point


@dataclass(frozen=True, slots=True)
class DirectoryPage:
    items: list[DirectoryEntry]
    next_cursor: str | None


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lng2 - lng1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def directory(
    conn: Connection,
    chain_id: int,
    token: str,
    *,
    q: str | None = None,
    category: int | None = None,
    dong: str | None = None,
    near: tuple[float, float] | None = None,
    radius_m: int = 1_000,
    cursor: str | None = None,
    limit: int = 20,
) -> DirectoryPage:
    """One page of shops: by name (then wallet) or, ``near`` a point, by distance."""
    joined = merchant_profiles.join(
        t.merchants, and_(m.chain_id == p.chain_id, m.token == p.token, m.merchant == p.merchant)
    )
    query = (
        select(
            p.merchant,
            p.business_name,
            p.address,
            p.legal_dong,
            p.category,
            p.latitude,
            p.longitude,
            p.market,
        )
        .select_from(joined)
        .where(p.chain_id == chain_id, p.token == token.lower())
        .where(p.status.in_((APPROVED, REGISTERED)), m.status == _ACTIVE)
    )
    if q:
        query = query.where(func.lower(p.business_name).contains(q.lower(), autoescape=True))
    if category is not None:
        query = query.where(p.category == category)
    if dong:
        query = query.where(p.legal_dong.startswith(dong, autoescape=True))
    if near is not None:
        return _near(conn, query, near, radius_m, _offset(cursor), limit)
    after = _after(cursor)
    if after is not None:
        name, wallet = after
        query = query.where(
            (p.business_name > name) | ((p.business_name == name) & (p.merchant > wallet))
        )
    rows = conn.execute(query.order_by(p.business_name, p.merchant).limit(limit + 1)).all()
    items = [_entry(row, None) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return DirectoryPage(items, None if last is None else _cursor(["n", last[1], last[0]]))


def _near(
    conn: Connection,
    query: object,
    near: tuple[float, float],
    radius_m: int,
    offset: int,
    limit: int,
) -> DirectoryPage:
    lat, lng = near
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlng = dlat / max(math.cos(math.radians(lat)), 1e-6)
    boxed = query.where(  # type: ignore[attr-defined]
        p.latitude.between(lat - dlat, lat + dlat), p.longitude.between(lng - dlng, lng + dlng)
    ).limit(_NEAR_CANDIDATES)
    found = []
    for row in conn.execute(boxed):
        distance = haversine_m(lat, lng, row.latitude, row.longitude)
        if distance <= radius_m:
            found.append((distance, row.merchant, row))
    found.sort(key=lambda item: (item[0], item[1]))
    page = found[offset : offset + limit]
    more = offset + limit < len(found)
    items = [_entry(row, round(distance, 1)) for distance, _, row in page]
    return DirectoryPage(items, _cursor(["d", offset + limit]) if more else None)


def _entry(row: object, distance: float | None) -> DirectoryEntry:
    r = row._mapping  # type: ignore[attr-defined]
    return DirectoryEntry(
        merchant=checksum(str(r["merchant"])),
        business_name=r["business_name"],
        address=r["address"],
        legal_dong=r["legal_dong"],
        category=r["category"],
        latitude=r["latitude"],
        longitude=r["longitude"],
        market=bool(r["market"]),
        status="active",
        distance_m=distance,
    )


def _cursor(parts: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _parts(cursor: str) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        parts = None
    if not isinstance(parts, list) or not parts:
        raise _bad_cursor()
    return parts


def _bad_cursor() -> GatewayError:
    return GatewayError(
        "InvalidRequest", "the cursor is not one this directory gave", {"field": "cursor"}
    )


def _after(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    parts = _parts(cursor)
    # Only what this module wrote: two strings without NUL (PostgreSQL refuses it in text).
    texts = parts[1:]
    if len(parts) != 3 or parts[0] != "n" or not all(_plain(x) for x in texts):
        raise _bad_cursor()
    return str(parts[1]), str(parts[2])


def _plain(value: object) -> bool:
    return isinstance(value, str) and "\x00" not in value and len(value) <= 200


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    parts = _parts(cursor)
    if len(parts) != 2 or parts[0] != "d" or not isinstance(parts[1], int) or parts[1] < 0:
        raise _bad_cursor()
    return parts[1]
