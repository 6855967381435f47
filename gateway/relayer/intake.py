"""Accepting a signed request: checks cheapest first, then persistence before the answer.

Order of checks: schema and size; deadline (not past, not too far ahead); EIP-712 signature
(low-s); duplicate; rate limit; target and selector; gas and calldata within the function's
limits; the signer's gas budget; signer registered and not frozen (a resident's function) or
holding the function's role (a staff function); nonce (pipelined nonces allowed); simulation
with the request's own gas when it is next in line (later ones are simulated by the batcher
when their turn comes). A request that passes is written to the database by a group-commit
writer (one transaction for everything accepted in the same few milliseconds) and only then
answered. Nothing a stranger sends can make the relayer pay for a call that must revert.

Any replica accepts (gateway.relayer.shards): a request of a shard this replica holds is also
held in memory (NonceBook) and handed to that shard's batcher; one of a shard held elsewhere
gets the same checks against the chain (its nonce against the forwarder's, simulated when next
in line) and is only stored, queued: the shard's owner adopts it from the database. Across
replicas the database is the arbiter of a signer's nonces: the unique index on (chain, signer,
nonce) among requests not failed stores one of two requests racing for a nonce (the other is
answered ``NonceConflict``), and the same signed request sent to two replicas is one row.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from eth_utils.crypto import keccak

from chain.protocol.errors import ContractRevert
from chain.protocol.forwarder import (
    InvalidSignatureError,
    RequestFormatError,
    SignedRequest,
    request_id,
    signed_request_from_json,
    verify_request,
)
from chain.rpc import NodeUnavailableError, RpcError
from gateway.db.tables.relayer import FORWARD, QUEUED
from gateway.errors import GatewayError
from gateway.observability.logs import REQUEST_ID
from gateway.observability.relay_metrics import INTAKE_ACCEPTED, INTAKE_REFUSED, INTAKE_REPEATED
from gateway.relayer.admission import Admission
from gateway.relayer.chainview import (
    CANCEL_RECOVERY,
    KIND_NONE,
    STAFF_ROLES,
    STAFF_SELECTORS,
    USER_SELECTORS,
    ChainView,
    GasExhausted,
)
from gateway.relayer.payment_intake import AcceptedPayment, PaymentIntake
from gateway.relayer.store import NonceTakenError, RequestStore, queued_columns
from gateway.settings import Settings

# How far past the next executable nonce a signer may queue requests.
MAX_PIPELINE = 16


@dataclass
class Accepted:
    """A request that passed every check, on its way to the database and the batcher."""

    id: str
    signed: SignedRequest
    selector: str
    created_at: float
    future: asyncio.Future[None] = field(repr=False)
    shard: int = 0  # its signer's (gateway.relayer.shards)
    held: bool = True  # held in this replica's memory (its shard is ours) or only stored
    simulated: bool = False  # simulated at intake against the state it will run on
    # The HTTP request's id (X-Request-ID) that brought it: the batcher's log line names it
    # beside the batch's tx hash, so one id is followed from the call to the chain.
    trace: str | None = None

    @property
    def signer(self) -> str:
        return self.signed.request.from_

    @property
    def nonce(self) -> int:
        return self.signed.request.nonce

    def row(self, chain_id: int) -> dict[str, object]:
        r = self.signed.request
        return {
            "id": self.id,
            "chain_id": chain_id,
            "signer": r.from_,
            "target": r.to,
            "selector": self.selector,
            "nonce": r.nonce,
            "deadline": r.deadline,
            "gas": r.gas,
            "data": r.data,
            "signature": self.signed.signature,
            **queued_columns(self.created_at, self.trace, self.shard),
            "kind": FORWARD,
            "nonce_scope": "",  # a forwarder nonce is the signer's alone
        }


class NonceBook:
    """Per signer: the forwarder's next nonce (as last seen) and the requests in flight.

    A request whose nonce is past a gap (an earlier nonce never accepted: refused as
    ``Overloaded``, or not sent yet) is *parked*: it cannot run until the gap is filled.
    Admission control counts only the runnable rest as backlog. Counting parked requests
    wedged the relayer (bench_relay, 1,500/s offered): wallets whose nonce k was shed had
    k+1.. accepted and parked, the backlog never drained, so every submission was shed,
    including the nonce-k resends that would have unparked them.
    """

    def __init__(self) -> None:
        self.chain_next: dict[str, int] = {}
        self.in_flight: dict[str, dict[int, str]] = defaultdict(dict)
        # Kept alongside: admission control reads them for every submission.
        self._held = 0
        self._parked: dict[str, int] = {}
        self._parked_total = 0

    def next_free(self, signer: str) -> int | None:
        base = self.chain_next.get(signer)
        if base is None:
            return None
        held = self.in_flight.get(signer, {})
        n = base
        while n in held:
            n += 1
        return n

    def see(self, signer: str, chain_next: int) -> None:
        """The forwarder's next nonce for ``signer``, as just read from the chain."""
        self.chain_next[signer] = chain_next
        self._recount(signer)

    def forget(self, signer: str) -> None:
        """Drops what was seen of ``signer``'s forwarder nonce (another replica may have
        relayed it since): the next use asks the chain."""
        self.chain_next.pop(signer, None)
        self._recount(signer)

    def hold(self, signer: str, nonce: int, rid: str) -> None:
        held = self.in_flight[signer]
        if nonce not in held:
            self._held += 1
        held[nonce] = rid
        self._recount(signer)

    def held(self) -> int:
        """Requests accepted and not final yet, all signers."""
        return self._held

    def parked(self) -> int:
        """Held requests behind a nonce gap, all signers."""
        return self._parked_total

    def runnable(self) -> int:
        """Held requests that can run once their turn comes (the admission backlog)."""
        return self._held - self._parked_total

    def release(self, signer: str, nonce: int, *, used: bool, rid: str | None = None) -> None:
        """Lets go of ``nonce`` (only if ``rid`` holds it, when named: a request adopted from
        the database may have taken the nonce over meanwhile)."""
        held = self.in_flight.get(signer)
        if held is not None:
            if (rid is None or held.get(nonce) == rid) and held.pop(nonce, None) is not None:
                self._held -= 1
            if not held:
                del self.in_flight[signer]
        if used and signer in self.chain_next:
            self.chain_next[signer] = max(self.chain_next[signer], nonce + 1)
        self._recount(signer)

    def _recount(self, signer: str) -> None:
        """O(the signer's pipeline, <= MAX_PIPELINE): requests past the first gap."""
        held = self.in_flight.get(signer)
        base = self.chain_next.get(signer)
        parked = 0
        if held and base is not None:
            n = base
            while n in held:
                n += 1
            parked = sum(1 for k in held if k > n)
        before = self._parked.pop(signer, 0)
        if parked:
            self._parked[signer] = parked
        self._parked_total += parked - before


