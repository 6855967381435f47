"""Exception hierarchy of the wallet SDK.

Every SDK exception derives from :class:`DongneError`; the ones that correspond to a builtin
category also derive from that builtin, so ``except ValueError`` keeps working for callers that
do not know about the SDK.

Errors reported by the gateway (including on-chain custom errors, whose ``code`` is the Solidity
error name) are turned into exceptions by :func:`error_for`. Specific classes are added with
:func:`register_error` (:mod:`wallet_sdk.exceptions` registers one per error code); unknown
codes become a plain :class:`GatewayError`, or :class:`GatewayUnavailableError` when the
gateway marked them retryable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from eth_utils.address import to_checksum_address

__all__ = [
    "Argument",
    "DongneError",
    "GatewayError",
    "GatewayUnavailableError",
    "InvalidKeyError",
    "InvalidPaymentUriError",
    "InvoiceExpiredError",
    "KeystoreError",
    "TransportError",
    "UnexpectedResponseError",
    "WaitTimeoutError",
    "error_for",
    "register_error",
]


class DongneError(Exception):
    """Root of every SDK exception.

    ``code`` identifies the kind of failure in a machine-readable way, ``detail`` is a human
    readable message and ``args_`` holds the typed arguments of the failure (for on-chain errors,
    the named arguments of the Solidity custom error).
    """

    code: str = "DONGNE_ERROR"
    #: Whether making the same call again may succeed without changing anything.
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        args_: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.args_: dict[str, object] = dict(args_ or {})

    def __str__(self) -> str:
        return self.detail or self.code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"

    def __reduce__(self) -> tuple[Callable[..., DongneError], tuple[object, ...]]:
        # The default exception pickling calls ``cls(*self.args)``, which cannot supply the
        # keyword-only fields of subclasses; rebuilding from the instance dict works for all.
        return _restore, (type(self), self.detail, dict(self.__dict__))


def _restore(cls: type[DongneError], detail: str, state: dict[str, object]) -> DongneError:
    err = cls.__new__(cls)
    err.args = (detail,)
    err.__dict__.update(state)
    return err


class KeystoreError(DongneError, ValueError):
    """A key file could not be decrypted: wrong password, damaged or unsupported file.

    ``reason`` is one of ``"wrong_password"``, ``"corrupt"`` or ``"unsupported"``.
    """

    code = "KEYSTORE_ERROR"

    def __init__(
        self,
        detail: str = "",
        *,
        reason: str,
        code: str | None = None,
        args_: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail, code=code, args_=args_)
        self.reason = reason


class InvalidKeyError(DongneError, ValueError):
    """Key material given directly (private key, mnemonic, derivation path) is invalid."""

    code = "INVALID_KEY"


class InvalidPaymentUriError(DongneError, ValueError):
    """A payment URI (or the request it describes) is invalid; ``reason`` says precisely why."""

    code = "INVALID_PAYMENT_URI"

    def __init__(
        self,
        detail: str = "",
        *,
        reason: str,
        code: str | None = None,
        args_: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail, code=code, args_=args_)
        self.reason = reason


class InvoiceExpiredError(InvalidPaymentUriError):
    """A dynamic invoice was presented after its expiry time (unix seconds)."""

    code = "INVOICE_EXPIRED"

    def __init__(self, detail: str = "", *, expiry: int, now: int) -> None:
        super().__init__(detail, reason="expired", args_={"expiry": expiry, "now": now})
        self.expiry = expiry
        self.now = now


class TransportError(DongneError, ConnectionError):
    """The gateway could not be reached or the connection broke.

    Retryable: a signed request resent after a lost answer gets the same id at the gateway and
    is executed at most once.
    """

    code = "TRANSPORT_ERROR"
    retryable = True
    #: Set when submitting a request failed: whether the gateway got it is unknown until
    #: ``status(request_id)`` tells (the gateway stores a request before it answers).
    request_id: str | None = None


class WaitTimeoutError(DongneError, TimeoutError):
    """A request did not reach a final state in time; it may still do so later."""

    code = "WAIT_TIMEOUT"

    def __init__(self, detail: str = "", *, request_id: str, last_status: str) -> None:
        super().__init__(detail, args_={"request_id": request_id, "last_status": last_status})
        self.request_id = request_id
        self.last_status = last_status


@dataclass(frozen=True, slots=True)
class Argument:
    """One typed argument of an error: ``name`` as the gateway spells it in ``args`` (for
    on-chain errors the Solidity parameter name), the Python ``attribute`` it is exposed as,
    and its ABI ``kind`` (``uint256``, ``address``, ``bool``, ``bytes32``, ``string``, ``T[]``)
    which decides the Python type: int, checksum str, bool, bytes, str, tuple."""

    name: str
    attribute: str
    kind: str


class GatewayError(DongneError):
    """The gateway rejected a request, or reported that a request failed.

    ``status`` is the HTTP status of the answer (the code's usual status when the error came
    from a request's final state; 0 when not known). Subclasses list their typed
    :attr:`arguments`: each is converted from ``args`` and set as an attribute; a missing or
    malformed one reads as its type's zero value, and ``args_`` keeps what the gateway sent.
    ``request_id`` and ``tx_hash`` are set when the error is a relayed request's final state.
    """

    code = "GATEWAY_ERROR"
    default_status: ClassVar[int] = 0
    arguments: ClassVar[tuple[Argument, ...]] = ()
    request_id: str | None = None
    tx_hash: str | None = None

    def __init__(
        self,
        detail: str = "",
        *,
        status: int = 0,
        code: str | None = None,
        args_: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail, code=code, args_=args_)
        self.status = status or self.default_status
        for argument in self.arguments:
            raw = self.args_.get(argument.name)
            try:
                value = _convert(argument.kind, raw)
            except (TypeError, ValueError):
                setattr(self, argument.attribute, _zero(argument.kind))
                continue
            self.args_[argument.name] = value
            setattr(self, argument.attribute, value)


class GatewayUnavailableError(TransportError, GatewayError):
    """The gateway answered that it is temporarily unavailable (overload, node or database down,
    not ready). ``retry_after`` is the gateway's hint in seconds, when it gave one."""

    code = "GATEWAY_UNAVAILABLE"
    default_status = 503
    retry_after: float | None = None


class UnexpectedResponseError(GatewayError):
    """The gateway answered something this SDK cannot read (wrong shape, wrong request id)."""

    code = "UNEXPECTED_RESPONSE"


def _convert(kind: str, value: object) -> object:
    """``value`` from JSON as the Python type of ABI ``kind``; raises ValueError/TypeError."""
    if value is None:
        raise ValueError("missing")
    if kind.endswith("]"):
        if not isinstance(value, Sequence) or isinstance(value, str | bytes):
            raise TypeError("not an array")
        element = kind[: kind.rindex("[")]
        return tuple(_convert(element, v) for v in value)
    if kind.startswith(("uint", "int")):
        if isinstance(value, bool):
            raise TypeError("bool is not an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and len(value) <= 80:
            return int(value, 16) if value.startswith("0x") else int(value, 10)
        raise TypeError("not an integer")
    if kind == "address":
        if not isinstance(value, str):
            raise TypeError("not an address")
        return to_checksum_address(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError("not a bool")
        return value
    if kind.startswith("bytes"):
        if not isinstance(value, str) or not value.startswith("0x"):
            raise TypeError("not 0x-hex")
        return bytes.fromhex(value[2:])
    if kind == "string":
        if not isinstance(value, str):
            raise TypeError("not a string")
        return value
    raise ValueError(f"unsupported kind {kind}")


def _zero(kind: str) -> object:
    if kind.endswith("]"):
        return ()
    if kind.startswith(("uint", "int")):
        return 0
    if kind == "bool":
        return False
    if kind.startswith("bytes"):
        return b""
    return ""


_E = TypeVar("_E", bound=DongneError)

_REGISTRY: dict[str, type[DongneError]] = {}


def register_error(code: str) -> Callable[[type[_E]], type[_E]]:
    """Class decorator mapping an error ``code`` (e.g. a Solidity error name) to a class.

    The class must accept ``(detail, *, code=..., args_=...)`` like :class:`DongneError`, plus
    ``status=...`` if it derives from :class:`GatewayError`.
    """

    def decorate(cls: type[_E]) -> type[_E]:
        existing = _REGISTRY.get(code)
        if existing is not None and existing is not cls:
            # Two classes for one code would make error_for depend on import order.
            raise ValueError(f"error code {code!r} already registered to {existing.__name__}")
        cls.code = code
        _REGISTRY[code] = cls
        return cls

    return decorate


def error_for(
    code: str,
    detail: str,
    args: Mapping[str, object],
    *,
    status: int = 0,
    retryable: bool = False,
) -> DongneError:
    """Build the exception for an error ``code`` reported by the gateway.

    ``status`` (the HTTP status) is kept when the resulting class is a :class:`GatewayError`.
    ``retryable`` (the problem document's flag) matters only for codes without a class: a
    newer gateway's retryable code still becomes a :class:`GatewayUnavailableError`.
    """
    cls = _REGISTRY.get(code)
    if cls is None:
        generic = GatewayUnavailableError if retryable else GatewayError
        return generic(detail, status=status, code=code, args_=args)
    if issubclass(cls, GatewayError):
        return cls(detail, status=status, code=code, args_=args)
    return cls(detail, code=code, args_=args)
