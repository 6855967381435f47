"""The error registry: every revert our contracts can produce, decoded into one typed exception.

The Solidity custom error name is the error code in every layer (gateway problem+json ``code``,
SDK exception class), so :data:`ERROR_CODES` is built from the committed ABIs rather than
written by hand: a new ``error`` in a contract reaches the vocabulary with the next
``scripts/export_abis.py``. Besides the custom errors, :func:`decode_revert` understands
Solidity's built-in ``Error(string)`` and ``Panic(uint256)``, and names what it cannot decode
``UnknownError`` (data kept) or ``EmptyRevert`` (a bare ``revert()`` or out-of-gas).

Only eth-abi and eth-utils are imported, so wallet apps can decode errors too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.protocol.abi import CONTRACTS, AbiEntry, abi_signature, canonical_type, load_abi

__all__ = [
    "ERROR_CODES",
    "GENERIC_REVERT_NAMES",
    "PANIC_REASONS",
    "REGISTRY",
    "ContractRevert",
    "DongneChainError",
    "ErrorSpec",
    "decode_revert",
    "decode_rpc_error",
    "revert_data_from_rpc_error",
]


class DongneChainError(Exception):
    """Root of every error ``chain`` (and ``chain.protocol``) raises on purpose.

    Callers (the gateway, the CLI, wallet apps) catch the whole layer in one clause; subclasses
    also inherit the builtin exception that describes them best (``ValueError``,
    ``ConnectionError``, ``FileNotFoundError``...) so standard-library code handles them too.
    """


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """One error's ABI: what its 4-byte selector decodes to."""

    name: str
    signature: str
    selector: str  # 0x-prefixed, 8 hex digits
    types: tuple[str, ...]  # canonical ABI types, in order
    names: tuple[str, ...]  # parameter names ("arg<i>" where the source left one unnamed)
    params: tuple[AbiEntry, ...]  # the ABI inputs, for tuple components


def _spec(entry: AbiEntry) -> ErrorSpec:
    signature = abi_signature(entry)
    inputs = tuple(cast(list[AbiEntry], entry.get("inputs", [])))
    return ErrorSpec(
        name=str(entry["name"]),
        signature=signature,
        selector="0x" + keccak(text=signature)[:4].hex(),
        types=tuple(canonical_type(p) for p in inputs),
        names=tuple(str(p.get("name") or f"arg{i}") for i, p in enumerate(inputs)),
        params=inputs,
    )


def _build_registry() -> dict[str, ErrorSpec]:
    registry: dict[str, ErrorSpec] = {}
    by_name: dict[str, str] = {}
    for contract in CONTRACTS:
        for entry in load_abi(contract):
            if entry["type"] != "error":
                continue
            spec = _spec(entry)
            known = registry.get(spec.selector)
            # Both checks keep the error name usable as a code: a name must mean one signature,
            # and a selector must mean one error, or decoding would be ambiguous.
            if known is not None and known.signature != spec.signature:
                raise RuntimeError(f"selector clash: {known.signature} vs {spec.signature}")
            if by_name.setdefault(spec.name, spec.signature) != spec.signature:
                raise RuntimeError(f"error {spec.name} has two signatures in the ABIs")
            registry.setdefault(spec.selector, spec)
    return registry


REGISTRY: Final[Mapping[str, ErrorSpec]] = _build_registry()
"""Selector (0x-hex) -> error, for every custom error in the committed ABIs."""

ERROR_CODES: Final[frozenset[str]] = frozenset(spec.name for spec in REGISTRY.values())
"""Every custom error name: the one vocabulary of gateway codes and SDK exception classes."""

GENERIC_REVERT_NAMES: Final[frozenset[str]] = frozenset(
    {"Error", "Panic", "UnknownError", "EmptyRevert"}
)
"""Names :func:`decode_revert` gives to reverts that are not custom errors."""

_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

PANIC_REASONS: Final[Mapping[int, str]] = {
    0x00: "generic compiler panic",
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "corrupt storage byte array",
    0x31: "pop from empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory or oversized allocation",
    0x51: "call to uninitialised internal function",
}
"""Solidity's panic codes and what they mean."""


# Not "...Error": the gateway and SDK name it after what it is, a contract's revert.
class ContractRevert(DongneChainError):  # noqa: N818
    """A decoded revert.

    ``name`` is the custom error's name (in :data:`ERROR_CODES`) or one of
    :data:`GENERIC_REVERT_NAMES`; ``args`` maps parameter names to JSON-friendly values
    (addresses checksummed, fixed and dynamic bytes as 0x-hex, integers as ``int``);
    ``selector`` is the 0x-hex first four bytes ("" when the data is shorter); ``data`` is the
    raw revert data.

    ``args`` deliberately shadows :attr:`BaseException.args` (the constructor's arguments),
    which nothing in this code base reads: every layer calls these the error's args.
    """

    def __init__(self, name: str, args: Mapping[str, object], selector: str, data: bytes) -> None:
        self.name = name
        self._fields = dict(args)
        self.selector = selector
        self.data = bytes(data)
        rendered = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        super().__init__(f"{name}({rendered})")

    @property
    def args(self) -> dict[str, object]:  # type: ignore[override]
        return self._fields

    def __reduce__(self) -> tuple[type[ContractRevert], tuple[str, dict[str, object], str, bytes]]:
        # BaseException would rebuild from its own args tuple, which our __init__ does not take.
        return type(self), (self.name, self._fields, self.selector, self.data)

    def __repr__(self) -> str:
        return f"ContractRevert(name={self.name!r}, args={self._fields!r})"


