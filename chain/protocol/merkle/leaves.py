"""Merkle leaves of a distribution: ``(index, recipient, amount)``, their hash, and CSV input.

The encoding is OpenZeppelin ``StandardMerkleTree``'s for ``["uint256", "address", "uint256"]``
(double keccak of ``abi.encode``), so the claim contract and the JS library agree with it.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from chain.protocol.hashing import (
    ADDRESS_BYTES,
    HEX_ADDRESS,
    Keccak,
    keccak_hasher,
    parse_address,
    to_checksum,
)

__all__ = [
    "ADDRESS_PAD",
    "LEAF_ENCODING",
    "UINT256_LIMIT",
    "Leaf",
    "MerkleInputError",
    "MultiProof",
    "check_uint256",
    "leaf_hash",
    "leaf_hash_raw",
    "parse_csv",
    "read_leaves_csv",
    "trusted_leaf",
]

LEAF_ENCODING = ("uint256", "address", "uint256")
"""Solidity types of a leaf, as passed to ``StandardMerkleTree.of`` and ``abi.encode``."""

UINT256_LIMIT = 1 << 256
_DIGITS = re.compile(r"[0-9]+")


def check_uint256(name: str, value: int) -> None:
    # bool is an int subclass; True as an amount is always a bug.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < UINT256_LIMIT:
        raise ValueError(f"{name} {value} is outside uint256")


# --------------------------------------------------------------------------------------------
# Leaves

ADDRESS_PAD = bytes(12)


def leaf_hash_raw(keccak: Keccak, index: int, recipient: bytes, amount: int) -> bytes:
    # abi.encode(uint256, address, uint256): three 32-byte words, address left-padded. The outer
    # keccak (OpenZeppelin's "double hashing") keeps a 64-byte leaf from being confused with an
    # internal node in a second-preimage attack.
    encoded = index.to_bytes(32, "big") + ADDRESS_PAD + recipient + amount.to_bytes(32, "big")
    return keccak(keccak(encoded))


def leaf_hash(index: int, recipient: str, amount: int) -> bytes:
    """Leaf hash as ``StandardMerkleTree`` and the claim contract compute it.

    Equals ``keccak256(bytes.concat(keccak256(abi.encode(index, recipient, amount))))``.
    """
    check_uint256("index", index)
    check_uint256("amount", amount)
    return leaf_hash_raw(keccak_hasher(), index, parse_address(recipient), amount)


@dataclass(frozen=True, slots=True)
class Leaf:
    """One claim: ``amount`` for ``recipient`` under claim ``index``.

    ``recipient`` must be in EIP-55 checksum form so that equal leaves compare equal and
    values echoed back by the JS library match byte for byte.
    """

    index: int
    recipient: str
    amount: int

    def __post_init__(self) -> None:
        check_uint256("index", self.index)
        check_uint256("amount", self.amount)
        if not isinstance(self.recipient, str):
            raise TypeError("recipient must be a str")
        if not HEX_ADDRESS.fullmatch(self.recipient):
            raise ValueError(f"not a 0x-prefixed 20-byte hex address: {self.recipient!r}")
        expected = to_checksum(bytes.fromhex(self.recipient[2:]))
        if self.recipient != expected:
            raise ValueError(f"recipient {self.recipient!r} is not in checksum form ({expected})")

    @property
    def hash(self) -> bytes:
        return leaf_hash_raw(
            keccak_hasher(), self.index, bytes.fromhex(self.recipient[2:]), self.amount
        )

    def as_values(self) -> tuple[int, str, int]:
        """The leaf as the value tuple the JS library and ``abi.encode`` take."""
        return (self.index, self.recipient, self.amount)


def trusted_leaf(index: int, recipient: str, amount: int) -> Leaf:
    """Make a Leaf from values this module has just validated and checksummed itself.

    ``__post_init__`` would recompute the EIP-55 checksum, which is the single most expensive
    step of reading a large CSV or iterating a loaded tree.
    """
    leaf = object.__new__(Leaf)
    object.__setattr__(leaf, "index", index)
    object.__setattr__(leaf, "recipient", recipient)
    object.__setattr__(leaf, "amount", amount)
    return leaf


@dataclass(frozen=True, slots=True)
class MultiProof:
    """A multiproof in the shape ``MerkleProof.multiProofVerify`` (OpenZeppelin 5) expects.

    ``leaves`` are in the order the verifier consumes them, which is the order the JS library
    returns; pass ``leaf_hashes()``, ``proof`` and ``proof_flags`` to the contract unchanged.
    """

    leaves: tuple[Leaf, ...]
    proof: tuple[bytes, ...]
    proof_flags: tuple[bool, ...]

    def leaf_hashes(self) -> list[bytes]:
        return [leaf.hash for leaf in self.leaves]


class MerkleInputError(ValueError):
    """A recipients file row that cannot become a leaf; ``line`` is 1-based, as editors show."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


