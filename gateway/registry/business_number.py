"""The Korean business registration number (사업자등록번호): ten digits, the last a checksum.

Shown as ``123-45-67890``; stored as the ten digits. The check digit follows the National Tax
Service's rule: weights 1,3,7,1,3,7,1,3,5 over the first nine digits, plus the tens digit of
the ninth digit times five, and the tenth digit makes the sum a multiple of ten.
"""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = ["check_digit", "format_business_number", "parse_business_number"]

_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def check_digit(first_nine: str) -> int:
    digits = [int(c) for c in first_nine]
    total = sum(d * w for d, w in zip(digits, _WEIGHTS, strict=True))
    total += digits[8] * 5 // 10
    return (10 - total % 10) % 10


def parse_business_number(text: str) -> str:
    """The ten digits of ``text`` (dashes and spaces allowed), or InvalidBusinessNumber."""
    digits = text.replace("-", "").replace(" ", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        raise GatewayError(
            "InvalidBusinessNumber",
            "a business registration number is ten digits, e.g. 123-45-67891",
            {"business_number": text},
        )
    if check_digit(digits[:9]) != int(digits[9]):
        raise GatewayError(
            "InvalidBusinessNumber",
            "the business registration number's check digit does not match",
            {"business_number": text},
        )
    return digits


def format_business_number(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
