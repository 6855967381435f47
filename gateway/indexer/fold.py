"""Folds one range's decoded events into rows to insert and state rows to replace.

Most events become one row each. A few also change state that later events depend on, and are
applied here in (block, log index) order so the result does not depend on how the chain was cut
into ranges:

- identities and merchants: the latest record per account;
- programs: granted, claimed count and spent, kept equal to the sums over grants and pocket
  moves, and closed/returned from ``ProgramClosed``;
- payments: a payment spends program pockets (pocket moves); its cancellation carries only the
  payer and sequence number, so it is joined to the payment here (from this range or the
  database) to record the amounts and to restore pockets as the token does: only while the
  program is open, and into the pocket only before its expiry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from gateway.indexer.decode import DecodedEvent, Row

__all__ = [
    "MerchantKey",
    "PaymentKey",
    "ProgramKey",
    "RangeWrite",
    "StateLookup",
    "fold_identity",
    "fold_merchant",
    "fold_range",
]

ProgramKey = tuple[str, int]  # (token, program id)
PaymentKey = tuple[str, str, int]  # (token, payer, seq)
MerchantKey = tuple[str, str]  # (token, merchant)

_PROVENANCE = ("chain_id", "block_number", "block_hash", "tx_hash", "block_time")


class StateLookup(Protocol):
    """Reads the state a range starts from (rows as stored)."""

    def identities(self, accounts: Iterable[str]) -> dict[str, Row]: ...
    def merchants(self, keys: Iterable[MerchantKey]) -> dict[MerchantKey, Row]: ...
    def programs(self, keys: Iterable[ProgramKey]) -> dict[ProgramKey, Row]: ...
    def payments(self, keys: Iterable[PaymentKey]) -> dict[PaymentKey, Row]: ...


@dataclass
class RangeWrite:
    """What one range changes: rows to insert and state rows to replace (keyed)."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
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


def _needed_keys(
    events: Sequence[DecodedEvent],
) -> tuple[set[str], set[MerchantKey], set[ProgramKey], set[PaymentKey]]:
    """What state the range reads from the database."""
    accounts: set[str] = set()
    merchant_keys: set[MerchantKey] = set()
    program_keys: set[ProgramKey] = set()
    cancelled: set[PaymentKey] = set()
    paid: set[PaymentKey] = set()
    for name, _, r, address in events:
        if name == "Granted" or name == "ProgramClosed":
            program_keys.add((address, cast(int, r["program_id"])))
        elif name == "Paid":
            paid.add((address, cast(str, r["payer"]), cast(int, r["seq"])))
            for pocket in cast(list[dict[str, int]], r["pockets"]):
                program_keys.add((address, pocket["program_id"]))
        elif name == "PaymentCancelled":
            cancelled.add((address, cast(str, r["payer"]), cast(int, r["seq"])))
        elif name in _IDENTITY_EVENTS:
            accounts.add(cast(str, r["account"]))
        elif name in _MERCHANT_EVENTS:
            merchant_keys.add((address, cast(str, r["merchant"])))
    return accounts, merchant_keys, program_keys, cancelled - paid


def fold_range(events: Sequence[DecodedEvent], lookup: StateLookup) -> RangeWrite:
    """Rows and state changes of ``events`` (one range, in chain order)."""
    accounts, merchant_keys, program_keys, missing_payments = _needed_keys(events)
    payments = lookup.payments(missing_payments) if missing_payments else {}
    # Cancelled payments from earlier ranges name programs we must load too.
    for (token, _, _), payment in payments.items():
        for pocket in cast(list[dict[str, int]], payment["pockets"]):
            program_keys.add((token, pocket["program_id"]))
    fold = _Fold(
        identities=lookup.identities(accounts) if accounts else {},
        merchants=lookup.merchants(merchant_keys) if merchant_keys else {},
        programs=lookup.programs(program_keys) if program_keys else {},
        payments=payments,
    )
    fold.out.events = len(events)
    fold.out.stored_programs = set(fold.programs)
    handlers = fold.handlers()
    rows = fold.out.rows
    # Grants are most of a distribution's events and only add to their program's figures,
    # which commute: they are summed here and applied once, not one handler call each.
    granted: dict[ProgramKey, list[int]] = {}
    grant_rows = rows.setdefault("index_grants", [])
    for name, table, row, address in events:
        if name == "Granted":
            key = (address, cast(int, row["program_id"]))
            sums = granted.get(key)
            if sums is None:
                sums = granted[key] = [0, 0]
            sums[0] += cast(int, row["amount"])
            sums[1] += 1
            grant_rows.append(row)
            continue
        handler = handlers.get(name)
        if handler is None or handler(row, address):
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
    out: RangeWrite = field(default_factory=RangeWrite)

    def handlers(self) -> dict[str, Callable[[Row, str], bool]]:
        return {
            **dict.fromkeys(_IDENTITY_EVENTS, self._identity),
            **dict.fromkeys(_MERCHANT_EVENTS, self._merchant),
            "ProgramCreated": self._created,
            "ProgramClosed": self._closed,
            "Paid": self._paid,
            "PaymentCancelled": self._cancelled,
        }

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
        self.payments[(token, cast(str, row["payer"]), cast(int, row["seq"]))] = row
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
        payment = self.payments.get((token, cast(str, row["payer"]), cast(int, row["seq"])))
        if payment is None:
            return True  # not in the index (it always should be): amounts stay unknown
        general, cashback = cast(int, payment["from_general"]), cast(int, payment["cashback"])
        row.update(
            amount=payment["amount"],
            returned=general - cashback,
            payment_tx_hash=payment["tx_hash"],
        )
        moves = self.out.rows.setdefault("index_pocket_moves", [])
        for position, pocket in enumerate(cast(list[dict[str, int]], payment["pockets"])):
            key = (token, pocket["program_id"])
            program = self.programs.get(key)
            if program is None or program["closed"]:
                continue  # a closed program's money is only burned
            amount = pocket["amount"]
            self._touch(key)
            program["spent"] = cast(int, program["spent"]) - amount
            live = cast(int, row["block_time"]) < cast(int, program["expiry"])
            moves.append(
                _pocket_move(
                    row,
                    token,
                    position,
                    program_id=pocket["program_id"],
                    holder=row["payer"],
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