class RateLimiter:
    """Sliding window per signer, in memory: a replica protects itself and the chain. Each
    hit has a weight (1 for a request count, its gas for a gas budget); idle signers are
    forgotten, so strangers' addresses cannot grow it without bound."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[tuple[float, int]]] = {}
        self._totals: dict[str, int] = {}
        self._last_prune = 0.0

    def allow(self, key: str, now: float, weight: int = 1) -> bool:
        hits = self._hits.setdefault(key, deque())
        total = self._totals.get(key, 0)
        while hits and now - hits[0][0] > self.window_s:
            total -= hits.popleft()[1]
        self._totals[key] = total
        if total + weight > self.limit:
            return False
        hits.append((now, weight))
        self._totals[key] = total + weight
        if now - self._last_prune > self.window_s:
            self._prune(now)
        return True

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until the oldest hit of `key` leaves the window (room for another)."""
        hits = self._hits.get(key)
        return max(0.0, hits[0][0] + self.window_s - now) if hits else 0.0

    def _prune(self, now: float) -> None:
        self._last_prune = now
        for key in [
            k for k, hits in self._hits.items() if not hits or now - hits[-1][0] > self.window_s
        ]:
            del self._hits[key]
            self._totals.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)


class Router(Protocol):
    """What the intake asks of the relayer it feeds (``gateway.relayer.service.Relayer``)."""

    def shard_of(self, signer: str) -> int:
        """The shard a signer's requests belong to (``gateway.relayer.shards``)."""
        ...

    def owns(self, shard: int) -> bool:
        """Whether this replica relays the shard now (else a request is stored for its owner)."""
        ...

    def tenure(self, shard: int) -> int | None:
        """Which of this replica's turns at relaying the shard is current: a number that
        changes every time it starts relaying it (and forgets the nonces it saw of its
        signers); None while it does not relay it."""
        ...

    def ready(self) -> bool:
        """Whether a relayer key can pay for gas."""
        ...

    def route(self, accepted: Accepted | AcceptedPayment) -> None:
        """Takes a request once it is stored, to relay it."""
        ...