# --------------------------------------------------------------------------------------------
# CSV input

_CsvSource = str | os.PathLike[str] | TextIO


def parse_csv(source: _CsvSource) -> Iterator[tuple[int, bytes, int]]:
    """Yield ``(index, address bytes, amount)`` per data row, reading the file lazily."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            yield from _parse_csv_rows(_decode_lines(handle))
    else:
        yield from _parse_csv_rows(source)


def _decode_lines(handle: Iterable[bytes]) -> Iterator[str]:
    """Decode UTF-8 one line at a time.

    A text-mode file decodes in 8 KiB chunks, so a bad byte would surface lines before (or
    after) the row that holds it; per-line decoding names the right line. Line endings are
    kept, as ``csv`` expects from a ``newline=""`` file.
    """
    for number, raw in enumerate(handle, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # BOM from spreadsheet exports; it would corrupt the first field
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MerkleInputError(number, f"not valid UTF-8 ({exc.reason})") from None


def _parse_csv_rows(handle: Iterable[str]) -> Iterator[tuple[int, bytes, int]]:
    reader = csv.reader(handle, strict=True)
    index = 0
    first = True
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise MerkleInputError(reader.line_num + 1, f"not valid UTF-8 ({exc.reason})") from exc
        except csv.Error as exc:
            raise MerkleInputError(reader.line_num, f"malformed CSV: {exc}") from exc
        line = reader.line_num
        fields = [field.strip() for field in row]
        if not any(fields):
            continue  # blank lines, typically a trailing newline
        if first:
            first = False
            # Only this exact header is skipped, so a typo in the first address still fails
            # loudly instead of silently dropping the first recipient.
            if [field.lower() for field in fields] == ["address", "amount"]:
                continue
        if len(fields) != 2:
            raise MerkleInputError(line, f"expected 2 columns (address,amount), got {len(fields)}")
        address_text, amount_text = fields
        try:
            address = parse_address(address_text)
        except ValueError as exc:
            raise MerkleInputError(line, f"bad address: {exc}") from None
        if address == bytes(ADDRESS_BYTES):
            raise MerkleInputError(line, "recipient is the zero address")
        # int() alone would also accept "+5", "1_000" and " 5", which are not what a
        # spreadsheet means by an amount.
        if not _DIGITS.fullmatch(amount_text):
            raise MerkleInputError(line, f"amount {amount_text!r} is not a plain decimal integer")
        # The length cap spares int() a huge parse (and its 4300-digit limit) on garbage input.
        amount = int(amount_text) if len(amount_text) <= 100 else UINT256_LIMIT
        if amount == 0:
            raise MerkleInputError(line, "amount must be positive")
        if amount >= UINT256_LIMIT:
            raise MerkleInputError(line, "amount does not fit in uint256")
        yield index, address, amount
        index += 1


def read_leaves_csv(source: str | os.PathLike[str] | TextIO) -> Iterator[Leaf]:
    """Stream leaves from ``address,amount`` rows; the index is the data-row number from 0.

    An ``address,amount`` header line and blank lines are skipped. Duplicate recipients are
    allowed: they become separate leaves with separate indices. Bad rows raise
    :class:`MerkleInputError` naming the line.
    """
    for index, address, amount in parse_csv(source):
        yield trusted_leaf(index, to_checksum(address), amount)
