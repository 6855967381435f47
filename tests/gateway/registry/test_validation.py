"""A merchant profile's checks: each refusal names the field to fix."""

from __future__ import annotations

import pytest

from gateway.errors import GatewayError
from gateway.registry.validation import validate_profile
from tests.gateway.registry.profiles import SIHEUNG, shop


def refused(profile: object, region: int = SIHEUNG) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        validate_profile(profile, region)  # type: ignore[arg-type]
    return caught.value


def test_a_valid_profile_is_normalised() -> None:
    valid = validate_profile(shop(business_name="  Dongne Bakery "), SIHEUNG)
    assert valid.business_name == "Dongne Bakery"
    assert valid.bank_account == "123456789012"  # digits only: what a bank file needs
    assert valid.shop_region == SIHEUNG


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"business_name": "  "}, "business_name"),
        ({"legal_dong": "413901320"}, "legal_dong"),  # nine digits
        ({"legal_dong": "4113010100"}, "legal_dong"),  # Seongnam, not Siheung
        ({"category": 5611}, "category"),
        ({"latitude": 35.0, "longitude": None}, "latitude"),
        ({"latitude": 126.7, "longitude": 37.3}, "latitude"),  # swapped
        ({"longitude": 140.0}, "longitude"),  # Japan
        ({"phone": "+1 555 0100"}, "phone"),
        ({"email": "bakery at example"}, "email"),
        ({"bank_code": "4"}, "bank_code"),
        ({"bank_account": "12-34"}, "bank_account"),
        ({"account_holder": None}, "account_holder"),
    ],
)
def test_a_bad_field_is_refused_by_name(changes: dict[str, object], field: str) -> None:
    error = refused(shop(**changes))
    assert (error.code, error.arguments["field"]) == ("InvalidMerchantProfile", field)


def test_a_business_number_with_a_wrong_check_digit_is_its_own_code() -> None:
    good = shop().business_number
    wrong = good[:9] + str((int(good[9]) + 1) % 10)
    assert refused(shop(business_number=wrong)).code == "InvalidBusinessNumber"


def test_the_bank_account_is_all_or_nothing() -> None:
    none = validate_profile(shop(bank_code=None, bank_account=None, account_holder=None), SIHEUNG)
    assert none.bank_account is None
    assert refused(shop(bank_code=None)).arguments["field"] == "bank_code"


def test_a_metropolitan_city_takes_its_districts() -> None:
    # Busan is 26000; its districts' codes start 26110 (Jung-gu), 26350 (Haeundae-gu)...
    busan = shop(legal_dong="2635010500", latitude=35.16, longitude=129.16)
    assert validate_profile(busan, 26000).shop_region == 26350
    assert refused(busan, 28000).arguments["field"] == "legal_dong"  # not Incheon


def test_the_national_voucher_takes_market_stalls_of_any_region() -> None:
    stall = shop(legal_dong="2635010500", market=True)
    assert validate_profile(stall, 0).shop_region == 26350
    assert refused(shop(market=False), 0).arguments["field"] == "market"
