"""Synthetic onboarding files (residents, merchants) for the local demo, tests and benchmarks:
fresh random wallets, valid business numbers, shops inside the city's region."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path

from chain.protocol.hashing import to_checksum
from gateway.onboarding.rows import MERCHANT_COLUMNS, RESIDENT_COLUMNS
from gateway.registry.business_number import check_digit

__all__ = [
    "business_number",
    "merchant_cells",
    "resident_cells",
    "sample_wallets",
    "write_csv",
]

KSIC_SAMPLES = (56111, 47121, 56221, 47912, 96112)


def sample_wallets(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [to_checksum(rng.randbytes(20)) for _ in range(count)]


def business_number(n: int) -> str:
    """A valid 사업자등록번호 from a serial number, shown with dashes."""
    first = f"{100 + n % 900:03d}{81 + n % 7:02d}{n % 10_000:04d}"
    digits = first + str(check_digit(first))
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def resident_cells(wallet: str, n: int) -> list[str]:
    bank = ["004", f"{110_000_000_000 + n}", f"주민{n}"] if n % 2 else ["", "", ""]
    return [wallet, f"KYC-{n:08d}", *bank]


def merchant_cells(wallet: str, n: int, region: int) -> list[str]:
    """A shop of ``region`` (the national voucher's: a Siheung market stall)."""
    dong = f"{region or 41390:05d}{10100 + n % 50:05d}"
    return [
        wallet, f"가게 {n}", business_number(n), f"경기도 시흥시 중앙로 {n}", dong,
        str(KSIC_SAMPLES[n % len(KSIC_SAMPLES)]), str(n % 3), str(int(region == 0 or n % 5 == 0)),
        f"{37.38 + (n % 100) / 10_000:.6f}", f"{126.80 + (n % 100) / 10_000:.6f}",
        f"031-{n % 10_000:04d}-0000", f"shop{n}@example.kr", "004", f"{220_000_000_000 + n}",
        f"대표{n}",
    ]  # fmt: skip


def write_csv(path: Path, kind: str, rows: Sequence[Sequence[str]]) -> Path:
    columns = RESIDENT_COLUMNS if kind == "residents" else MERCHANT_COLUMNS
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path