def _jsonable(param_type: str, value: object, components: Sequence[AbiEntry]) -> object:
    """Turn an eth-abi value into the form ``args`` promises, recursing into arrays/tuples."""
    if param_type.endswith("]"):
        element = param_type[: param_type.rindex("[")]
        return [_jsonable(element, v, components) for v in cast(Sequence[object], value)]
    if param_type.startswith("("):
        values = cast(Sequence[object], value)
        return {
            str(c.get("name") or f"arg{i}"): _jsonable(canonical_type(c), v, _components(c))
            for i, (c, v) in enumerate(zip(components, values, strict=True))
        }
    if param_type == "address":
        return to_checksum_address(cast(str, value))
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _components(param: AbiEntry) -> Sequence[AbiEntry]:
    return cast(list[AbiEntry], param.get("components", []))


def decode_revert(data: bytes | str) -> ContractRevert:
    """Decode revert data (bytes or 0x-hex) into a :class:`ContractRevert`; never raises.

    A string that is not hex decodes to ``UnknownError`` with empty ``data``: error paths
    call this, and a second exception there would hide the first.
    """
    if isinstance(data, str):
        try:
            data = bytes.fromhex(data.removeprefix("0x"))
        except ValueError:
            return ContractRevert("UnknownError", {}, "", b"")
    data = bytes(data)
    if not data:
        return ContractRevert("EmptyRevert", {}, "", data)
    if len(data) < 4:
        return ContractRevert("UnknownError", {}, "", data)
    selector, body = data[:4], data[4:]
    hex_selector = "0x" + selector.hex()
    try:
        if selector == _ERROR_SELECTOR:
            (message,) = abi_decode(["string"], body)
            return ContractRevert("Error", {"message": message}, hex_selector, data)
        if selector == _PANIC_SELECTOR:
            (code,) = abi_decode(["uint256"], body)
            reason = PANIC_REASONS.get(code, "unknown panic code")
            return ContractRevert("Panic", {"code": code, "reason": reason}, hex_selector, data)
        spec = REGISTRY.get(hex_selector)
        if spec is None:
            return ContractRevert("UnknownError", {}, hex_selector, data)
        values = abi_decode(list(spec.types), body)
    except (DecodingError, ValueError, OverflowError):
        # Right selector, malformed body: the name would be a guess, so keep the raw data only.
        return ContractRevert("UnknownError", {}, hex_selector, data)
    args = {
        name: _jsonable(t, v, _components(p))
        for name, t, v, p in zip(spec.names, spec.types, values, spec.params, strict=True)
    }
    return ContractRevert(spec.name, args, hex_selector, data)


# ------------------------------------------------------------------------------------------
# Revert data in JSON-RPC error objects
#
# Nodes disagree on where the revert data goes:
# - anvil, geth, Besu, ganache >= 7.0.1 on eth_call: ``error.data`` is the 0x-hex data.
# - ganache 7 on eth_sendTransaction/eth_estimateGas (and 7.0.0 on eth_call): ``error.data`` is
#   an object ``{"hash", "programCounter", "result": "0x...", "reason", "message"}``.
# - ganache-core 2 (ganache-cli 6): ``error.data`` is ``{"<tx hash>": {"error": "revert",
#   "program_counter": n, "return": "0x..."}, "stack": ..., "name": ...}``.
# - Proxies that wrap node errors: ``error.data`` is ``{"message": ..., "data": "0x..."}``.
# - Parity/OpenEthereum: ``error.data`` is the text ``"Reverted 0x..."``.

_MAX_NESTING = 4


def _hex_data(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    text = value.strip().removeprefix("Reverted ").strip()
    if not text.startswith("0x"):
        return None
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        return None


def _find_data(value: object, depth: int) -> bytes | None:
    found = _hex_data(value)
    if found is not None or not isinstance(value, Mapping) or depth > _MAX_NESTING:
        return found
    for key in ("data", "result", "return"):
        found = _find_data(value.get(key), depth + 1)
        if found is not None:
            return found
    # ganache-core 2 keys the result by transaction hash.
    for key, nested in value.items():
        if isinstance(key, str) and key.startswith("0x") and isinstance(nested, Mapping):
            found = _find_data(nested, depth + 1)
            if found is not None:
                return found
    return None


def revert_data_from_rpc_error(error: Mapping[str, object]) -> bytes | None:
    """The revert data in a JSON-RPC error object, or ``None`` when it carries none.

    ``error`` is the ``"error"`` member of a JSON-RPC reply (a whole reply is accepted too).
    Every node shape listed above is handled; ``None`` means the error is not a revert with
    data (e.g. a nonce or gas error), which is not the same as an :data:`EmptyRevert` (``b""``).
    """
    nested = error.get("error")
    if "code" not in error and isinstance(nested, Mapping):
        error = cast(Mapping[str, object], nested)
    return _find_data(error.get("data"), 0)


def decode_rpc_error(error: Mapping[str, object]) -> ContractRevert | None:
    """:func:`decode_revert` of a JSON-RPC error object's revert data, if it has any."""
    data = revert_data_from_rpc_error(error)
    return None if data is None else decode_revert(data)
