"""The policy of every route, and the one function that enforces them.

A route declares exactly one :class:`Policy`; ``gateway.http`` resolves the caller into a
:class:`Principal` and calls :func:`authorize`, which raises the precise problem code of a
denial (AuthRequired, RoleRequired with the role and token, Forbidden).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from gateway.errors import GatewayError

__all__ = [
    "AUTHENTICATED",
    "MERCHANT_SELF",
    "OPERATOR",
    "PUBLIC",
    "SELF",
    "SIGNED",
    "Policy",
    "Principal",
    "auditor",
    "authorize",
    "merchant_self",
    "role",
]

PolicyKind = Literal[
    "public", "signed", "authenticated", "self", "merchant_self", "role", "operator"
]


@dataclass(frozen=True, slots=True)
class Policy:
    kind: PolicyKind
    # For "role": any of these, in the route's municipality. For "self"/"merchant_self": who
    # besides the subject may read (empty: the defaults below).
    roles: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.kind}({', '.join(self.roles)})" if self.roles else self.kind


PUBLIC = Policy("public")  # network facts and aggregates: no per-person rows
SIGNED = Policy("signed")  # wallet requests: their EIP-712 signature authenticates them
AUTHENTICATED = Policy("authenticated")  # anyone signed in (their own session, their own log)
SELF = Policy("self")  # a person's own data (or that person's city's auditors)
MERCHANT_SELF = Policy("merchant_self")  # a shop's own sales (or its city's staff)
OPERATOR = Policy("operator")  # network-level operations


def merchant_self(*readers: str) -> Policy:
    """A shop's own data, readable besides by ``readers`` in its municipality."""
    return Policy("merchant_self", readers)


def role(*names: str) -> Policy:
    return Policy("role", names)


def auditor() -> Policy:
    return role("AUDITOR_ROLE")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a signed-in wallet or an API key acting for one municipality."""

    address: str | None = None  # lower-case; None for anonymous and API keys
    api_key: str | None = None
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)  # contract -> names
    operator: bool = False

    @property
    def anonymous(self) -> bool:
        return self.address is None and self.api_key is None

    @property
    def actor(self) -> str:
        return self.address or (f"apikey:{self.api_key}" if self.api_key else "anonymous")

    def holds(self, names: tuple[str, ...], token: str | None) -> str | None:
        """The first of ``names`` held in ``token``'s contract, or None."""
        if token is None:
            return None
        held = self.roles.get(token.lower(), frozenset())
        return next((name for name in names if name in held), None)


# Who may read a person's or a shop's data besides themselves, in that municipality.
_PERSON_READERS = ("AUDITOR_ROLE",)
_MERCHANT_READERS = ("AUDITOR_ROLE", "DEFAULT_ADMIN_ROLE", "MERCHANT_REGISTRAR_ROLE")


def authorize(
    policy: Policy,
    who: Principal,
    *,
    token: str | None = None,
    subject: str | None = None,
) -> str | None:
    """Allows or raises. Answers the role that allowed it (None when no role was needed), so
    a read of someone else's data can be logged with that role."""
    if policy.kind in ("public", "signed"):
        return None
    if who.anonymous:
        raise GatewayError("AuthRequired", "sign in (or present an API key) to use this route")
    if policy.kind == "authenticated":
        return None
    if policy.kind == "operator":
        if who.operator:
            return "OPERATOR"
        raise GatewayError("RoleRequired", "only the network operator may do this",
                           {"role": "OPERATOR", "token": None})  # fmt: skip
    if policy.kind == "role":
        held = who.holds(policy.roles, token)
        if held is not None:
            return held
        raise GatewayError(
            "RoleRequired",
            f"this needs {' or '.join(policy.roles)} in municipality {token}",
            {"role": policy.roles[0], "token": token},
        )
    # self / merchant_self: the subject itself, or its municipality's readers.
    if subject is not None and who.address is not None and who.address == subject.lower():
        return None
    readers = policy.roles or (_PERSON_READERS if policy.kind == "self" else _MERCHANT_READERS)
    held = who.holds(readers, token)
    if held is not None:
        return held
    raise GatewayError("Forbidden", "this is someone else's data", {"subject": subject})