class LoneRouter:
    """One shard, relayed here, by a funded key, with nothing to hand the request to: an
    intake on its own (tests that exercise its checks only)."""

    def shard_of(self, signer: str) -> int:
        return 0

    def owns(self, shard: int) -> bool:
        return True

    def tenure(self, shard: int) -> int | None:
        return 0

    def ready(self) -> bool:
        return True

    def route(self, accepted: Accepted | AcceptedPayment) -> None:
        return None


class Intake:
    def __init__(
        self,
        settings: Settings,
        view: ChainView,
        store: RequestStore,
        nonces: NonceBook,
        router: Router,
    ) -> None:
        self.settings = settings
        self.view = view
        self.store = store
        self.nonces = nonces
        self.rate = RateLimiter(settings.rate_limit_per_signer, settings.rate_limit_window_s)
        self.gas_budget = RateLimiter(settings.signer_gas_budget, settings.signer_gas_window_s)
        self.admission = Admission(settings, nonces.runnable)
        self.known: dict[str, str] = {}  # id -> status, for requests this replica holds
        self._to_write: asyncio.Queue[Accepted | AcceptedPayment] = asyncio.Queue()
        self.router = router
        self._signer_locks: dict[str, asyncio.Lock] = {}
        self._signer_slots: dict[str, int] = {}  # submissions being checked, per signer
        self.payments = PaymentIntake(self)  # the signed payments' checks (payBySig)

    async def submit(self, body: object, *, payment: bool = False) -> tuple[str, str, bool]:
        """Validates and persists one request (a forwarder request, or a signed payment when
        ``payment``); returns (id, status, newly accepted). Sheds load first
        (``Overloaded``), before any of the work a request costs."""
        started = time.perf_counter()
        try:
            answer = await self._admitted(body, payment)
        except BaseException:
            INTAKE_REFUSED.observe(time.perf_counter() - started)
            raise
        (INTAKE_ACCEPTED if answer[2] else INTAKE_REPEATED).observe(time.perf_counter() - started)
        return answer

    async def _admitted(self, body: object, payment: bool) -> tuple[str, str, bool]:
        self.admission.enter()
        entered = time.monotonic()
        accepted_in: float | None = None
        try:
            answer = await (self.payments.check(body) if payment else self._submit(body))
            if answer[2]:  # newly stored: its time is what the adaptive limit aims at
                accepted_in = time.monotonic() - entered
            return answer
        finally:
            self.admission.leave(accepted_in)

    async def _submit(self, body: object) -> tuple[str, str, bool]:
        signed = _parse(body)
        signer = signed.request.from_
        # Fairness at the door (issue 17): a signer's submissions wait on its lock one at a
        # time, so a flood from one signer would hold every intake slot while others are
        # refused Overloaded; it is refused RateLimited beyond its own few slots instead.
        busy = self._signer_slots.get(signer, 0)
        if busy >= self.settings.intake_max_per_signer:
            raise GatewayError(
                "RateLimited",
                "too many requests of this signer are being checked",
                {"signer": signer, "retry_after": 1},
            )
        self._signer_slots[signer] = busy + 1
        try:
            return await self._checked(signed)
        finally:
            left = self._signer_slots[signer] - 1
            if left:
                self._signer_slots[signer] = left
            else:
                del self._signer_slots[signer]

    async def _checked(self, signed: SignedRequest) -> tuple[str, str, bool]:
        r = signed.request
        if r.value != 0:
            raise GatewayError("InvalidRequest", "value must be 0: vouchers move no ether")
        if len(r.data) < 4:
            raise GatewayError("InvalidRequest", "data must start with a function selector")
        selector = "0x" + r.data[:4].hex()
        self._check_size(selector, r.gas, len(r.data))
        now = time.time()
        if r.deadline < now + self.settings.min_deadline_margin_s:
            raise GatewayError(
                "RequestExpired",
                "deadline has passed or is too close to relay",
                {"deadline": r.deadline, "now": int(now)},
            )
        if r.deadline > now + self.settings.max_deadline_s:
            raise GatewayError(
                "DeadlineTooFar",
                f"deadline is more than {self.settings.max_deadline_s} s ahead",
                {"deadline": r.deadline, "max": int(now) + self.settings.max_deadline_s},
            )
        try:
            verify_request(self.view.domain, signed)
        except InvalidSignatureError as exc:
            raise GatewayError("InvalidSignature", str(exc), {"reason": exc.reason}) from None
        rid = request_id(self.view.domain, signed)
        status = self.known.get(rid)
        if status is not None:
            return rid, status, False  # the same request again: same id, run at most once
        if not self.rate.allow(r.from_, now):
            wait = self.rate.retry_after(r.from_, now)
            raise GatewayError(
                "RateLimited",
                "too many requests from this signer",
                {"signer": r.from_, "retry_after": round(wait, 3)},
            )
        ahead = self._ahead(signed, selector)
        try:
            return await self._checked_on_chain(signed, selector, rid, now, ahead)
        finally:
            for task in () if ahead is None else (ahead.nonce, ahead.simulation):
                if task is not None and not task.done():
                    task.cancel()  # refused before it was needed, or not next in line
                elif task is not None and not task.cancelled():
                    task.exception()  # retrieved: an unread failure would be logged as a bug

    def _ahead(self, signed: SignedRequest, selector: str) -> Ahead | None:
        """The forwarder's nonce of a signer this replica has not seen yet, and the request's
        simulation when it will likely be needed, asked now: AsyncRpc coalesces the calls
        made in one turn of the loop, so they share the identity check's JSON-RPC batch, one
        round trip to the node instead of up to three in a row. Issue 17: at 70% of capacity
        nearly every request in bench_relay is its wallet's first in a while, and each
        eth_call in a row is one more chance to wait out the node building a block (the
        acceptance p99 followed the eth_call tail, not the event loop).

        Only for a shard relayed here (another's is stored by ``_store_for_owner``, which
        asks again anyway), and tagged with the shard's tenure: a read that was on its way
        while the shard was taken over (``forget``) may predate the old owner's last batch,
        and a stale nonce parks the request behind a gap that is not there.

        The simulation is asked for a resident's function to a known municipal token (its
        gas is the resident's small limit: a stranger cannot make the node run a staff-sized
        call) next in line as far as this replica knows. It always comes with a nonce read
        asked just before it, in the same batch: its answer is used only if that nonce is the
        request's (the state it ran on holds every earlier request of the signer) and the
        request is still next in line once its nonce is checked; its errors are raised only
        then, so every check before it keeps its own code."""
        r = signed.request
        tenure = self.router.tenure(self.router.shard_of(r.from_))
        if tenure is None:
            return None
        seen = r.from_ in self.nonces.chain_next
        trial = (
            self.settings.simulate
            and selector in USER_SELECTORS
            and self.view.knows_token(r.to)
            and (not seen or self._is_next(r.from_, r.nonce))
        )
        if seen and not trial:
            return None
        nonce = asyncio.create_task(self.view.forwarder_nonce(r.from_))
        simulation = None
        if trial:
            simulation = asyncio.create_task(self.view.simulate(r.from_, r.to, r.data, r.gas))
        return Ahead(tenure, nonce, simulation)

    async def _checked_on_chain(
        self,
        signed: SignedRequest,
        selector: str,
        rid: str,
        now: float,
        ahead: Ahead | None,
    ) -> tuple[str, str, bool]:
        r = signed.request
        if self._is_recovery_veto(r.to, selector):
            await self._check_signer(r.from_, "cancelRecovery", frozen_ok=True)
        elif selector in USER_SELECTORS:
            await self._check_target(r.to, selector)
            await self._check_signer(r.from_, USER_SELECTORS[selector])
        else:
            await self._check_target(r.to, selector)
            await self._check_role(r.to, r.from_, STAFF_SELECTORS[selector])
        if not self.gas_budget.allow(r.from_, now, r.gas):
            window = self.settings.signer_gas_window_s
            raise GatewayError(
                "SignerThrottled",
                f"this signer's gas budget for {window:.0f} s is spent",
                {"signer": r.from_, "retry_after": int(window)},
            )
        if self.nonces.held() >= self.settings.max_held_requests:
            raise GatewayError("RelayerBusy", "the relayer holds as many requests as it may")
        if not self.router.ready():
            raise GatewayError("NotReady", "no relayer key has funds for gas (see /readyz)")
        shard = self.router.shard_of(r.from_)
        if not self.router.owns(shard):
            return await self._store_for_owner(signed, selector, rid, shard, now)
        async with self._lock(r.from_):
            try:
                await self._check_nonce(r.from_, r.nonce, rid, shard, ahead)
            except GatewayError as problem:
                # A request already finished (or held by another replica) has a used or held
                # nonce: answer with its stored state rather than the nonce error.
                stored = await asyncio.to_thread(self.store.get, rid)
                if stored is not None:
                    return rid, stored.status, False
                raise problem from None
            simulated = self.settings.simulate and self._is_next(r.from_, r.nonce)
            if simulated:
                await self._simulate(signed, await _trial(ahead, r.nonce))
            self.nonces.hold(r.from_, r.nonce, rid)
            accepted = Accepted(
                rid, signed, selector, now, asyncio.get_running_loop().create_future(),
                simulated=simulated, trace=REQUEST_ID.get(), shard=shard,
            )  # fmt: skip
            self.known[rid] = QUEUED
            await self._to_write.put(accepted)
        try:
            await accepted.future
        except NonceTakenError:
            self.nonces.release(r.from_, r.nonce, used=False, rid=rid)
            self.known.pop(rid, None)
            raise await self._nonce_conflict(r.from_, r.nonce) from None
        except Exception:
            self.nonces.release(r.from_, r.nonce, used=False, rid=rid)
            self.known.pop(rid, None)
            raise GatewayError("DatabaseUnavailable", "the request could not be stored") from None
        self.router.route(accepted)
        return rid, QUEUED, True

    async def _store_for_owner(
        self, signed: SignedRequest, selector: str, rid: str, shard: int, now: float
    ) -> tuple[str, str, bool]:
        """A request of a shard another replica holds: checked against the chain, stored
        queued (its owner adopts it from the database), nothing held here."""
        r = signed.request
        base = self.nonces.chain_next.get(r.from_)
        if base is None or not base <= r.nonce <= base + MAX_PIPELINE:
            # Unknown signer, or our view is stale (the owner advances it, not us).
            try:
                base = await self.view.forwarder_nonce(r.from_)
                self.nonces.see(r.from_, base)
            except NodeUnavailableError as exc:
                raise GatewayError("NodeUnavailable", str(exc)) from None
        if r.nonce < base or r.nonce > base + MAX_PIPELINE:
            stored = await asyncio.to_thread(self.store.get, rid)
            if stored is not None:  # already stored: its state, not the nonce error
                return rid, stored.status, False
            if r.nonce < base:
                raise GatewayError(
                    "NonceTooLow", "nonce already used", {"nonce": r.nonce, "next": base}
                )
            raise GatewayError(
                "NonceTooHigh", "nonce too far ahead", {"nonce": r.nonce, "next": base}
            )
        simulated = self.settings.simulate and r.nonce == base
        if simulated:
            await self._simulate(signed)
        accepted = Accepted(
            rid, signed, selector, now, asyncio.get_running_loop().create_future(),
            simulated=simulated, trace=REQUEST_ID.get(), shard=shard, held=False,
        )  # fmt: skip
        await self._to_write.put(accepted)
        try:
            await accepted.future
        except NonceTakenError:
            raise await self._nonce_conflict(r.from_, r.nonce) from None
        except Exception:
            raise GatewayError("DatabaseUnavailable", "the request could not be stored") from None
        return rid, QUEUED, True

    async def _nonce_conflict(self, signer: str, nonce: int) -> GatewayError:
        holder = await asyncio.to_thread(self.store.live_holder, signer, nonce)
        return GatewayError(
            "NonceConflict",
            "another request holds this nonce",
            {"nonce": nonce, "request": holder or ""},
        )

    def _lock(self, signer: str) -> asyncio.Lock:
        lock = self._signer_locks.get(signer)
        if lock is None:
            if len(self._signer_locks) > 10_000:  # forget idle signers' locks
                for key in [k for k, v in self._signer_locks.items() if not v.locked()]:
                    del self._signer_locks[key]
            lock = self._signer_locks[signer] = asyncio.Lock()
        return lock

    def _check_size(self, selector: str, gas: int, size: int) -> None:
        """Per-function limits: a resident's call needs little gas and calldata (see
        Settings); only staff functions get the larger limits."""
        user = selector in USER_SELECTORS or selector == CANCEL_RECOVERY
        gas_limit = (
            self.settings.user_request_gas_limit if user else self.settings.request_gas_limit
        )
        size_limit = (
            self.settings.user_calldata_limit if user else self.settings.staff_calldata_limit
        )
        if not 21_000 <= gas <= gas_limit:
            raise GatewayError(
                "InvalidRequest",
                f"gas must be between 21000 and {gas_limit} for this function",
                {"field": "gas", "max": gas_limit},
            )
        if size > size_limit:
            raise GatewayError(
                "PayloadTooLarge",
                f"calldata over {size_limit} bytes for this function",
                {"field": "data", "max": size_limit},
            )

    async def _simulate(
        self, signed: SignedRequest, trial: asyncio.Task[ContractRevert | None] | None = None
    ) -> None:
        """Raises the custom error the request would revert with, GasTooLow when its own gas
        does not cover the call, NodeUnavailable when the node cannot say. ``trial``: the
        same simulation, asked ahead on a state that holds the signer's earlier requests."""
        r = signed.request
        try:
            if trial is not None:
                revert = await trial
            else:
                revert = await self.view.simulate(r.from_, r.to, r.data, r.gas)
        except GasExhausted:
            raise GatewayError(
                "GasTooLow", f"the call needs more than the {r.gas} gas signed", {"gas": r.gas}
            ) from None
        except (NodeUnavailableError, RpcError) as exc:
            raise GatewayError("NodeUnavailable", f"cannot simulate: {exc}") from None
        if revert is not None:
            raise GatewayError(revert.name, f"the request would revert: {revert}", revert.args)

    async def _check_role(self, token: str, signer: str, function: str) -> None:
        role = STAFF_ROLES[function]
        try:
            held = await self.view.has_role(token, role, signer)
        except (NodeUnavailableError, RpcError) as exc:
            raise GatewayError("NodeUnavailable", str(exc)) from None
        if not held:
            role_id = "0x" + (
                "00" * 32 if role == "DEFAULT_ADMIN_ROLE" else keccak(text=role).hex()
            )
            raise GatewayError(
                "AccessControlUnauthorizedAccount",
                f"{function} needs {role}, which the signer does not hold",
                {"account": signer, "neededRole": role_id},
            )

    async def _check_target(self, target: str, selector: str) -> None:
        try:
            municipal = await self.view.is_municipal_token(target)
        except NodeUnavailableError as exc:
            raise GatewayError("NodeUnavailable", str(exc)) from None
        if not municipal:
            raise GatewayError(
                "TargetNotAllowed", "target is not a municipal voucher token", {"to": target}
            )
        if selector not in USER_SELECTORS and selector not in STAFF_SELECTORS:
            raise GatewayError(
                "SelectorNotAllowed", "this function is not relayed", {"selector": selector}
            )

    def _is_recovery_veto(self, target: str, selector: str) -> bool:
        return target == self.view.manifest.registry and selector == CANCEL_RECOVERY

    async def _check_signer(self, signer: str, function: str, *, frozen_ok: bool = False) -> None:
        try:
            kind, frozen = await self.view.identity(signer)
        except NodeUnavailableError as exc:
            raise GatewayError("NodeUnavailable", str(exc)) from None
        if kind == KIND_NONE:
            raise GatewayError(
                "SignerUnregistered", "the signer is not a verified wallet", {"signer": signer}
            )
        if frozen and not frozen_ok:
            raise GatewayError("SignerFrozen", "the signer's wallet is frozen", {"signer": signer})
        # Whether this kind of wallet may call `function` is the token's rule: simulation
        # answers with its precise custom error.

    async def _check_nonce(
        self, signer: str, nonce: int, rid: str, shard: int, ahead: Ahead | None = None
    ) -> None:
        if signer not in self.nonces.chain_next or nonce < self.nonces.chain_next[signer]:
            # First sight of the signer (its nonce asked ahead, unless another request of it
            # has been seen since), or a nonce below what we saw: ask the forwarder.
            if signer in self.nonces.chain_next:
                ahead = None
            try:
                self.nonces.see(signer, await self._forwarder_nonce(signer, shard, ahead))
            except NodeUnavailableError as exc:
                raise GatewayError("NodeUnavailable", str(exc)) from None
        base = self.nonces.chain_next[signer]
        if nonce < base:
            raise GatewayError("NonceTooLow", "nonce already used", {"nonce": nonce, "next": base})
        holder = self.nonces.in_flight.get(signer, {}).get(nonce)
        if holder is not None and holder != rid:
            raise GatewayError(
                "NonceConflict",
                "another request holds this nonce",
                {"nonce": nonce, "request": holder},
            )
        if nonce > base + MAX_PIPELINE:
            raise GatewayError(
                "NonceTooHigh", "nonce too far ahead", {"nonce": nonce, "next": base}
            )

    async def _forwarder_nonce(self, signer: str, shard: int, ahead: Ahead | None) -> int:
        """The signer's forwarder nonce, read within one tenure of its shard: a read that
        was on its way while the shard was taken over is read again (see _ahead)."""
        if ahead is not None and ahead.tenure != self.router.tenure(shard):
            ahead = None  # started before a takeover: its answer may predate it
        for _ in range(3):  # a takeover per read is not a steady state: the third one stands
            tenure: int | None
            if ahead is not None:
                tenure, seen = ahead.tenure, await ahead.nonce
                ahead = None
            else:
                tenure = self.router.tenure(shard)
                seen = await self.view.forwarder_nonce(signer)
            if tenure == self.router.tenure(shard):
                break
        return seen

    def _is_next(self, signer: str, nonce: int) -> bool:
        """Only a request next in line is simulated: later ones depend on earlier ones."""
        return nonce == self.nonces.chain_next.get(signer) and not self.nonces.in_flight.get(signer)

    async def run_writer(self) -> None:
        """Group commit: everything accepted since the last commit goes in one transaction."""
        chain_id = self.view.manifest.chain_id
        while True:
            first = await self._to_write.get()
            group = [first]
            while not self._to_write.empty() and len(group) < 1000:
                group.append(self._to_write.get_nowait())
            try:
                stored = await asyncio.to_thread(
                    self.store.insert_requests, [a.row(chain_id) for a in group]
                )
            except Exception as exc:  # database down: every waiting request learns it
                for a in group:
                    if not a.future.done():
                        a.future.set_exception(exc)
                continue
            for a in group:
                if a.future.done():
                    continue
                if a.id in stored:
                    a.future.set_result(None)
                else:  # another live request (through another replica) holds the nonce
                    a.future.set_exception(NonceTakenError(a.id))


@dataclass(frozen=True)
class Ahead:
    """Reads started before the signer's lock (Intake._ahead), with the tenure of the
    signer's shard they were started in."""

    tenure: int
    nonce: asyncio.Task[int]  # the forwarder's, asked first
    simulation: asyncio.Task[ContractRevert | None] | None  # asked just after it


async def _trial(ahead: Ahead | None, nonce: int) -> asyncio.Task[ContractRevert | None] | None:
    """The simulation asked ahead, if it ran on a state where ``nonce`` was the signer's next
    (the nonce read just before it says so), else None: simulate now."""
    if ahead is None or ahead.simulation is None:
        return None
    try:
        ran_at = await ahead.nonce
    except (NodeUnavailableError, RpcError):
        return None
    return ahead.simulation if ran_at == nonce else None


def _parse(body: object) -> SignedRequest:
    if not isinstance(body, Mapping):
        raise GatewayError("InvalidRequest", "body must be a JSON object")
    try:
        return signed_request_from_json(body)
    except RequestFormatError as exc:
        raise GatewayError("InvalidRequest", str(exc), {"field": exc.field_name}) from None
    except InvalidSignatureError as exc:
        raise GatewayError("InvalidSignature", str(exc), {"reason": exc.reason}) from None
