"""Admission control's arithmetic, on the real Admission object with a clock passed in: the
adaptive intake limit (gateway.relayer.concurrency) and the spread Retry-After hints. The same
over real HTTP and a real chain is in test_overload.py."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from gateway.errors import GatewayError
from gateway.http.problems import retry_after_s
from gateway.relayer.admission import Admission
from gateway.relayer.concurrency import AdaptiveLimit
from gateway.settings import Settings


def admission(backlog: int = 3, **settings: float) -> Admission:
    """An admission whose batcher is taken to drain 1 request/s (nothing measured yet) with
    ``backlog`` requests waiting: 3 is well stocked (over half the 5 s allowed, under it)."""
    settings.setdefault("min_drain_per_s", 1)
    return Admission(Settings(**settings), lambda: backlog, seed=17)  # type: ignore[arg-type]


def run_windows(gate: Admission, windows: int, seconds_each: float, start: float) -> float:
    """Fills the intake to its limit, then lets every submission in it be accepted after
    ``seconds_each``; one window of samples per round. Returns the clock after."""
    now = start
    for _ in range(windows):
        entered = 0
        while gate.refusal(now) is None:
            gate.enter(now)
            entered += 1
        now += max(seconds_each, gate.limit.window_s)
        for _ in range(entered):
            gate.leave(seconds_each, now)
    return now


def test_slow_submissions_shrink_the_limit_and_the_excess_is_refused_at_once() -> None:
    """Replays the overload the fixed limit queued: 64 let in at a time, each took ~250 ms
    (the event loop's queue, not their work). The limit falls toward what meets the target,
    and the 65th is no longer the first refused: the 9th is, at once, with no work done."""
    gate = admission(intake_max_in_flight=64, intake_min_in_flight=8, intake_target_ms=50)
    assert gate.limit.limit == 64
    now = run_windows(gate, 2, 0.25, start=1000.0)  # a window: from the first sample on
    assert gate.limit.limit < 64
    run_windows(gate, 10, 0.25, start=now)
    assert gate.limit.limit == 8  # the floor: a slow machine still takes what it can
    for _ in range(8):
        gate.enter()
    before = gate.refused["intake_full"]
    refused = gate.refusal()
    assert isinstance(refused, GatewayError)
    assert refused.code == "Overloaded"
    assert refused.arguments["reason"] == "intake_full"
    with pytest.raises(GatewayError):
        gate.enter()
    assert gate.in_flight == 8
    assert gate.refused["intake_full"] == before + 2


def test_the_limit_grows_back_when_submissions_are_fast_and_it_holds_the_door() -> None:
    gate = admission(intake_max_in_flight=64, intake_min_in_flight=8, intake_target_ms=50)
    now = run_windows(gate, 10, 0.25, start=1000.0)
    assert gate.limit.limit == 8
    previous = gate.limit.limit
    for _ in range(30):
        now = run_windows(gate, 1, 0.01, start=now)
        assert gate.limit.limit >= previous
        previous = gate.limit.limit
    assert gate.limit.limit == 64  # the ceiling


def test_a_slow_intake_is_not_cut_while_the_batcher_is_short_of_work() -> None:
    """Replays bench_relay at 12 x its capacity on a loaded machine: every submission took
    ~250 ms (the loop busy refusing the flood, not a queue of ours), the limit fell to 10,
    the intake accepted 40/s (Little's law), the batcher got 5 requests a batch and the
    capacity fell from ~105/s to 41/s. With the batcher short of work, slow windows no longer
    shrink the limit, and full ones grow it."""
    starved = admission(backlog=0, intake_max_in_flight=64, intake_min_in_flight=8)
    run_windows(starved, 10, 0.25, start=1000.0)
    assert starved.limit.limit == 64
    starved.limit.value = 10.0
    run_windows(starved, 10, 0.25, start=2000.0)
    assert starved.limit.limit == 64  # grown back: it was full every window
    stocked = admission(backlog=3, intake_max_in_flight=64, intake_min_in_flight=8)
    run_windows(stocked, 10, 0.25, start=1000.0)
    assert stocked.limit.limit == 8  # the same times, a batcher with work: the queue is ours
    assert not stocked.starving(1000.0)
    assert starved.starving(1000.0)


def test_the_limit_does_not_grow_on_demand_it_never_saw() -> None:
    """Fast answers with the intake far from full say nothing about a larger limit: grown on
    them, the limit would be back at the ceiling when the next overload starts."""
    limit = AdaptiveLimit(target_s=0.05, floor=4, ceiling=64)
    limit.value = 16.0
    now = 0.0
    for _ in range(200):
        limit.entered(2)
        now += 0.05
        limit.sample(0.01, now)
    assert limit.limit == 16


def test_a_slow_window_shrinks_at_most_by_half_per_window_and_never_below_the_floor() -> None:
    limit = AdaptiveLimit(target_s=0.05, floor=4, ceiling=64, smoothing=1.0)
    now = 0.0
    for _ in range(8):
        limit.entered(64)
        limit.sample(10.0, now)
    now += 1.0
    limit.sample(10.0, now)
    assert limit.limit == 32
    for _ in range(20):
        for _ in range(8):
            now += 0.1
            limit.sample(10.0, now)
    assert limit.limit == 4
    with pytest.raises(ValueError, match="floor"):
        AdaptiveLimit(target_s=0.05, floor=8, ceiling=4)


def test_refusals_spread_the_wallets_they_send_back() -> None:
    """Every intake_full refusal used to say 1 s: thousands of wallets refused in one second
    came back in the same second and were refused together again. The hint is now spread over
    0.5-1.5 s in ms (``retry_after_ms``); Retry-After stays valid, the hint rounded up."""
    gate = admission(intake_max_in_flight=1, intake_min_in_flight=1)
    gate.enter()
    hints: list[int] = []
    for _ in range(2000):
        refused = gate.refusal()
        assert refused is not None
        ms = refused.arguments["retry_after_ms"]
        assert isinstance(ms, int)
        assert 500 <= ms <= 1500
        assert refused.arguments["retry_after"] == retry_after_s(refused) == math.ceil(ms / 1000)
        hints.append(ms)
    buckets = Counter(ms // 100 for ms in hints)  # 100 ms slots the wallets come back in
    assert len(buckets) >= 10
    assert max(buckets.values()) < 0.15 * len(hints)  # was: every one of them in one slot


def test_backlog_refusals_are_spread_around_the_drain_time() -> None:
    gate = Admission(
        Settings(max_backlog_s=1, min_drain_per_s=10, drain_window_s=10),  # type: ignore[arg-type]
        lambda: 40,  # 30 over the limit, draining 10/s: ~3 s
        seed=3,
    )
    hints = []
    for _ in range(200):
        refused = gate.refusal(now=5.0)
        assert refused is not None
        assert refused.arguments["reason"] == "backlog"
        hints.append(int(str(refused.arguments["retry_after_ms"])))
    assert 1550 <= min(hints) < 2000
    assert 4000 < max(hints) <= 4650
