"""Logs -> rows: topic0 -> event ABI -> a row of one table.

A decoding plan per event is precomputed from the committed ABIs: for each argument, where it
sits (a topic, or a 32-byte slot of the data), how to read it, and which column it fills.
web3's event processing costs ~100 µs a log; here a static word is read straight from the
log's hex text (``int(word, 16)``, string slices) into the row, ~3 µs a log. Arrays and strings
follow their ABI offsets the same way; only struct arguments (the rules events, rare) go
through ``eth_abi.decode``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, NotRequired, TypedDict, cast

from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak

from chain.protocol.abi import AbiEntry, abi_signature, canonical_type, load_abi
from chain.protocol.contracts import event_topic

__all__ = [
    "INDEXED_CONTRACTS",
    "MUNICIPALITY_DEPLOYED_TOPIC",
    "DecodedEvent",
    "EventDecoder",
    "EventValueError",
    "RawLog",
    "Row",
    "Values",
]

Row = dict[str, object]
"""One row to insert: column name -> value."""
Values = tuple[object, ...]
"""One row to insert as its values in the table's column order (events the fold does not read:
no dict is built for them, and the insert takes them as they are)."""

INDEXED_CONTRACTS = ("DongneForwarder", "IdentityRegistry", "VoucherFactory", "VoucherToken")
MUNICIPALITY_DEPLOYED_TOPIC = event_topic("MunicipalityDeployed", "VoucherFactory")

# BigInteger is signed 64-bit; a uint that does not fit must stop the indexer rather than be
# stored wrong (the token bounds amounts far below this, see gateway.db.tables.index).
_INT64_MAX = (1 << 63) - 1
_WORD = 64  # hex characters in a 32-byte word

Word = Callable[[str], object]
"""Reads one word from its hex text (inside arrays of dynamic data)."""


class EventValueError(ValueError):
    """A decoded value does not fit its column; ``event`` and ``field`` say which."""

    def __init__(self, event: str, field: str, value: int) -> None:
        super().__init__(f"{event}.{field} = {value} does not fit a signed 64-bit column")
        self.event = event
        self.field = field
        self.value = value


class DecodedEvent(NamedTuple):
    """A decoded log: the event's name, its table, the row and the emitting contract. The row
    is a dict, or for the events the decoder was told to (``EventDecoder(as_values=...)``),
    its values in column order."""

    event: str
    table: str
    row: Row | Values
    address: str


class RawLog(TypedDict):
    """A log as ``eth_getLogs`` answers it (hex strings; ``blockTimestamp`` on newer nodes).

    The JSON-RPC spec has every hash and data field in lowercase hex, so they are stored as
    received; only ``address`` may come checksummed.
    """

    address: str
    topics: list[str]
    data: str
    blockNumber: str
    blockHash: str
    transactionHash: str
    logIndex: str
    blockTimestamp: NotRequired[str]
    removed: NotRequired[bool]


def _word(abi_type: str, event: str, field: str) -> Word | None:
    """How to read a static value, or None for a dynamic type (or a struct)."""
    if abi_type.endswith("]") or abi_type.startswith("("):
        return None
    if abi_type == "address":
        return lambda w: "0x" + w[-40:]
    if abi_type == "bool":
        return lambda w: w[-1] != "0"
    if abi_type.startswith("bytes") and abi_type[5:].isdigit():
        return lambda w: "0x" + w[-_WORD:]
    if abi_type.startswith("uint"):  # (signed ints, unused by our events, go to eth-abi)
        if int(abi_type[4:] or 256) < 64:
            return lambda w: int(w, 16)

        def checked(w: str) -> int:
            value = int(w, 16)
            if value > _INT64_MAX:
                raise EventValueError(event, field, value)
            return value

        return checked
    return None


def _dynamic_data(event: str, params: list[tuple[str, str]]) -> Callable[[str], Row]:
    """Reads data holding arrays or strings: {argument: value} (``params``: name, type)."""
    kinds = [kind for _, kind in params]
    words = [_word(kind.removesuffix("[]"), event, name) for name, kind in params]
    if any(w is None and k not in ("string", "bytes") for w, k in zip(words, kinds, strict=True)):
        names = [name for name, _ in params]
        return lambda data: dict(
            zip(names, abi_decode(kinds, bytes.fromhex(data[2:])), strict=True)
        )

    def read(data: str) -> Row:
        body = data[2:]
        args: Row = {}
        for slot, ((name, kind), word) in enumerate(zip(params, words, strict=True)):
            head = body[slot * _WORD : (slot + 1) * _WORD]
            if word is not None and not kind.endswith("[]"):
                args[name] = word(head)
                continue
            start = int(head, 16) * 2 + _WORD
            length = int(body[start - _WORD : start], 16)
            if kind in ("string", "bytes"):
                text = body[start : start + 2 * length]
                args[name] = (
                    bytes.fromhex(text).decode(errors="replace")
                    if kind == "string"
                    else "0x" + text
                )
            else:
                assert word is not None
                args[name] = [
                    word(body[start + i * _WORD : start + (i + 1) * _WORD]) for i in range(length)
                ]
        return args

    return read


# ------------------------------------------------------------------------------ event -> table


@dataclass(frozen=True)
class _Shape:
    """Where an event goes: its table, its columns, constant and derived columns.

    ``columns`` reads "column=argument ...", a bare name meaning the same for both.
    """

    table: str
    columns: str
    constants: Mapping[str, object] = field(default_factory=dict)
    derive: Callable[[Row], None] | None = None  # completes the row in place

    def column_of(self) -> dict[str, str]:
        """argument -> column."""
        pairs = (item.partition("=") for item in self.columns.split())
        return {arg or column: column for column, _, arg in pairs}


def _sale(row: Row) -> None:
    row["subsidy"] = cast(int, row["face"]) - cast(int, row["paid"])


def _payment(row: Row) -> None:
    ids, amounts = cast(list[int], row.pop("_ids")), cast(list[int], row.pop("_amounts"))
    row["from_pockets"] = cast(int, row["amount"]) - cast(int, row["from_general"])
    pairs = zip(ids, amounts, strict=True)
    row["pockets"] = [{"program_id": p, "amount": v} for p, v in pairs if v]
    row["program_ids"] = ids  # as the payment named them: a cancellation's parts follow these


def _plain_payment(row: Row) -> None:
    """``Paid``: a payment that named no pockets (``PaidWithPockets`` carries the lists)."""
    row["_ids"], row["_amounts"] = [], []
    _payment(row)


def _cancellation(row: Row) -> None:
    row["returned"] = cast(int, row["from_general"]) - cast(int, row["cashback"])


def _funding(row: Row) -> None:
    shares = row["shares"]
    if shares is not None:
        row["shares"] = [
            {
                "funder": "0x" + bytes(funder).hex(),
                "name": bytes(funder).rstrip(b"\0").decode(errors="replace"),
                "subsidy_bps": subsidy,
                "cashback_bps": cashback,
            }
            for funder, subsidy, cashback in cast(list[tuple[bytes, int, int]], shares)
        ]


def _unset(*columns: str, **values: object) -> dict[str, object]:
    return {**dict.fromkeys(columns), **values}


# Program figures start at zero; the fold keeps them up to date.
_NO_FIGURES = _unset("returned", "closed_block", "closed_log_index", granted=0, claimed_count=0,
                     spent=0, closed=False)  # fmt: skip
_IDENTITY = ("kind", "previous_kind", "frozen", "registrar")
_MERCHANT = ("region", "category", "tier", "market", "status", "banned_until")
_ROLE = ("account", "sender", "admin_role")
_PAYMENT = "payer merchant payment_id=paymentId seq"
_PROGRAM = "program_id=programId"
_FUNDING = ("effective_at", "shares", "subsidy_at", "cashback_at")
_RECOVERY = ("recipient", "effective_at", "sender")


def _shapes(rules_fields: list[str]) -> dict[str, _Shape]:
    def rules(row: Row) -> None:
        if row["rules"] is not None:
            values = cast(tuple[object, ...], row["rules"])
            row["rules"] = dict(zip(rules_fields, values, strict=True))

    def rule(action: str, columns: str) -> _Shape:
        unset = _unset("effective_at", "rules", action=action)
        return _Shape("index_rule_changes", f"version {columns}", unset, rules)

    identity, merchant = "index_identity_events", "index_merchant_events"
    return {
        "ExecutedForwardRequest": _Shape("index_relayed", "signer nonce success"),
        "IdentityRegistered": _Shape(identity, "account kind registrar",
                                     _unset(*_IDENTITY, action="registered", frozen=False)),
        "IdentityFrozenSet": _Shape(identity, "account frozen registrar",
                                    _unset(*_IDENTITY, action="frozen_set")),
        "RoleGranted": _Shape("index_role_changes", "role account sender",
                              _unset(*_ROLE, action="granted")),
        "RoleRevoked": _Shape("index_role_changes", "role account sender",
                              _unset(*_ROLE, action="revoked")),
        "RoleAdminChanged": _Shape("index_role_changes", "role admin_role=newAdminRole",
                                   _unset(*_ROLE, action="admin_changed")),
        "MunicipalityDeployed": _Shape("index_municipalities", "region token admin name symbol"),
        "RulesProposed": rule("proposed", "effective_at=effectiveAt rules"),
        "RulesActivated": rule("activated", "rules"),
        "RulesCancelled": rule("cancelled", ""),
        "InstitutionCategorySet": _Shape("index_institution_categories", "category blocked"),
        "PausedSet": _Shape("index_pauses", "paused account"),
        # A registration starts an active record with no ban.
        "MerchantRegistered": _Shape(merchant, "merchant region category tier market",
                                     _unset(*_MERCHANT, action="registered", status=1,
                                            banned_until=0)),
        "MerchantUpdated": _Shape(merchant, "merchant category tier",
                                  _unset(*_MERCHANT, action="updated")),
        "MerchantStatusSet": _Shape(merchant, "merchant status banned_until=bannedUntil",
                                    _unset(*_MERCHANT, action="status_set")),
        "Issued": _Shape("index_sales", "buyer issuer face paid", derive=_sale),
        # Extra, platform, fee and employee come from the events emitted with it (the fold).
        "Paid": _Shape("index_payments", f"{_PAYMENT} amount from_general=fromGeneral cashback",
                       _unset("platform", "employee", extra=0, fee=0), derive=_plain_payment),
        "PaidWithPockets": _Shape("index_payments", f"{_PAYMENT} amount "
                                  "from_general=fromGeneral cashback "
                                  "_ids=programIds _amounts=programAmounts",
                                  _unset("platform", "employee", extra=0, fee=0),
                                  derive=_payment),
        # The payment's program ids, extra part and tx hash are joined by the fold.
        "PaymentCancelled": _Shape("index_cancellations", f"{_PAYMENT} amount "
                                   "cancelled_total=cancelledTotal from_general=fromGeneral "
                                   "cashback fee program_amounts=programAmounts",
                                   _unset("payment_tx_hash", "recipient", extra=0,
                                          program_ids=()), derive=_cancellation),
        "Gifted": _Shape("index_gifts", "sender=from recipient=to amount"),
        "Redeemed": _Shape("index_redemptions", "merchant amount ref"),
        "Refunded": _Shape("index_refunds", "holder face cash"),
        "ProgramCreated": _Shape("index_programs", f"{_PROGRAM} root budget "
                                 "start_time=start expiry revenue_cap_waived=revenueCapWaived "
                                 "categories ref", _NO_FIGURES),
        "Granted": _Shape("index_grants", f"{_PROGRAM} recipient grant_index=index amount"),
        "ProgramClosed": _Shape("index_program_closes", f"{_PROGRAM} granted spent returned"),
        "Transfer": _Shape("index_transfers", "sender=from recipient=to amount=value"),
        # Money rules.
        "InvoiceCreated": _Shape("index_invoices",
                                 "merchant invoice_id=invoiceId payer amount expiry"),
        "InvoiceCancelled": _Shape("index_invoice_cancels", "merchant invoice_id=invoiceId"),
        "FundingPlanProposed": _Shape("index_funding_changes",
                                      "version effective_at=effectiveAt shares",
                                      _unset(*_FUNDING, action="proposed"), _funding),
        "FundingPlanActivated": _Shape("index_funding_changes",
                                       "version subsidy_at=subsidyAt cashback_at=cashbackAt",
                                       _unset(*_FUNDING, action="activated"), _funding),
        "FundingPlanCancelled": _Shape("index_funding_changes", "version",
                                       _unset(*_FUNDING, action="cancelled"), _funding),
        "MerchantTermsSet": _Shape("index_merchant_terms", "merchant extra_bps=extraBps "
                                   "platform platform_fee_bps=platformFeeBps"),
        "CategoryExcludedSet": _Shape("index_category_exclusions", "category excluded"),
        "MerchantExclusionSet": _Shape("index_merchant_exclusions", "merchant excluded"),
        "MerchantFunded": _Shape("index_merchant_funded", "merchant payer seq extra"),
        "PlatformPayment": _Shape("index_platform_payments", "payer platform shop seq fee"),
        "RewardProgramCreated": _Shape("index_reward_programs",
                                       f"{_PROGRAM} daily_cap=dailyCap monthly_cap=monthlyCap"),
        "Rewarded": _Shape("index_rewards",
                           f"{_PROGRAM} recipient attestation_id=attestationId amount"),
        "InstitutionLimitsSet": _Shape("index_institution_limits",
                                       "institution per_payment=perPayment per_month=perMonth"),
        "InstitutionCategoryBlockedSet": _Shape("index_institution_blocked",
                                                "institution category blocked"),
        "EmployeeSet": _Shape("index_employees", "institution employee monthly_limit=monthlyLimit"),
        "EmployeePayment": _Shape("index_employee_payments", "institution employee seq amount"),
        "WalletRecovered": _Shape("index_wallet_recoveries", "lost recipient=to balance"),
        "PocketRecovered": _Shape("index_pocket_recoveries",
                                  f"{_PROGRAM} lost recipient=to amount"),
        "RecoveryStarted": _Shape("index_recoveries", "lost recipient=to "
                                  "effective_at=effectiveAt sender=registrar",
                                  _unset(*_RECOVERY, action="started")),
        "RecoveryCancelled": _Shape("index_recoveries", "lost sender=by",
                                    _unset(*_RECOVERY, action="cancelled")),
        "RecoveryFinalized": _Shape("index_recoveries", "lost recipient=to",
                                    _unset(*_RECOVERY, action="finalized")),
        "RecoveryDelaySet": _Shape("index_recovery_delays", "delay"),
    }  # fmt: skip


# Which column names the emitting contract (token tables: the municipality's token).
_EMITTER = {
    "index_relayed": "forwarder",
    "index_role_changes": "contract",
    "index_recoveries": "registry",
    "index_recovery_delays": "registry",
}
_NO_EMITTER = frozenset({"index_identity_events", "index_municipalities"})


Reader = Callable[[RawLog, list[str], int, int, str], DecodedEvent | None]
"""(log, its topics, block number, block time, emitter address) -> the event (None: a log with
this topic0 but another number of topics, i.e. another event's signature)."""


@dataclass(frozen=True, slots=True)
class _Plan:
    name: str
    table: str
    read: Reader


def _static(abi_type: str) -> bool:
    return _word(abi_type, "", "") is not None


def _expression(source: str, abi_type: str) -> tuple[str, bool]:
    """Python reading a static value from ``source`` (its hex text); and whether the result
    needs the int64 check."""
    if abi_type == "address":
        return f'"0x" + {source}[-40:]', False
    if abi_type == "bool":
        return f'{source}[-1] != "0"', False
    if abi_type.startswith("bytes"):
        return f'"0x" + {source}[-{_WORD}:]', False
    return f"int({source}, 16)", int(abi_type[4:] or 256) >= 64


def _compile(entry: AbiEntry, shape: _Shape, chain_id: int, columns: Sequence[str] | None) -> _Plan:
    """Generates the reader of one event: a function building the row in one dict display (or,
    given the table's ``columns``, one tuple display in their order) and the event around it.

    A generic loop over the fields costs ~5.6 µs a log in calls and stores; the generated
    reader ~3 µs, and decoding is half of the indexer's Python time. Like ``dataclasses``, the
    source is built from trusted names (our ABIs) and compiled once.
    """
    name = str(entry["name"])
    column_of = shape.column_of()
    inputs = cast(list[AbiEntry], entry["inputs"])
    topics = 1 + sum(1 for p in inputs if p.get("indexed"))
    lines = ["def read(log, topics, number, stamp, address):"]
    lines.append(f"    if len(topics) != {topics}: return None")
    lines.append("    data = log['data']")
    values: dict[str, str] = {
        "chain_id": repr(chain_id),
        "block_number": "number",
        "block_hash": "log['blockHash']",
        "tx_hash": "log['transactionHash']",
        "log_index": "int(log['logIndex'], 16)",
        "block_time": "stamp",
    }
    emitter = _EMITTER.get(shape.table, None if shape.table in _NO_EMITTER else "token")
    if emitter is not None:
        values[emitter] = "address"
    data_params: list[tuple[str, str]] = []
    topic = 0
    for param in inputs:
        arg, kind = str(param["name"]), canonical_type(param)
        if not param.get("indexed"):
            data_params.append((arg, kind))
            continue
        topic += 1
        # An indexed dynamic value is only its hash: keep the hash.
        expression, check = _expression(f"topics[{topic}]", kind if _static(kind) else "bytes32")
        if arg in column_of:
            values[column_of[arg]] = _checked_value(lines, expression, check, name, arg)
    namespace: dict[str, object] = {
        "_MAX": _INT64_MAX,
        "_Error": EventValueError,
        "_new": tuple.__new__,  # not DecodedEvent(...): its Python-level __new__ is a frame
        "_Event": DecodedEvent,
        "_event": name,
        "_table": shape.table,
    }
    if all(_static(kind) for _, kind in data_params):
        for slot, (arg, kind) in enumerate(data_params):
            start = 2 + slot * _WORD
            expression, check = _expression(f"data[{start}:{start + _WORD}]", kind)
            if arg in column_of:
                values[column_of[arg]] = _checked_value(lines, expression, check, name, arg)
    else:
        namespace["_dynamic"] = _dynamic_data(name, data_params)
        lines.append("    args = _dynamic(data)")
        for arg, _ in data_params:
            if arg in column_of:
                values[column_of[arg]] = f"args[{arg!r}]"
    for i, (column, constant) in enumerate(shape.constants.items()):
        if column not in values:  # defaults for the columns this event does not carry
            namespace[f"_k{i}"] = constant
            values[column] = f"_k{i}"
    if columns is not None and shape.derive is None:
        if set(columns) != set(values):
            raise ValueError(f"{name}: columns {sorted(values)} are not {shape.table}'s")
        lines.append("    row = (" + "".join(f"{values[c]}, " for c in columns) + ")")
    else:
        lines.append("    row = {" + ", ".join(f"{c!r}: {v}" for c, v in values.items()) + "}")
    if shape.derive is not None:
        namespace["_derive"] = shape.derive
        lines.append("    _derive(row)")
    lines.append("    return _new(_Event, (_event, _table, row, address))")
    exec("\n".join(lines), namespace)  # trusted source: see the docstring
    return _Plan(name, shape.table, cast(Reader, namespace["read"]))


def _checked_value(lines: list[str], expression: str, check: bool, event: str, arg: str) -> str:
    if not check:
        return expression
    variable = f"v{len(lines)}"
    lines.append(f"    {variable} = {expression}")
    lines.append(f"    if {variable} > _MAX: raise _Error({event!r}, {arg!r}, {variable})")
    return variable


class EventDecoder:
    """Decodes the logs of the network's contracts into rows; other logs are skipped.

    ``as_values`` maps table names to their columns in order: events of those tables (unless a
    ``derive`` completes their row) are decoded straight into a tuple of values.
    """

    def __init__(
        self,
        chain_id: int,
        abis: Mapping[str, list[AbiEntry]] | None = None,
        *,
        as_values: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.chain_id = chain_id
        as_values = as_values or {}
        if abis is None:
            abis = {name: load_abi(name) for name in INDEXED_CONTRACTS}
        events = {
            abi_signature(e): e for abi in abis.values() for e in abi if e.get("type") == "event"
        }
        shapes = _shapes(_rules_fields(events.values()))
        kept = {
            signature: (entry, shapes[str(entry["name"])])
            for signature, entry in events.items()
            # Initialized, Approval, MunicipalityInitialized...: nothing to keep.
            if str(entry["name"]) in shapes and not entry.get("anonymous")
        }
        kept.update(_legacy_events(events.values(), shapes))
        self._plans: dict[str, _Plan] = {
            "0x" + keccak(text=signature).hex(): _compile(
                entry, shape, chain_id, as_values.get(shape.table)
            )
            for signature, (entry, shape) in kept.items()
        }
        self._readers = {topic: plan.read for topic, plan in self._plans.items()}
        self._lowered: dict[str, str] = {}  # emitter address as received -> lowercase

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(plan.table for plan in self._plans.values())

    @property
    def events(self) -> frozenset[str]:
        """The names of the events kept."""
        return frozenset(plan.name for plan in self._plans.values())

    def decode(self, log: RawLog, block_number: int, block_time: int) -> DecodedEvent | None:
        """The row of ``log`` (of block ``block_number``), or None for a log not kept."""
        topics = log["topics"]
        read = self._readers.get(topics[0]) if topics else None
        if read is None:
            return None
        address = log["address"]
        lowered = self._lowered.get(address)
        if lowered is None:  # the one field the spec lets nodes checksum
            lowered = self._lowered[address] = address.lower()
        return read(log, topics, block_number, block_time, lowered)


def _legacy_events(
    events: Iterable[AbiEntry], shapes: Mapping[str, _Shape]
) -> dict[str, tuple[AbiEntry, _Shape]]:
    """Events an earlier version of the token emitted, which a network upgraded from it still
    holds in its old blocks (a reindex, a new database, a catch-up read them): by signature,
    with the shape to decode them with. Until the gas diet (issue 17) ``Paid`` carried the
    pocket lists: exactly ``PaidWithPockets``' fields, under the name ``Paid``, so its entry is
    derived from the committed ABI rather than kept as a copy."""
    for entry in events:
        if entry["name"] == "PaidWithPockets":
            legacy: AbiEntry = {**entry, "name": "Paid"}
            return {abi_signature(legacy): (legacy, shapes["PaidWithPockets"])}
    return {}


def _rules_fields(events: Iterable[AbiEntry]) -> list[str]:
    for entry in events:
        if entry["name"] == "RulesActivated":
            for param in cast(list[AbiEntry], entry["inputs"]):
                if param["name"] == "rules":
                    return [str(c["name"]) for c in cast(list[AbiEntry], param["components"])]
    raise ValueError("the VoucherToken ABI has no RulesActivated(rules) event")
