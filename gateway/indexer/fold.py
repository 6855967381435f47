"""Folds one range's decoded events into rows to insert and state rows to replace.

Most events become one row each. A few also change state that later events depend on, and are
applied here in (block, log index) order so the result does not depend on how the chain was cut
into ranges:

- identities and merchants: the latest record per account;
- programs: granted, claimed count and spent, kept equal to the sums over grants and pocket
  moves, and closed/returned from ``ProgramClosed``;
- payments (``Paid``, or ``PaidWithPockets`` when it names pockets): a payment spends program
  pockets (pocket moves); the events emitted with its ``Paid`` in the same transaction
  (``MerchantFunded``, ``PlatformPayment`` before it, ``EmployeePayment`` after it) complete its
  row (extra, platform and fee, employee);
- cancellations (all or part of a payment, possibly several times): the event carries its parts,
  one per program the payment named, so it is joined to the payment here (from this range or
  the database) for those program ids, the payment's tx hash and the merchant-funded share, and
  pockets are restored as the token does (``_restorePockets``): only while the program is open,
  into the pocket only before its expiry, and into the recovery wallet of a recovered payer;
- rewards add to their program's granted figure (like grants); a recovery moves pockets
  (``PocketRecovered``: two pocket moves, the program's spent unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from chain.protocol.calls import PAID_EVENTS
from gateway.db.tables import index as t
from gateway.indexer.decode import DecodedEvent, Row, Values

__all__ = [
    "MAX_RECOVERY_HOPS",
    "VALUES_TABLES",
    "MerchantKey",
    "PaymentKey",
    "ProgramKey",
    "RangeWrite",
    "StateLookup",
    "WalletKey",
    "fold_identity",
    "fold_merchant",
    "fold_range",
]

ProgramKey = tuple[str, int]  # (token, program id)
PaymentKey = tuple[str, str, int]  # (token, payer, seq)
MerchantKey = tuple[str, str]  # (token, merchant)
WalletKey = tuple[str, str]  # (token, wallet)

# Tables whose rows the fold never reads by name: their events are decoded straight into
# tuples in column order (``EventDecoder(as_values=...)``). Grants and transfers are most of
# the volume; a grant's program and amount are read by position.
VALUES_TABLES = {table.name: [c.name for c in table.columns] for table in (t.grants, t.transfers)}
_GRANT_PROGRAM = VALUES_TABLES["index_grants"].index("program_id")
_GRANT_AMOUNT = VALUES_TABLES["index_grants"].index("amount")

_PROVENANCE = ("chain_id", "block_number", "block_hash", "tx_hash", "block_time")
# Recoveries of one person chain (A to B, then B to C); registrars make each, so a chain is a
# handful of hops. The bound only keeps a corrupt index from looping.
MAX_RECOVERY_HOPS = 32


class StateLookup(Protocol):
    """Reads the state a range starts from (rows as stored)."""

    def identities(self, accounts: Iterable[str]) -> dict[str, Row]: ...
    def merchants(self, keys: Iterable[MerchantKey]) -> dict[MerchantKey, Row]: ...
    def programs(self, keys: Iterable[ProgramKey]) -> dict[ProgramKey, Row]: ...
    def payments(self, keys: Iterable[PaymentKey]) -> dict[PaymentKey, Row]: ...
    def recoveries(self, keys: Iterable[WalletKey]) -> dict[WalletKey, str]: ...


@dataclass
class RangeWrite:
    """What one range changes: rows to insert and state rows to replace (keyed)."""

    rows: dict[str, list[Row | Values]] = field(default_factory=dict)
    identities: dict[str, Row] = field(default_factory=dict)
    merchants: dict[MerchantKey, Row] = field(default_factory=dict)
    programs: dict[ProgramKey, Row] = field(default_factory=dict)
    stored_programs: set[ProgramKey] = field(default_factory=set)  # to delete before insert
    events: int = 0


def fold_identity(state: Row | None, event: Row) -> Row:
    """The identity record after ``event`` (an ``index_identity_events`` row)."""
    block = event["block_number"]
    if state is None:
        state = {
            "chain_id": event["chain_id"],
            "account": event["account"],
            "kind": 0,
            "frozen": False,
            "registered_block": block,
            "updated_block": block,
        }
    else:
        state = dict(state)
    if event["action"] == "registered":
        state.update(kind=event["kind"], frozen=False, registered_block=block)
    else:
        state["frozen"] = event["frozen"]
    state["updated_block"] = block
    return state


def fold_merchant(state: Row | None, event: Row) -> Row:
    """The merchant record after ``event`` (an ``index_merchant_events`` row)."""
    block = event["block_number"]
    if event["action"] == "registered" or state is None:
        # Registration starts a fresh record (a cancelled merchant may register again).
        state = {
            "chain_id": event["chain_id"],
            "token": event["token"],
            "merchant": event["merchant"],
            "region": event["region"] or 0,
            "category": event["category"] or 0,
            "tier": event["tier"] or 0,
            "status": event["status"] or 0,
            "market": bool(event["market"]),
            "banned_until": event["banned_until"] or 0,
            "registered_block": block,
        }
    else:
        state = dict(state)
        if event["action"] == "updated":
            state.update(category=event["category"], tier=event["tier"])
        else:
            state.update(status=event["status"], banned_until=event["banned_until"])
    state["updated_block"] = block
    return state


# A wallet's kind never changes after registration (IdentityRegistry), so no event changes it.
_IDENTITY_EVENTS = frozenset({"IdentityRegistered", "IdentityFrozenSet"})
_MERCHANT_EVENTS = frozenset({"MerchantRegistered", "MerchantUpdated", "MerchantStatusSet"})


@dataclass
class _Needs:
    """What state a range reads from the database."""

    accounts: set[str] = field(default_factory=set)
    merchants: set[MerchantKey] = field(default_factory=set)
    programs: set[ProgramKey] = field(default_factory=set)
    payments: set[PaymentKey] = field(default_factory=set)  # cancelled, paid in earlier ranges
    payers: set[WalletKey] = field(default_factory=set)  # of cancellations: recovered?


def _needed_keys(events: Sequence[DecodedEvent]) -> _Needs:
    """What the events other than grants need (their rows are dicts)."""
    needs = _Needs()
    paid: set[PaymentKey] = set()
    for name, _, row, address in events:
        r = cast(Row, row)
        if name in ("ProgramClosed", "Rewarded"):
            needs.programs.add((address, cast(int, r["program_id"])))
        elif name in PAID_EVENTS:
            paid.add((address, cast(str, r["payer"]), cast(int, r["seq"])))
            for pocket in cast(list[dict[str, int]], r["pockets"]):
                needs.programs.add((address, pocket["program_id"]))
        elif name == "PaymentCancelled":
            needs.payments.add((address, cast(str, r["payer"]), cast(int, r["seq"])))
            needs.payers.add((address, cast(str, r["payer"])))
        elif name in _IDENTITY_EVENTS:
            needs.accounts.add(cast(str, r["account"]))
        elif name in _MERCHANT_EVENTS:
            needs.merchants.add((address, cast(str, r["merchant"])))
    needs.payments -= paid
    return needs


def fold_range(events: Sequence[DecodedEvent], lookup: StateLookup) -> RangeWrite:
    """Rows and state changes of ``events`` (one range, in chain order)."""
    # Grants are most of a distribution's events and only add to their program's figures,
    # which commute: they are summed in one pass here and applied once at the end, and only
    # the other events go through the key collection and the handlers.
    granted: dict[ProgramKey, list[int]] = {}
    grant_rows: list[Row | Values] = []
    others: list[DecodedEvent] = []
    for event in events:
        if event[0] == "Granted":
            values = cast(Values, event[2])
            key = (event[3], cast(int, values[_GRANT_PROGRAM]))
            sums = granted.get(key)
            if sums is None:
                sums = granted[key] = [0, 0]
            sums[0] += cast(int, values[_GRANT_AMOUNT])
            sums[1] += 1
            grant_rows.append(values)
        else:
            others.append(event)
    needs = _needed_keys(others)
    program_keys = needs.programs
    program_keys.update(granted)
    payments = lookup.payments(needs.payments) if needs.payments else {}
    # Cancelled payments from earlier ranges name programs we must load too.
    for (token, _, _), payment in payments.items():
        for pocket in cast(list[dict[str, int]], payment["pockets"]):
            program_keys.add((token, pocket["program_id"]))
    fold = _Fold(
        identities=lookup.identities(needs.accounts) if needs.accounts else {},
        merchants=lookup.merchants(needs.merchants) if needs.merchants else {},
        programs=lookup.programs(program_keys) if program_keys else {},
        payments=payments,
        recovered=lookup.recoveries(needs.payers) if needs.payers else {},
    )
    fold.out.events = len(events)
    fold.out.stored_programs = set(fold.programs)
    handlers = fold.handlers()
    rows = fold.out.rows
    if grant_rows:
        rows["index_grants"] = grant_rows
    for name, table, row, address in others:
        handler = handlers.get(name)
        if handler is None or handler(cast(Row, row), address):
            rows.setdefault(table, []).append(row)
    for key, (amount, claims) in granted.items():
        program = fold._touch(key)
        program["granted"] = cast(int, program["granted"]) + amount
        program["claimed_count"] = cast(int, program["claimed_count"]) + claims
    return fold.out


@dataclass
class _Fold:
    """The state one range reads and changes; each handler returns whether to keep the row."""

    identities: dict[str, Row]
    merchants: dict[MerchantKey, Row]
    programs: dict[ProgramKey, Row]
    payments: dict[PaymentKey, Row]
    recovered: dict[WalletKey, str]  # (token, lost wallet) -> the wallet it was recovered to
    out: RangeWrite = field(default_factory=RangeWrite)
    # What the events emitted just before a payment's Paid add to its row.
    pending: dict[PaymentKey, Row] = field(default_factory=dict)

    def handlers(self) -> dict[str, Callable[[Row, str], bool]]:
        return {
            **dict.fromkeys(_IDENTITY_EVENTS, self._identity),
            **dict.fromkeys(_MERCHANT_EVENTS, self._merchant),
            "ProgramCreated": self._created,
            "ProgramClosed": self._closed,
            **dict.fromkeys(PAID_EVENTS, self._paid),
            "PaymentCancelled": self._cancelled,
            "MerchantFunded": self._merchant_funded,
            "PlatformPayment": self._platform_payment,
            "EmployeePayment": self._employee_payment,
            "Rewarded": self._rewarded,
            "WalletRecovered": self._wallet_recovered,
            "PocketRecovered": self._pocket_recovered,
        }

    def _merchant_funded(self, row: Row, token: str) -> bool:
        key = (token, cast(str, row["payer"]), cast(int, row["seq"]))
        self.pending.setdefault(key, {})["extra"] = row["extra"]
        return True

    def _platform_payment(self, row: Row, token: str) -> bool:
        key = (token, cast(str, row["payer"]), cast(int, row["seq"]))
        self.pending.setdefault(key, {}).update(platform=row["platform"], fee=row["fee"])
        return True

    def _employee_payment(self, row: Row, token: str) -> bool:
        # Emitted after the institution's Paid, in the same transaction (so in this range).
        payment = self.payments.get((token, cast(str, row["institution"]), cast(int, row["seq"])))
        if payment is not None:
            payment["employee"] = row["employee"]
        return True

    def _rewarded(self, row: Row, token: str) -> bool:
        program = self._touch((token, cast(int, row["program_id"])))
        program["granted"] = cast(int, program["granted"]) + cast(int, row["amount"])
        return True

    def _wallet_recovered(self, row: Row, token: str) -> bool:
        self.recovered[(token, cast(str, row["lost"]))] = cast(str, row["recipient"])
        return True

    def _pocket_recovered(self, row: Row, token: str) -> bool:
        moves = self.out.rows.setdefault("index_pocket_moves", [])
        amount = cast(int, row["amount"])
        for position, (holder, delta) in enumerate(
            ((row["lost"], -amount), (row["recipient"], amount))
        ):
            moves.append(
                _pocket_move(
                    row,
                    token,
                    position,
                    program_id=row["program_id"],
                    holder=holder,
                    reason="recovery",
                    pocket_delta=delta,
                    spent_delta=0,
                )
            )
        return True

    def _identity(self, row: Row, _: str) -> bool:
        account = cast(str, row["account"])
        state = fold_identity(self.identities.get(account), row)
        self.identities[account] = self.out.identities[account] = state
        return True

    def _merchant(self, row: Row, token: str) -> bool:
        key = (token, cast(str, row["merchant"]))
        state = fold_merchant(self.merchants.get(key), row)
        self.merchants[key] = self.out.merchants[key] = state
        return True

    def _created(self, row: Row, token: str) -> bool:
        key = (token, cast(int, row["program_id"]))
        self.programs[key] = self.out.programs[key] = row
        return False  # the program's row is written with the state rows

    def _touch(self, key: ProgramKey) -> Row:
        """The program's row, marked as changed by this range."""
        program = self.programs[key]
        self.out.programs[key] = program
        return program

    def _closed(self, row: Row, token: str) -> bool:
        program = self._touch((token, cast(int, row["program_id"])))
        program.update(
            closed=True,
            returned=row["returned"],
            closed_block=row["block_number"],
            closed_log_index=row["log_index"],
        )
        return True

    def _paid(self, row: Row, token: str) -> bool:
        key = (token, cast(str, row["payer"]), cast(int, row["seq"]))
        extras = self.pending.pop(key, None)
        if extras is not None:
            row.update(extras)
        self.payments[key] = row
        moves = self.out.rows.setdefault("index_pocket_moves", [])
        for position, pocket in enumerate(cast(list[dict[str, int]], row["pockets"])):
            program_id, amount = pocket["program_id"], pocket["amount"]
            program = self._touch((token, program_id))
            program["spent"] = cast(int, program["spent"]) + amount
            moves.append(
                _pocket_move(
                    row,
                    token,
                    position,
                    program_id=program_id,
                    holder=row["payer"],
                    reason="payment",
                    pocket_delta=-amount,
                    spent_delta=amount,
                )
            )
        return True

    def _cancelled(self, row: Row, token: str) -> bool:
        """Joins the cancellation to its payment and restores pockets as the token does."""
        payer = cast(str, row["payer"])
        # As the token does: to the newest wallet of a payer recovered (maybe more than once).
        holder = payer
        for _ in range(MAX_RECOVERY_HOPS):
            nxt = self.recovered.get((token, holder))
            if nxt is None:
                break
            holder = nxt
        row["recipient"] = holder
        payment = self.payments.get((token, payer, cast(int, row["seq"])))
        if payment is None:
            return True  # not in the index (it always should be): pockets stay unknown
        program_ids = list(cast(list[int], payment["program_ids"]))
        total, extra = cast(int, payment["amount"]), cast(int, payment["extra"])
        up_to = cast(int, row["cancelled_total"])
        before = up_to - cast(int, row["amount"])
        row.update(
            payment_tx_hash=payment["tx_hash"],
            program_ids=program_ids,
            # The merchant-funded share of the cancelled range, as the token cuts it.
            extra=extra * up_to // total - extra * before // total if total else 0,
        )
        moves = self.out.rows.setdefault("index_pocket_moves", [])
        parts = cast(list[int], row["program_amounts"])
        for position, (program_id, amount) in enumerate(zip(program_ids, parts, strict=False)):
            if amount == 0:
                continue
            key = (token, program_id)
            program = self.programs.get(key)
            if program is None or program["closed"]:
                continue  # a closed program's money is only burned
            self._touch(key)
            program["spent"] = cast(int, program["spent"]) - amount
            live = cast(int, row["block_time"]) < cast(int, program["expiry"])
            moves.append(
                _pocket_move(
                    row,
                    token,
                    position,
                    program_id=program_id,
                    holder=holder,
                    reason="cancellation",
                    pocket_delta=amount if live else 0,
                    spent_delta=-amount,
                )
            )
        return True


def _pocket_move(row: Row, token: str, position: int, **values: object) -> Row:
    move = {name: row[name] for name in _PROVENANCE}
    move.update(log_index=row["log_index"], position=position, token=token, **values)
    return move
