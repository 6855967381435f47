"""Admission control: the relayer sheds load before doing any expensive work.

Accepting a signed request costs a signature recovery, a node round trip (the simulation) and
a share of a database commit; making it final costs a share of a batch. Offered twice what it
could do, the relayer used to accept everything slowly (p99 over a second, a quarter of the
offered rate accepted) while a backlog grew that took minutes to become final, and nothing told
the clients to back off. Two limits are now checked first, for the price of a few comparisons:

- the intake's concurrency: at most as many submissions are being checked and stored at once
  as an adaptive limit allows (gateway.relayer.concurrency: between ``intake_min_in_flight``
  and ``intake_max_in_flight``, it keeps their time near ``intake_target_ms`` while the
  batcher has work enough, see :meth:`Admission.starving`; each waits on the node, the group
  commit and the one event loop, so beyond what the batcher needs more only adds latency);
- the backlog: the requests accepted and not final yet, at the rate the batcher makes requests
  final (measured over the last ``drain_window_s``), drain within ``max_backlog_s``.

Beyond either the answer is 503 ``Overloaded`` at once, with when to come back: about one
second for a full intake, or the time the backlog needs to drain back under its limit, spread
at random over half to one and a half times that, so that the wallets refused in the same
second do not all come back in the same second (a herd, refused again together). HTTP's
Retry-After is whole seconds, so the spread hint is ``args.retry_after_ms``, which the SDK
and the benchmark client follow; ``args.retry_after`` (and the header) is it rounded up, for
any other client. Nothing is stored for a refused request, so sending it again is safe.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable

from gateway.errors import GatewayError
from gateway.relayer.concurrency import AdaptiveLimit
from gateway.settings import Settings

__all__ = ["Admission", "DrainRate"]

# A client told to come back later than this would rather see an error than wait.
_MAX_RETRY_AFTER_S = 30


class DrainRate:
    """Requests made final per second over a sliding window of one-second buckets; ``floor``
    until enough is measured (a fresh start, or a chain that has not mined yet)."""

    def __init__(self, window_s: float, floor: float) -> None:
        self.window_s = max(1.0, window_s)
        self.floor = floor
        self._buckets: deque[list[int]] = deque()  # [whole second, requests made final]
        self._total = 0
        self._since: float | None = None  # first final seen (the window's start until full)

    def record(self, finished: int, now: float) -> None:
        if finished <= 0:
            return
        second = int(now)
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += finished
        else:
            self._buckets.append([second, finished])
        self._total += finished
        if self._since is None:
            self._since = now
        self._prune(now)

    def per_s(self, now: float) -> float:
        self._prune(now)
        if self._since is None:
            return self.floor
        # Finals arrive a block at a time: over less than a few blocks the rate is noise.
        span = min(self.window_s, max(now - self._since, 2.0))
        return max(self.floor, self._total / span)

    def _prune(self, now: float) -> None:
        oldest = now - self.window_s
        while self._buckets and self._buckets[0][0] < oldest:
            self._total -= self._buckets.popleft()[1]


class Admission:
    """The gate in front of the intake; ``backlog`` counts requests accepted and not final."""

    def __init__(
        self, settings: Settings, backlog: Callable[[], int], *, seed: int | None = None
    ) -> None:
        self.limit = AdaptiveLimit(
            target_s=settings.intake_target_ms / 1000,
            floor=min(settings.intake_min_in_flight, settings.intake_max_in_flight),
            ceiling=settings.intake_max_in_flight,
        )
        self.max_backlog_s = settings.max_backlog_s
        self.drain = DrainRate(settings.drain_window_s, settings.min_drain_per_s)
        self.backlog = backlog
        self.in_flight = 0
        self.refused: dict[str, int] = {"intake_full": 0, "backlog": 0}
        self._jitter = random.Random(seed)

    def enter(self, now: float | None = None) -> None:
        """Takes an intake slot, or raises ``Overloaded``; pair with :meth:`leave`."""
        refusal = self.refusal(now)
        if refusal is not None:
            raise refusal
        self.in_flight += 1
        self.limit.entered(self.in_flight)

    def refusal(self, now: float | None = None) -> GatewayError | None:
        """The ``Overloaded`` answer a submission would get now, or None to let it in (a
        check only: the HTTP face sheds with it before even routing the request)."""
        if self.in_flight >= self.limit.limit:
            detail = f"{self.in_flight} submissions are being checked"
            return self._refuse("intake_full", 1.0, detail)
        at = time.monotonic() if now is None else now
        rate = self.drain.per_s(at)
        excess = self.backlog() - rate * self.max_backlog_s
        if excess >= 0:
            detail = f"the backlog takes over {self.max_backlog_s:g} s"
            return self._refuse("backlog", (excess + 1) / rate, detail)
        return None

    def leave(self, accepted_in_s: float | None = None, now: float | None = None) -> None:
        """Gives the slot back; ``accepted_in_s``: the submission was accepted (newly stored)
        in that many seconds from its slot, which the adaptive limit learns from."""
        self.in_flight -= 1
        if accepted_in_s is not None:
            at = time.monotonic() if now is None else now
            self.limit.sample(accepted_in_s, at, starving=self.starving(at))

    def starving(self, now: float) -> bool:
        """Whether the batcher is short of work: its backlog under half of what is allowed
        (then the intake's concurrency is what keeps the capacity, not what costs latency)."""
        return self.backlog() < 0.5 * self.max_backlog_s * self.drain.per_s(now)

    def finished(self, requests: int, now: float | None = None) -> None:
        """The batcher made `requests` final (succeeded or failed)."""
        self.drain.record(requests, time.monotonic() if now is None else now)

    def _refuse(self, reason: str, wait_s: float, detail: str) -> GatewayError:
        self.refused[reason] += 1
        # At least a second's worth, spread: a shorter wait brings the herd back sooner.
        spread = max(1.0, wait_s) * self._jitter.uniform(0.5, 1.5)
        retry_after_ms = min(_MAX_RETRY_AFTER_S * 1000, round(spread * 1000))
        retry_after = math.ceil(retry_after_ms / 1000)
        return GatewayError(
            "Overloaded",
            f"the relayer is saturated ({detail}): retry after {retry_after_ms / 1000:g} s",
            {"reason": reason, "retry_after": retry_after, "retry_after_ms": retry_after_ms},
        )
