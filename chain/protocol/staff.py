"""City staff's on-chain operations: ONE table, read by the operator, the CLI and the gateway.

Each :class:`StaffOperation` names the contract function it calls, the role the contract checks
(the gateway's policy for its call builder is that role), its parameters and how their values
become the call's arguments, and the view that shows its effect (read before and after, for
the staff log). Nothing here sends or reads anything: :mod:`chain.staff` and the front-ends do.

Values arrive as JSON (the HTTP API) or strings (the CLI): :func:`parse_values` turns them into
typed values or raises :class:`~chain.protocol.calls.CallEncodingError` naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from eth_abi.abi import decode as abi_decode
from eth_utils.address import is_address, to_checksum_address

from chain.protocol.calls import CallEncodingError, FundingShare, RewardParams, Rules, funder_id
from chain.protocol.contracts import encode_function, input_types, selector
from chain.protocol.hashing import keccak256

__all__ = [
    "BAN_DAYS",
    "KEEP",
    "OPERATIONS",
    "ROLE_NAMES",
    "Param",
    "PreparedCall",
    "StaffOperation",
    "contract_name",
    "describe_args",
    "encode_staff",
    "identify",
    "operation",
    "parse_values",
    "prepare",
    "role_id",
    "role_name",
]

BAN_DAYS: Final = 365
"""Re-registration is barred for a year after cash-out fraud (DOMAIN.md)."""
KEEP: Final = -1
"""A default meaning "as it is on chain now" (a merchant's category when re-tiering): the
sender fills it in (:func:`chain.staff.complete`) before :func:`prepare`."""

# IVoucherTypes.MerchantStatus
_ACTIVE, _SUSPENDED, _CANCELLED = 1, 2, 3

Kind = Literal[
    "address", "uint", "bool", "bytes32", "addresses", "role", "rules", "rewards", "shares"
]
Contract = Literal["token", "registry"]
Values = Mapping[str, object]


def role_id(name: str) -> bytes:
    """A role's bytes32: zero for the admin role, keccak of its name otherwise."""
    return bytes(32) if name == "DEFAULT_ADMIN_ROLE" else keccak256(name.encode())


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: Kind
    help: str
    default: object = None  # None: the value is required


@dataclass(frozen=True, slots=True)
class StaffOperation:
    name: str  # kebab-case, the route's and the staff log's action name
    function: str  # the contract function called
    contract: Contract  # the municipality's token or the network's identity registry
    role: str | None  # the role the contract checks; None: anyone may send it
    params: tuple[Param, ...]
    args: Callable[[Values, int], tuple[object, ...]]  # (typed values, now) -> ABI arguments
    summary: str  # str.format over the values: what a person reads before signing
    # The view showing the effect: (function, the param naming its one argument or None).
    view: tuple[str, str | None] | None = None
    # Argument positions fixed by this operation: how a sent call is told apart from its
    # siblings calling the same function (suspend and ban both call setMerchantStatus).
    fixed: Mapping[int, object] = field(default_factory=dict)

    @property
    def http_role(self) -> str:
        """Who may build the call over HTTP: the contract's role, or the city's admin for the
        calls anyone may send (activating what the admin proposed, re-syncing exclusions)."""
        return self.role or "DEFAULT_ADMIN_ROLE"


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """An operation's call, for a staff wallet (or :class:`chain.operator.Operator`) to send."""

    operation: str
    function: str
    contract: Contract
    role: str | None
    data: bytes
    summary: str
    values: dict[str, object]


def _merchant(status: int) -> Callable[[Values, int], tuple[object, ...]]:
    return lambda v, _now: (v["merchant"], status, 0)


def _ban(v: Values, now: int) -> tuple[object, ...]:
    days = int(str(v["days"]))
    if not 1 <= days <= 3650:
        raise CallEncodingError("setMerchantStatus", "days: 1 to 3650")
    return (v["merchant"], _CANCELLED, now + days * 86_400)


def _reward_program(v: Values, now: int) -> tuple[object, ...]:
    start = int(str(v["start"])) or now
    params = RewardParams(
        budget=int(str(v["budget"])),
        start=start,
        expiry=start + int(str(v["days"])) * 86_400,
        daily_cap=int(str(v["daily_cap"])),
        monthly_cap=int(str(v["monthly_cap"])),
    )
    return (params.as_tuple(),)


def _rewards(v: Values, _now: int) -> tuple[object, ...]:
    rewards = v["rewards"]
    assert isinstance(rewards, list)
    return (v["program_id"], rewards)


_MERCHANT = Param("merchant", "address", "the merchant's wallet")
_ACCOUNT = Param("account", "address", "the wallet")
_INSTITUTION = Param("institution", "address", "the institution's wallet")
_CATEGORY = Param("category", "uint", "KSIC industry code")
_REG, _ADMIN, _PAUSER = "MERCHANT_REGISTRAR_ROLE", "DEFAULT_ADMIN_ROLE", "PAUSER_ROLE"
_MANAGER = "PROGRAM_MANAGER_ROLE"
_MERCHANT_VIEW = ("merchantOf", "merchant")

OPERATIONS: Final[tuple[StaffOperation, ...]] = (
    # Merchants (the register's keepers).
    StaffOperation("merchant-suspend", "setMerchantStatus", "token", _REG, (_MERCHANT,),
                   _merchant(_SUSPENDED), "suspend merchant {merchant}", _MERCHANT_VIEW,
                   {1: _SUSPENDED}),
    StaffOperation("merchant-reactivate", "setMerchantStatus", "token", _REG, (_MERCHANT,),
                   _merchant(_ACTIVE), "reactivate merchant {merchant}", _MERCHANT_VIEW,
                   {1: _ACTIVE}),
    StaffOperation("merchant-cancel", "setMerchantStatus", "token", _REG, (_MERCHANT,),
                   _merchant(_CANCELLED), "cancel merchant {merchant}'s registration",
                   _MERCHANT_VIEW, {1: _CANCELLED, 2: 0}),
    StaffOperation("merchant-ban", "setMerchantStatus", "token", _REG,
                   (_MERCHANT, Param("days", "uint", "re-registration barred for", BAN_DAYS)),
                   _ban, "ban merchant {merchant}: registration cancelled, barred {days} days",
                   _MERCHANT_VIEW, {1: _CANCELLED}),
    StaffOperation("merchant-tier", "updateMerchant", "token", _REG,
                   (_MERCHANT, Param("tier", "uint", "revenue tier (0 smallest)"),
                    Param("category", "uint", "KSIC code (default: unchanged)", KEEP)),
                   lambda v, _: (v["merchant"], v["category"], v["tier"]),
                   "set merchant {merchant} to tier {tier}, category {category}", _MERCHANT_VIEW),
    StaffOperation("merchant-platform", "setPlatform", "token", _REG,
                   (_MERCHANT, Param("platform", "bool", "a platform (delivery app)"),
                    Param("fee_bps", "uint", "brokerage in basis points", 0)),
                   lambda v, _: (v["merchant"], v["platform"], v["fee_bps"]),
                   "merchant {merchant}: platform={platform}, fee {fee_bps} bps", _MERCHANT_VIEW),
    # The city as a whole.
    StaffOperation("pause", "setPaused", "token", _PAUSER, (), lambda _v, _n: (True,),
                   "pause every payment, gift and sale of the city", ("paused", None), {0: True}),
    StaffOperation("unpause", "setPaused", "token", _PAUSER, (), lambda _v, _n: (False,),
                   "resume the city's payments", ("paused", None), {0: False}),
    StaffOperation("institution-limits", "setInstitutionLimits", "token", _ADMIN,
                   (_INSTITUTION, Param("per_payment", "uint", "won per payment (0: none)"),
                    Param("per_month", "uint", "won per month (0: none)")),
                   lambda v, _: (v["institution"], v["per_payment"], v["per_month"]),
                   "limit institution {institution} to ₩{per_payment} a payment, "
                   "₩{per_month} a month", ("institutionLimitsOf", "institution")),
    StaffOperation("institution-block", "setInstitutionBlockedCategory", "token", _ADMIN,
                   (_INSTITUTION, _CATEGORY, Param("blocked", "bool", "blocked or allowed")),
                   lambda v, _: (v["institution"], v["category"], v["blocked"]),
                   "institution {institution}: category {category} blocked={blocked}"),
    StaffOperation("institution-category", "setInstitutionCategory", "token", _ADMIN,
                   (_CATEGORY, Param("blocked", "bool", "blocked or allowed")),
                   lambda v, _: (v["category"], v["blocked"]),
                   "every institution: category {category} blocked={blocked}",
                   ("isInstitutionCategoryBlocked", "category")),
    StaffOperation("exclusion", "setExcludedCategory", "token", _ADMIN,
                   (_CATEGORY, Param("excluded", "bool", "purchased money barred there")),
                   lambda v, _: (v["category"], v["excluded"]),
                   "category {category}: excluded={excluded} for purchased money",
                   ("isCategoryExcluded", "category")),
    StaffOperation("exclusion-sync", "syncMerchantExclusion", "token", None,
                   (Param("merchants", "addresses", "merchants to re-check"),),
                   lambda v, _: (v["merchants"],),
                   "re-apply category exclusions to {merchants}"),
    # Rules and funding plans: proposed, visible for the change delay, then activated.
    StaffOperation("rules-propose", "proposeRules", "token", _ADMIN,
                   (Param("rules", "rules", "the whole new rule set"),),
                   lambda v, _: (v["rules"],), "propose new rules"),
    StaffOperation("rules-activate", "activateRules", "token", None, (),
                   lambda _v, _n: (), "activate the pending rules", ("rulesVersion", None)),
    StaffOperation("rules-cancel", "cancelPendingRules", "token", _ADMIN, (),
                   lambda _v, _n: (), "cancel the pending rules", ("pendingRules", None)),
    StaffOperation("funding-propose", "proposeFundingPlan", "token", _ADMIN,
                   (Param("shares", "shares", "funder:subsidy_bps:cashback_bps, one per funder; "
                          "each column adds up to 10000"),),
                   lambda v, _: (v["shares"],), "propose a funding plan",
                   ("pendingFundingPlan", None)),
    StaffOperation("funding-activate", "activateFundingPlan", "token", None, (),
                   lambda _v, _n: (), "activate the pending funding plan",
                   ("fundingVersion", None)),
    StaffOperation("funding-cancel", "cancelPendingFundingPlan", "token", _ADMIN, (),
                   lambda _v, _n: (), "cancel the pending funding plan"),
    # Programs and rewards.
    StaffOperation("program-close", "closeProgram", "token", _MANAGER,
                   (Param("program_id", "uint", "the program"),),
                   lambda v, _: (v["program_id"],), "close program {program_id}",
                   ("programOf", "program_id")),
    StaffOperation("reward-create", "createRewardProgram", "token", _MANAGER,
                   (Param("budget", "uint", "won"),
                    Param("days", "uint", "valid for days", 365),
                    Param("daily_cap", "uint", "won per person a KST day (0: none)", 0),
                    Param("monthly_cap", "uint", "won per person a KST month (0: none)", 0),
                    Param("start", "uint", "unix seconds (0: now)", 0)),
                   _reward_program, "create a reward program of ₩{budget}",
                   ("programCount", None)),
    StaffOperation("reward-pay", "rewardBatch", "token", "REWARDER_ROLE",
                   (Param("program_id", "uint", "the reward program"),
                    Param("rewards", "rewards", "attestation id, recipient, amount")),
                   _rewards, "pay rewards of program {program_id}"),
    # Roles (the city's admin) and identities (the network's KYC registrars).
    StaffOperation("role-grant", "grantRole", "token", _ADMIN,
                   (Param("role", "role", "e.g. AUDITOR_ROLE"), _ACCOUNT),
                   lambda v, _: (role_id(str(v["role"])), v["account"]),
                   "grant {role} to {account}"),
    StaffOperation("role-revoke", "revokeRole", "token", _ADMIN,
                   (Param("role", "role", "e.g. AUDITOR_ROLE"), _ACCOUNT),
                   lambda v, _: (role_id(str(v["role"])), v["account"]),
                   "revoke {role} from {account}"),
    StaffOperation("freeze", "setFrozen", "registry", "REGISTRAR_ROLE", (_ACCOUNT,),
                   lambda v, _: (v["account"], True), "freeze wallet {account} network-wide",
                   ("identityOf", "account"), {1: True}),
    StaffOperation("unfreeze", "setFrozen", "registry", "REGISTRAR_ROLE", (_ACCOUNT,),
                   lambda v, _: (v["account"], False), "unfreeze wallet {account}",
                   ("identityOf", "account"), {1: False}),
)  # fmt: skip

_BY_NAME: Final = {op.name: op for op in OPERATIONS}
ROLE_NAMES: Final = (
    "DEFAULT_ADMIN_ROLE", "ISSUER_ROLE", "MERCHANT_REGISTRAR_ROLE", "PROGRAM_MANAGER_ROLE",
    "PAUSER_ROLE", "AUDITOR_ROLE", "FRAUD_OFFICER_ROLE", "REWARDER_ROLE",
)  # fmt: skip
_ROLE_BY_ID: Final = {role_id(name): name for name in ROLE_NAMES}


def operation(name: str) -> StaffOperation:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise CallEncodingError(name, f"no staff operation {name!r}") from None


def contract_name(op: StaffOperation) -> str:
    return "IdentityRegistry" if op.contract == "registry" else "VoucherToken"


# ------------------------------------------------------------------------------------------
# Values


def _uint(function: str, name: str, value: object) -> int:
    if isinstance(value, bool):
        raise CallEncodingError(function, f"{name}: expected a whole number")
    try:
        number = int(str(value), 0) if isinstance(value, str) else int(str(value))
    except ValueError:
        raise CallEncodingError(function, f"{name}: expected a whole number") from None
    if number < 0:
        raise CallEncodingError(function, f"{name}: must not be negative")
    return number


def _bool(function: str, name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise CallEncodingError(function, f"{name}: expected true or false")


def _address(function: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise CallEncodingError(function, f"{name}: expected a 0x-prefixed 20-byte address")
    return str(to_checksum_address(value))


def _bytes32(function: str, name: str, value: object) -> bytes:
    text = str(value).removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise CallEncodingError(function, f"{name}: expected 32 bytes as 0x-hex")
    return raw


def _rules(function: str, name: str, value: object) -> tuple[object, ...]:
    if isinstance(value, Rules):
        return value.as_tuple()
    if not isinstance(value, Mapping):
        raise CallEncodingError(function, f"{name}: expected the rules' fields")
    # Either spelling: the dataclass's snake_case, or the ABI's (and the index's) camelCase.
    snake = {re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), str(k)): v
             for k, v in value.items()}  # fmt: skip
    try:
        return Rules(**snake).as_tuple()
    except TypeError as exc:
        raise CallEncodingError(function, f"{name}: {exc}") from None


def _reward_rows(function: str, name: str, value: object) -> list[tuple[object, ...]]:
    if not isinstance(value, list) or not value:
        raise CallEncodingError(function, f"{name}: expected a non-empty list")
    rows: list[tuple[object, ...]] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise CallEncodingError(function, f"{name}: each is attestation_id, recipient, amount")
        rows.append(
            (
                _bytes32(function, "attestation_id", item.get("attestation_id")),
                _address(function, "recipient", item.get("recipient")),
                _uint(function, "amount", item.get("amount")),
            )
        )
    return rows


def _shares(function: str, name: str, value: object) -> list[tuple[object, ...]]:
    """A funding plan's shares: ``name:subsidy_bps:cashback_bps`` texts (the CLI) or mappings
    ``{funder, subsidy_bps, cashback_bps}`` (JSON); the funder is its name (``funder_id``)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise CallEncodingError(function, f"{name}: expected a non-empty list")
    shares: list[tuple[object, ...]] = []
    for item in items:
        if isinstance(item, str):
            parts = item.strip().split(":")
            item = dict(zip(("funder", "subsidy_bps", "cashback_bps"), parts, strict=False))
        if not isinstance(item, Mapping) or not item.get("funder"):
            raise CallEncodingError(function, f"{name}: each is funder:subsidy_bps:cashback_bps")
        funder = funder_id(str(item["funder"]))  # 1-32 bytes, or CallEncodingError
        subsidy = _uint(function, "subsidy_bps", item.get("subsidy_bps"))
        cashback = _uint(function, "cashback_bps", item.get("cashback_bps"))
        shares.append(FundingShare(funder, subsidy, cashback).as_tuple())
    return shares


def _value(function: str, param: Param, value: object) -> object:
    if param.kind == "uint":
        return _uint(function, param.name, value)
    if param.kind == "bool":
        return _bool(function, param.name, value)
    if param.kind == "address":
        return _address(function, param.name, value)
    if param.kind == "bytes32":
        return _bytes32(function, param.name, value)
    if param.kind == "addresses":
        items = value if isinstance(value, list) else str(value).split(",")
        return [_address(function, param.name, item) for item in items]
    if param.kind == "role":
        if value not in ROLE_NAMES:
            raise CallEncodingError(function, f"{param.name}: one of {', '.join(ROLE_NAMES)}")
        return str(value)
    if param.kind == "rules":
        return _rules(function, param.name, value)
    if param.kind == "shares":
        return _shares(function, param.name, value)
    return _reward_rows(function, param.name, value)


def parse_values(op: StaffOperation, raw: Values) -> dict[str, object]:
    """The typed values of ``op``'s parameters from ``raw`` (defaults filled in)."""
    unknown = sorted(set(raw) - {p.name for p in op.params})
    if unknown:
        raise CallEncodingError(op.function, f"unknown field {unknown[0]!r}")
    values: dict[str, object] = {}
    for param in op.params:
        given = raw.get(param.name)
        if given is None:
            if param.default is None:
                raise CallEncodingError(op.function, f"{param.name}: required")
            values[param.name] = param.default
        else:
            values[param.name] = _value(op.function, param, given)
    return values


def prepare(op: StaffOperation, values: Values, now: int) -> PreparedCall:
    """The call of ``op`` with parsed ``values`` (see :func:`parse_values`) at time ``now``."""
    try:
        args = op.args(values, now)
        data = encode_function(op.function, args, contract_name(op))
        summary = op.summary.format(**values)
    except (ValueError, TypeError, OverflowError) as exc:
        raise CallEncodingError(op.function, str(exc)) from None
    return PreparedCall(op.name, op.function, op.contract, op.role, data, summary, dict(values))


def encode_staff(name: str, now: int = 0, **raw: object) -> bytes:
    """Calldata of staff operation ``name`` from raw values, e.g. for a relayed admin request:
    ``encode_staff("institution-category", category=56211, blocked=True)``."""
    op = operation(name)
    return prepare(op, parse_values(op, raw), now).data


def identify(contract: Contract, data: bytes) -> tuple[StaffOperation, tuple[object, ...]] | None:
    """Which staff operation a sent call was, and its decoded arguments (None: not one)."""
    candidates = [
        op for op in OPERATIONS
        if op.contract == contract and data[:4] == selector(op.function, contract_name(op))
    ]  # fmt: skip
    # The most specific first: a cancellation fixes the ban time to 0, a ban does not.
    for op in sorted(candidates, key=lambda o: -len(o.fixed)):
        try:
            args = tuple(abi_decode(list(input_types(op.function, contract_name(op))), data[4:]))
        except Exception:  # eth-abi raises several unrelated types for malformed data
            return None
        if all(args[i] == v for i, v in op.fixed.items()):
            return op, args
    return None


def role_name(role: bytes) -> str:
    return _ROLE_BY_ID.get(role, "0x" + role.hex())


def describe_args(values: Sequence[object]) -> list[object]:
    """Decoded arguments made JSON-friendly (bytes as 0x-hex, role ids by name)."""
    out: list[object] = []
    for value in values:
        if isinstance(value, bytes):
            out.append(role_name(value) if value in _ROLE_BY_ID else "0x" + value.hex())
        elif isinstance(value, list | tuple):
            out.append(describe_args(value))
        else:
            out.append(value)
    return out
