"""Row checks of the onboarding CSVs, without a chain: each bad row is reported on its own
line with its code, and the good rows around it are still read."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.protocol.calls import encode_register_merchant
from gateway.devnet.onboarding_samples import (
    merchant_cells,
    resident_cells,
    sample_wallets,
    write_csv,
)
from gateway.errors import GatewayError
from gateway.onboarding.rows import MerchantRow, ResidentRow, RowError, read_rows
from gateway.onboarding.transactions import register_merchant_calldata


def bad_checksum(wallet: str) -> str:
    """``wallet`` with one letter's case flipped: the EIP-55 checksum no longer matches."""
    i = next(i for i, c in enumerate(wallet[2:], 2) if c.isalpha())
    return wallet[:i] + wallet[i].swapcase() + wallet[i + 1 :]


def errors_of(path: Path, kind: str, region: int = 0) -> list[tuple[int, str, str]]:
    return [
        (e.line, e.code, e.detail)
        for e in read_rows(path, kind, region=region)
        if isinstance(e, RowError)
    ]


def test_resident_rows_report_each_problem_on_its_line(tmp_path: Path) -> None:
    w = sample_wallets(8, seed=1)
    rows = [resident_cells(x, i) for i, x in enumerate(w)]
    rows[1][0] = bad_checksum(w[1])
    rows[2][0] = "0x1234"
    rows[3] = resident_cells(w[0], 3)
    rows[4][1] = " "
    rows[5][2:5] = ["004", "", ""]
    rows[6][3] = "12ab"  # n = 6 is even: give it a whole account with a bad number
    rows[6][2], rows[6][4] = "004", "홍길동"
    path = write_csv(tmp_path / "r.csv", "residents", rows)
    assert errors_of(path, "residents") == [
        (3, "InvalidAddress", f"wallet: bad EIP-55 checksum in address {rows[1][0]!r}"),
        (4, "InvalidAddress", "wallet: not a 0x-prefixed 20-byte hex address: '0x1234'"),
        (5, "DuplicateRow", "the wallet is on an earlier line"),
        (6, "InvalidField", "kyc_ref: is required"),
        (7, "InvalidField", "bank_code: bank_code, bank_account and account_holder go together"),
        (8, "InvalidField", "bank_account: must be 6-20 digits (dashes allowed)"),
    ]
    good = [r for r in read_rows(path, "residents") if isinstance(r, ResidentRow)]
    assert [(r.line, r.wallet) for r in good] == [(2, w[0]), (9, w[7])]
    assert good[1].bank.bank_account == str(110_000_000_007)


def test_merchant_rows_check_business_number_region_category_and_tier(tmp_path: Path) -> None:
    w = sample_wallets(7, seed=2)
    rows = [merchant_cells(x, i, 41390) for i, x in enumerate(w)]
    rows[1][2] = rows[1][2][:-1] + str((int(rows[1][2][-1]) + 1) % 10)
    rows[2][4] = "4113010100"  # Seongnam
    rows[3][5] = "5611"
    rows[4][6] = "256"
    rows[5][0] = w[5].lower()  # no checksum to check: accepted
    path = write_csv(tmp_path / "m.csv", "merchants", rows)
    assert errors_of(path, "merchants", 41390) == [
        (
            3,
            "InvalidBusinessNumber",
            "the business registration number's check digit does not match",
        ),
        (4, "VoucherRegionMismatch", "legal_dong 4113010100 is not in the city's region 41390"),
        (5, "InvalidField", "category: must be 5 digits, e.g. 56111 (KSIC)"),
        (6, "InvalidField", "tier: must be a whole number from 0 to 255"),
    ]
    good = [r for r in read_rows(path, "merchants", region=41390) if isinstance(r, MerchantRow)]
    assert [r.wallet for r in good] == [w[0], w[5], w[6]]
    assert len(good[0].business_number) == 10
    assert good[0].legal_dong.startswith("41390")


def test_the_national_voucher_takes_market_stores_of_any_region(tmp_path: Path) -> None:
    w = sample_wallets(2, seed=3)
    rows = [merchant_cells(x, i, 0) for i, x in enumerate(w)]
    rows[1][7] = "0"
    path = write_csv(tmp_path / "n.csv", "merchants", rows)
    assert errors_of(path, "merchants", 0) == [
        (3, "VoucherMarketRequired", "the national voucher takes market stores only")
    ]


def test_a_wrong_header_refuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("address,amount\n0x" + "11" * 20 + ",5\n")
    with pytest.raises(GatewayError) as caught:
        list(read_rows(path, "residents"))
    assert caught.value.code == "InvalidRequest"
    assert "wallet,kyc_ref[,bank_code,bank_account,account_holder]" in caught.value.detail


@pytest.mark.parametrize("region", [41390, 0])
def test_register_merchant_calldata_by_hand_equals_the_abi_encoder(
    tmp_path: Path, region: int
) -> None:
    w = sample_wallets(5, seed=4)
    path = write_csv(
        tmp_path / "m.csv", "merchants", [merchant_cells(x, i, region) for i, x in enumerate(w)]
    )
    for row in read_rows(path, "merchants", region=region):
        assert isinstance(row, MerchantRow)
        shop_region = int(row.legal_dong[:5])
        expected = encode_register_merchant(
            row.wallet, shop_region, row.category, row.tier, row.market
        )
        assert register_merchant_calldata(row, region) == expected
