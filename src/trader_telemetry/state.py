"""The in-memory state behind the scrape-time (observable) instruments.

Recording calls write here: plain attribute stores and dict increments, O(1), no OTel call.
Observable callbacks read it when Prometheus scrapes, so ages and staleness are computed then,
not on every tick.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from collections.abc import Iterator
from typing import Final, Protocol, TypeVar

from .cycle_count import Tally

__all__ = ["AccountSnapshot", "RecordedState", "RunningCycle"]

CounterKey = tuple[str, ...]
K = TypeVar("K", str, CounterKey)


class RunningCycle(Protocol):
    """What the state reads of a running cycle (a :class:`~trader_telemetry.cycle.Cycle`; the
    cycle module imports this one, not the other way round)."""

    @property
    def start(self) -> float:
        """Monotonic start time."""
        ...


# The two classes below are plain slotted classes, not dataclasses: creating a dataclass's
# generated methods at import costs more than the rest of this module (docs/performance.md).


class AccountSnapshot:
    """The latest accepted account values; replaced whole on each update (readers never see a
    half-written snapshot), never changed in place."""

    __slots__ = (
        "equity",
        "funding_pnl",
        "realized_pnl",
        "recorded_monotonic",
        "recorded_wall",
        "total_pnl",
        "unrealized_pnl",
    )

    def __init__(
        self,
        *,
        equity: float | None = None,
        realized_pnl: float | None = None,
        unrealized_pnl: float | None = None,
        funding_pnl: float | None = None,
        total_pnl: float | None = None,
        recorded_monotonic: float | None = None,
        recorded_wall: float | None = None,
    ) -> None:
        self.equity: Final = equity
        self.realized_pnl: Final = realized_pnl
        self.unrealized_pnl: Final = unrealized_pnl
        self.funding_pnl: Final = funding_pnl
        self.total_pnl: Final = total_pnl
        self.recorded_monotonic: Final = recorded_monotonic
        self.recorded_wall: Final = recorded_wall

    @property
    def total(self) -> float | None:
        """``total_pnl`` when given, else the sum of the parts that are known (None when that
        sum of finite parts overflows a float)."""
        if self.total_pnl is not None:
            return self.total_pnl
        parts = [
            p for p in (self.realized_pnl, self.unrealized_pnl, self.funding_pnl) if p is not None
        ]
        if not parts:
            return None
        total = sum(parts)
        return total if math.isfinite(total) else None

    @property
    def total_overflows(self) -> bool:
        """True when the parts are finite but their sum is not."""
        if self.total_pnl is not None:
            return False
        parts = [
            p for p in (self.realized_pnl, self.unrealized_pnl, self.funding_pnl) if p is not None
        ]
        return bool(parts) and not math.isfinite(sum(parts))


class RecordedState:
    """Everything recorded so far. Compound updates take ``lock``; single stores and counts
    do not.

    The bot may record from a signal handler, which runs on the main thread between two of
    its bytecodes, possibly while that same thread is inside a recording call. So nothing here
    waits for a lock the interrupted code may hold: counts are lock-free (:meth:`bump`), and
    ``lock`` is re-entrant and only ever taken with ``with`` (no gap between acquiring it and
    the ``try`` that releases it, where a KeyboardInterrupt would leave it held for good).
    """

    __slots__ = (
        "account",
        "breaker_reason",
        "breaker_triggered",
        "breaker_trips",
        "cycle_errors",
        "daily_loss",
        "daily_loss_limit",
        "dropped_events",
        "dropped_spans",
        "error_cycles",
        "exposure",
        "fills",
        "gauges",
        "kept_traces",
        "last_cycle_end",
        "last_cycle_seconds",
        "lock",
        "mark_prices",
        "marks",
        "numbers",
        "ok_cycles",
        "orders",
        "rejections",
        "running",
        "stale_marks",
        "started_monotonic",
        "ws_reconnect_times",
        "ws_reconnects",
    )

    def __init__(self, started_monotonic: float) -> None:
        self.started_monotonic = started_monotonic
        self.lock = threading.RLock()
        #: Cycle numbers, 1, 2, ...: ``next()`` on it is atomic.
        self.numbers: Final[Iterator[int]] = itertools.count(1)
        self.account = AccountSnapshot()
        self.exposure: dict[str, float] = {}
        #: symbol -> monotonic time of its last mark: the whole tick path is one store here.
        self.marks: dict[str, float] = {}
        self.mark_prices: dict[str, float] = {}
        #: Cycles completed without an exception: counted once per cycle, so without a lock.
        self.ok_cycles: Final = Tally()
        self.error_cycles = 0
        self.cycle_errors: dict[str, int] = {}
        self.last_cycle_seconds: float | None = None
        self.last_cycle_end: float | None = None
        #: cycle number -> the cycle (its ``start`` is monotonic), for every cycle still running.
        self.running: dict[int, RunningCycle] = {}
        self.daily_loss: float | None = None
        self.daily_loss_limit: float | None = None
        self.breaker_triggered = False
        self.breaker_reason: str | None = None
        self.breaker_trips: dict[str, int] = {}
        self.ws_reconnects: dict[str, int] = {}
        #: Monotonic times of the latest reconnects (what the websocket health check counts).
        self.ws_reconnect_times: deque[float] = deque(maxlen=1024)
        self.stale_marks: dict[str, int] = {}
        self.orders: dict[CounterKey, int] = {}
        self.fills: dict[CounterKey, int] = {}
        self.rejections: dict[CounterKey, int] = {}
        #: Tracing: kept cycle traces by reason, spans dropped by the tail sampler's caps.
        self.kept_traces: dict[str, int] = {}
        #: Events lost before reaching events.jsonl, by reason.
        self.dropped_events: dict[str, int] = {}
        self.dropped_spans: dict[str, int] = {}
        #: Plain gauges without a field of their own, by catalogue row name (a row reads one
        #: with ``read="gauges.<its name>"``; its recording call stores it with
        #: ``Recorder._record_gauge``).
        self.gauges: dict[str, float] = {}

    def bump(self, counter: dict[K, int], key: K) -> None:
        """Add one to ``counter[key]`` (thread-safe, lock-free: see :meth:`add`)."""
        try:
            counter[key] += 1
        except KeyError:
            counter[key] = 1

    @staticmethod
    def add(counter: dict[K, int], key: K, amount: int) -> None:
        """Add ``amount`` to ``counter[key]`` (thread-safe, lock-free).

        ``counter[key] += amount`` on a dict with str (or tuple of str) keys runs no Python
        code and reaches no point where CPython switches threads or runs a signal handler, so
        under the GIL it is atomic, like the ``deque.append`` behind :class:`Tally`. A first
        count takes the ``KeyError`` path, equally free of such points. No lock: a signal
        handler that counts never waits for the thread it interrupted.
        """
        try:
            counter[key] += amount
        except KeyError:
            counter[key] = amount

    def cycle_counts(self) -> dict[str, int]:
        """Completed cycles by outcome."""
        return {"ok": self.ok_cycles.value, "error": self.error_cycles}

    def oldest_running_start(self) -> float | None:
        """Monotonic start of the oldest cycle still running, or None when idle."""
        cycles = self.running.copy().values()  # dict.copy is atomic: safe against the loop thread
        return min(cycle.start for cycle in cycles) if cycles else None

    def staleness(self, now: float) -> dict[str, float]:
        """Seconds since the last mark, per symbol."""
        return {symbol: max(0.0, now - at) for symbol, at in self.marks.copy().items()}
