"""An adaptive limit on the submissions the intake checks at once, aimed at a target latency.

A fixed limit of 64 was far more than the work needs: at ~255 accepted/s and ~40 ms of work
a submission, ~10 are busy at once (Little's law); the other slots only held requests waiting
on the one event loop, and the acceptance p99 (~400 ms under overload) was mostly that queue.
This is a gradient limit in the manner of Netflix's concurrency-limits (Gradient2) and TCP
Vegas, against an absolute target instead of a measured no-load time (a submission's floor
time moves with the node's and the machine's load): every window of accepted submissions,

- slower than the target (the window's ``quantile`` of times): the limit shrinks in
  proportion, ``limit * target / measured`` (at most halved per window), so the excess is
  refused at once, cheaply, instead of queued;
- within the target, and the limit was what held the door (the window saw it nearly full):
  it grows by its square root, the room a queue of that size may take (Gradient2's);
- within the target and never nearly full: nothing was learnt, it stays.

Each window's new value is smoothed into the limit, within ``[floor, ceiling]`` (the
ceiling is the old fixed limit).

One exception: while the batcher is short of work (``starving``: its backlog under half of
what admission control allows), a slow window does not shrink the limit, and a window that
found it nearly full doubles it (smoothed: x1.5 a window). Shrinking is for a queue we hold
to no purpose; when the latency is the machine's or the node's (a loaded machine, the loop
busy refusing a flood), a smaller limit only accepts less, the batcher drains less, and the
capacity falls. Measured (bench_relay, 12 x overload on a loaded machine): without this rule
the limit went to 10 at ~250 ms a submission (Little's law: 40/s accepted), batches shrank
to 5 requests and the capacity fell from ~105/s to 41/s. Tried before and dropped: a floor
from the drain rate (fed by what the limit lets in, as circular), and one from the measured
time (it fed on itself: more slots, the loop held longer, longer times, more slots).

Known limit: "short of work" cannot tell a slow node from a busy gateway. At twice the
capacity with the gateway's own CPU the bottleneck (bench_relay --overload, loaded machine)
the backlog stayed under half its limit, so the limit stayed at the ceiling and acceptance
kept the fixed limit's p99 (589 ms); full collections took 76 ms on average there (18 in
60 s) and 68 of 894 50 ms ticks fired over 50 ms late. The loop's own lag
(gateway.observability.loop_metrics) would separate the two: shrink on a late loop, hold on
a slow node.
"""

from __future__ import annotations

import math

__all__ = ["AdaptiveLimit"]


class AdaptiveLimit:
    def __init__(
        self,
        *,
        target_s: float,
        floor: int,
        ceiling: int,
        window_s: float = 0.25,
        min_samples: int = 8,
        quantile: float = 0.9,
        smoothing: float = 0.5,
    ) -> None:
        if not 1 <= floor <= ceiling:
            raise ValueError(f"need 1 <= floor ({floor}) <= ceiling ({ceiling})")
        self.target_s = target_s
        self.floor = floor
        self.ceiling = ceiling
        self.window_s = window_s
        self.min_samples = min_samples
        self.quantile = quantile
        self.smoothing = smoothing
        # A fresh start admits as many as the fixed limit did: the first windows measure.
        self.value = float(ceiling)
        self._samples: list[float] = []
        self._window_start: float | None = None
        self._peak_in_flight = 0  # the most submissions in at once during the window

    @property
    def limit(self) -> int:
        return int(self.value)

    def entered(self, in_flight: int) -> None:
        """A submission took a slot; ``in_flight`` counts it."""
        self._peak_in_flight = max(self._peak_in_flight, in_flight)

    def sample(self, seconds: float, now: float, *, starving: bool = False) -> None:
        """An accepted submission took ``seconds`` from its slot to its answer (refusals and
        repeats are quick and say nothing about the queue: they are not samples);
        ``starving``: the batcher is short of work now."""
        if self._window_start is None:
            self._window_start = now
        self._samples.append(seconds)
        if len(self._samples) >= self.min_samples and now - self._window_start >= self.window_s:
            self._update(starving)
            self._samples = []
            self._window_start = now
            self._peak_in_flight = 0

    def _update(self, starving: bool) -> None:
        ordered = sorted(self._samples)
        measured = ordered[min(len(ordered) - 1, int(self.quantile * len(ordered)))]
        full = self._peak_in_flight >= 0.8 * self.value
        if measured > self.target_s and not starving:
            proposed = self.value * max(0.5, self.target_s / measured)
        elif full and starving:  # the capacity is at stake: double, as a slow start does
            proposed = 2 * self.value
        elif full:
            proposed = self.value + math.sqrt(self.value)
        else:
            return
        value = (1 - self.smoothing) * self.value + self.smoothing * proposed
        self.value = min(float(self.ceiling), max(float(self.floor), value))
