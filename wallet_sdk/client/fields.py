"""Typed reads from the JSON the gateway sends: a wrong shape is the gateway's fault,
reported as :class:`UnexpectedResponseError` rather than a KeyError or a wrong value."""

from __future__ import annotations

from collections.abc import Mapping

from wallet_sdk.exceptions.base import UnexpectedResponseError

__all__ = ["Fields"]


class Fields:
    """Typed reads from a JSON object the gateway sent; a wrong shape is the gateway's
    fault, reported as :class:`UnexpectedResponseError` rather than a KeyError."""

    def __init__(self, obj: object, what: str) -> None:
        if not isinstance(obj, Mapping):
            raise UnexpectedResponseError(f"{what}: expected a JSON object")
        self.obj: Mapping[str, object] = obj
        self.what = what

    def _fail(self, key: str, expected: str) -> UnexpectedResponseError:
        return UnexpectedResponseError(f"{self.what}: {key} is not {expected}")

    def raw(self, key: str) -> object:
        return self.obj.get(key)

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.raw(key) is None else self.text(key)

    def integer(self, key: str) -> int:
        value = self.raw(key)
        # Integers come as JSON numbers or, where they may pass 2**53, decimal strings.
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 80:
            return int(value)
        raise self._fail(key, "an integer")

    def optional_integer(self, key: str) -> int | None:
        return None if self.raw(key) is None else self.integer(key)

    def number(self, key: str) -> float:
        """A JSON number (a time in seconds, a coordinate, a distance), or an integer as above."""
        value = self.raw(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(self.integer(key))
        except UnexpectedResponseError:
            raise self._fail(key, "a number") from None

    def optional_number(self, key: str) -> float | None:
        return None if self.raw(key) is None else self.number(key)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "a boolean")
        return value

    def array(self, key: str) -> list[object]:
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "an array")
        return value

    def mapping(self, key: str) -> Mapping[str, object]:
        value = self.raw(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self._fail(key, "an object")
        return value

    def hex_bytes(self, key: str) -> bytes:
        value = self.text(key)
        try:
            return bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise self._fail(key, "hex") from None
