"""Exception hierarchy of the wallet SDK.

Every SDK exception derives from :class:`DongneError`; the ones that correspond to a builtin
category also derive from that builtin, so ``except ValueError`` keeps working for callers that
do not know about the SDK.

Errors reported by the gateway (including on-chain custom errors, whose ``code`` is the Solidity
error name) are turned into exceptions by :func:`error_for`. Specific classes are added with
:func:`register_error`; unknown codes become a plain :class:`GatewayError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

__all__ = [
    "DongneError",
    "GatewayError",
    "GatewayUnavailableError",
    "InvalidKeyError",
    "InvalidPaymentUriError",
    "InvoiceExpiredError",
    "KeystoreError",
    "TransportError",
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
    """The gateway could not be reached or the connection broke."""

    code = "TRANSPORT_ERROR"


class GatewayUnavailableError(TransportError):
    """The gateway answered that it is temporarily unavailable (overload, maintenance)."""

    code = "GATEWAY_UNAVAILABLE"


class GatewayError(DongneError):
    """The gateway rejected a request; ``status`` is its HTTP status, 0 when not known."""

    code = "GATEWAY_ERROR"

    def __init__(
        self,
        detail: str = "",
        *,
        status: int = 0,
        code: str | None = None,
        args_: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail, code=code, args_=args_)
        self.status = status


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
    code: str, detail: str, args: Mapping[str, object], *, status: int = 0
) -> DongneError:
    """Build the exception for an error ``code`` reported by the gateway.

    ``status`` (the HTTP status) is kept when the resulting class is a :class:`GatewayError`.
    """
    cls = _REGISTRY.get(code)
    if cls is None:
        return GatewayError(detail, status=status, code=code, args_=args)
    if issubclass(cls, GatewayError):
        return cls(detail, status=status, code=code, args_=args)
    return cls(detail, code=code, args_=args)
