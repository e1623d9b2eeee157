"""The one place that reads the clock: a monotonic stopwatch, bounded polling, sample statistics."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

#: time.perf_counter is monotonic and the finest clock Python has.
clock = time.perf_counter

#: Pause between two polls of a manager's own API. Short, so a figure is at most a poll late, but
#: not zero: a tight loop would steal the single-threaded daemons' CPU on a 2-core machine.
POLL_INTERVAL = 0.001


class BenchError(Exception):
    """A measurement that could not be made (a peer misbehaved or a bounded wait ran out)."""


def poll_until(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = POLL_INTERVAL,
) -> tuple[float, T]:
    """Call `check` until it returns something truthy; return (clock() when seen, that value).

    Bounded: after `timeout` seconds it raises BenchError naming `what` and the last answer.
    Exceptions from `check` count as "not yet" (a daemon still starting refuses connections).
    """
    deadline = clock() + timeout
    last: object = None
    while True:
        try:
            value = check()
        except Exception as exc:  # the peer is not answering yet
            value, last = None, exc
        now = clock()
        if value:
            return now, value
        if value is not None:
            last = value
        if now > deadline:
            raise BenchError(f"{what}: not seen within {timeout:g} s (last answer: {last!r})")
        time.sleep(interval)


@dataclass
class Samples:
    """Seconds (or any unit) measured R times; summarised as median and min–max."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    def __bool__(self) -> bool:
        return bool(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


#: Calls before a closed loop's clock starts (connection set-up, first-call paths).
WARMUP_CALLS = 50


def closed_loop(call: Callable[[], object], seconds: float, warmup: int = WARMUP_CALLS) -> float:
    """Call `call` again as soon as it returns, for `seconds` after `warmup` untimed calls;
    return calls per second. bench/peers/icegrid_state_calls.py repeats this loop (it runs
    under another interpreter): keep the two alike."""
    for _ in range(warmup):
        call()
    calls = 0
    start = clock()
    end = start + seconds
    while True:
        call()
        calls += 1
        now = clock()
        if now >= end:
            return calls / (now - start)


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """Run `action`; return (seconds it took, its result)."""
    start = clock()
    result = action()
    return clock() - start, result
