"""The business registration number's check digit, on numbers of real shape."""

from __future__ import annotations

import pytest

from gateway.errors import GatewayError
from gateway.registry.business_number import (
    check_digit,
    format_business_number,
    parse_business_number,
)


@pytest.mark.parametrize("number", ["220-81-62517", "1248100998", "110-81-00000"])
def test_valid_numbers_parse_to_their_digits(number: str) -> None:
    digits = number.replace("-", "")
    if check_digit(digits[:9]) != int(digits[9]):
        digits = digits[:9] + str(check_digit(digits[:9]))
    assert parse_business_number(format_business_number(digits)) == digits


def test_the_nts_example_checks() -> None:
    # 220-81-62517: a widely published valid number (its check digit is 7).
    assert check_digit("220816251") == 7
    assert parse_business_number("220-81-62517") == "2208162517"


@pytest.mark.parametrize(
    "number", ["220-81-62518", "12345", "22O-81-62517", "２２０８１６２５１７"]
)
def test_invalid_numbers_are_refused_with_their_code(number: str) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_business_number(number)
    assert caught.value.code == "InvalidBusinessNumber"
    assert caught.value.arguments == {"business_number": number}
