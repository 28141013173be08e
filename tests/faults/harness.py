"""The bot loop every fault case runs, and the books it keeps.

The bot is the demo's :class:`~trader_telemetry.simulation.SimulatedBot` (marks, account, risk
guard, circuit breaker, orders, fills, rejections, reconnects, stale marks, and exchange errors
on a fixed schedule). It records through a :class:`LedgerTelemetry`: a thin pass-through to the
real ``Telemetry`` that writes down every recording call the bot makes, so a case can compare
what the bot recorded with what the metrics and ``events.jsonl`` show. Its ``cycle_timer()``
hands out :class:`SpyTimer`, which notes the exception object on its way *into* the library's
``__exit__``; the loop catches it on the way *out* and checks it is the same object.
"""

from __future__ import annotations

import math
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, cast

import trader_telemetry as tt
from trader_telemetry.cycle import Cycle, CycleTimer
from trader_telemetry.simulation import SimulatedBot

__all__ = [
    "BackgroundLoop",
    "Ledger",
    "LedgerTelemetry",
    "LoopStats",
    "SpyTimer",
    "TimedSleep",
    "inject",
    "innermost_frame",
    "ledger_of",
    "make_bot",
    "measured",
    "run_loop",
    "silence_health",
]

NEVER = 10**9  # a schedule slot that never comes


def innermost_frame(tb: TracebackType | None) -> object:
    """The frame an exception was raised in (the innermost entry of its traceback)."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return None if tb is None else tb.tb_frame


class Ledger:
    """What the bot asked the library to record, and the exceptions it raised in cycles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        #: Recording calls by kind: ``orders``, ``fills``, ``cycles_ok``, ``cycles_error`` ...
        self.calls: Counter[str] = Counter()
        #: Events the library must append to ``events.jsonl``, by ``event_type``.
        self.events: Counter[str] = Counter()
        self.breaker = False

    def add(self, kind: str, event: str | None = None) -> None:
        with self._lock:
            self.calls[kind] += 1
            if event is not None:
                self.events[event] += 1

    def note_exit(self, exc: BaseException | None) -> None:
        """A cycle ended; ``exc`` is the object the bot raised, as the library received it
        (kept with the frame it was raised in, to check the traceback later)."""
        self._local.inside = exc
        self._local.frame = None if exc is None else innermost_frame(exc.__traceback__)
        if exc is None:
            self.add("cycles_ok", "cycle")
        elif isinstance(exc, Exception):
            self.add("cycles_error", "cycle")
        else:
            self.add("cycles_interrupted")  # no ``cycle`` event: not a completed cycle

    def take_inside(self) -> tuple[BaseException | None, object]:
        """The exception the last cycle of this thread ended with and the frame it was raised
        in (then forgotten)."""
        inside: BaseException | None = getattr(self._local, "inside", None)
        frame = getattr(self._local, "frame", None)
        self._local.inside = self._local.frame = None
        return inside, frame


class SpyTimer:
    """One use of the real timer; notes what went into its ``__exit__``.

    The real :class:`CycleTimer` runs unchanged: this only looks at the exception first.
    """

    def __init__(self, real: CycleTimer, ledger: Ledger) -> None:
        self._real = real
        self._ledger = ledger

    def __enter__(self) -> Cycle:
        return self._real.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        self._ledger.note_exit(exc)
        # The real answer is passed on: a timer that swallowed would show as such in run_loop.
        return self._real.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Cycle:
        return await self._real.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        self._ledger.note_exit(exc)
        return await self._real.__aexit__(exc_type, exc, tb)


def _side(side: object) -> bool:
    return isinstance(side, str) and side.strip().lower() in ("buy", "sell")


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class LedgerTelemetry:
    """The real ``Telemetry`` with a ledger of every recording call the bot makes.

    Only the calls the demo bot makes are written down; everything else passes through. The
    ``events`` column follows docs/events.md: which calls append a line to ``events.jsonl``.
    """

    def __init__(self, real: tt.Telemetry, ledger: Ledger | None = None) -> None:
        self.real = real
        self.ledger = ledger if ledger is not None else Ledger()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def cycle_timer(self) -> SpyTimer:
        return SpyTimer(self.real.cycle_timer(), self.ledger)

    def record_order(self, symbol: str, side: str) -> None:
        good = _side(side)
        self.ledger.add("orders" if good else "orders_bad_side", "order" if good else None)
        self.real.record_order(symbol, side)

    def record_fill(self, symbol: str, side: str, **fields: float | None) -> None:
        good = _side(side) and all(
            v is None or (_finite(v) and (k not in ("quantity", "price") or v >= 0))
            for k, v in fields.items()
        )
        self.ledger.add("fills" if good else "fills_rejected", "fill" if good else None)
        self.real.record_fill(symbol, side, **fields)

    def record_rejection(self, symbol: str, reason: str) -> None:
        self.ledger.add("rejections", "rejection")
        self.real.record_rejection(symbol, reason)

    def record_stale_mark(self, symbol: str) -> None:
        self.ledger.add("stale_marks", "stale_mark")
        self.real.record_stale_mark(symbol)

    def record_ws_reconnect(self, stream: str = "default") -> None:
        self.ledger.add("ws_reconnects", "ws_reconnect")
        self.real.record_ws_reconnect(stream)

    def record_account(self, equity: float | None = None, **fields: float | None) -> None:
        given = [equity, *fields.values()]
        self.ledger.add("accounts", "account" if any(_finite(v) for v in given) else None)
        self.real.record_account(equity, **fields)

    def record_daily_loss(self, loss: float, limit: float | None = None) -> None:
        self.ledger.add("daily_losses", "daily_loss" if _finite(loss) else None)
        self.real.record_daily_loss(loss, limit)

    def set_circuit_breaker(self, triggered: bool, reason: str | None = None) -> None:
        changed = self.ledger.breaker != bool(triggered)
        self.ledger.breaker = bool(triggered)
        self.ledger.add("breaker_calls", "circuit_breaker" if changed else None)
        self.real.set_circuit_breaker(triggered, reason)

    def event(self, event_type: str, **fields: Any) -> None:
        self.ledger.add("bot_events", event_type)
        self.real.event(event_type, **fields)


class TimedSleep:
    """The bot's ``sleep``: really sleeps ``scale`` x the asked time and keeps, per thread,
    how long it slept, so a cycle's own cost can be told apart from its simulated I/O."""

    def __init__(self, scale: float = 0.1) -> None:
        self.scale = scale
        self._local = threading.local()

    def __call__(self, seconds: float) -> None:
        started = time.perf_counter()
        time.sleep(max(0.0, seconds * self.scale))
        self._local.slept = self.slept() + time.perf_counter() - started

    def slept(self) -> float:
        return float(getattr(self._local, "slept", 0.0))

    def reset(self) -> None:
        self._local.slept = 0.0


def http_get(url: str) -> tuple[int, bytes]:
    """Status and body of a GET on the bot's endpoint (an error status is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` every 20 ms until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def make_bot(
    telemetry: tt.Telemetry,
    *,
    seed: int = 7,
    sleep: Callable[[float], None] | None = None,
    error_every: int = 7,
    slow_every: int = NEVER,
    slow_seconds: float = 0.0,
    symbols: int = 3,
    ledger: Ledger | None = None,
) -> SimulatedBot:
    """The demo bot on ``telemetry`` (wrapped in a :class:`LedgerTelemetry`).

    ``error_every``: every n-th cycle raises one of the demo's exchange errors inside the cycle.
    ``sleep``: the bot's simulated I/O (default: a :class:`TimedSleep` at a tenth of the demo's
    waits, so a cycle takes 0.5-3 ms). Get the ledger back with ``ledger_of(bot)``; pass
    ``ledger`` to share one between bots.
    """
    bot = SimulatedBot(
        cast(tt.Telemetry, LedgerTelemetry(telemetry, ledger)),
        random.Random(seed),
        sleep if sleep is not None else TimedSleep(),
        slow_seconds,
        symbols=symbols,
        interval_hint=0.01,
    )
    bot.ERROR_EVERY = error_every  # instance overrides of the schedule
    bot.SLOW_EVERY = slow_every
    return bot


def inject(
    bot: SimulatedBot, fault: Callable[[int], None], before: Callable[[], None] | None = None
) -> None:
    """Run ``fault(n)`` inside every cycle ``n``, right after the bot's risk checks (and
    ``before()`` right before them): a fault that happens inside the bot's own code."""
    checks = bot._check_risk

    def poisoned(n: int) -> None:
        if before is not None:
            before()
        checks(n)
        fault(n)

    bot._check_risk = poisoned  # type: ignore[method-assign]


def ledger_of(bot: SimulatedBot) -> Ledger:
    return cast(LedgerTelemetry, bot.telemetry).ledger


def silence_health(telemetry: tt.Telemetry) -> None:
    """Unregister every health check: no ``health`` lines in ``events.jsonl``, so every line
    has a known origin in the ledger (used by the file cases)."""
    for name in telemetry.health.names:
        telemetry.health.unregister(name)


@dataclass
class LoopStats:
    """How a loop fared: cycles run, exceptions seen, and each cycle's own cost in seconds
    (wall time minus the bot's simulated sleeps)."""

    cycles: int = 0
    raised: int = 0
    unchanged: int = 0
    changed: list[str] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    escaped: list[BaseException] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def max_cost(self) -> float:
        return max(self.costs, default=0.0)

    @property
    def p99_cost(self) -> float:
        ordered = sorted(self.costs)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] if ordered else 0.0

    @property
    def exceptions_unchanged(self) -> bool:
        return not self.changed and self.unchanged == self.raised

    def merge(self, other: LoopStats) -> None:
        self.cycles += other.cycles
        self.raised += other.raised
        self.unchanged += other.unchanged
        self.changed += other.changed
        self.costs += other.costs
        self.escaped += other.escaped
        self.elapsed = max(self.elapsed, other.elapsed)


def run_loop(
    bot: SimulatedBot,
    *,
    cycles: int | None = None,
    seconds: float | None = None,
    stop: threading.Event | None = None,
    pause: float = 0.0,
    first: int = 1,
    stats: LoopStats | None = None,
) -> LoopStats:
    """Run the bot's cycles until ``cycles`` ran, ``seconds`` passed or ``stop`` is set.

    The bot's own exceptions (the demo's exchange errors) are caught here, as the demo's loop
    does, after checking each is the very object that entered the library's ``__exit__``
    with its traceback intact. BaseExceptions propagate (the interruption cases test them).
    """
    assert cycles is not None or seconds is not None or stop is not None
    stats = stats if stats is not None else LoopStats()
    ledger = ledger_of(bot)
    sleep = bot.sleep if isinstance(bot.sleep, TimedSleep) else None
    started = time.perf_counter()
    deadline = None if seconds is None else started + seconds
    n = first
    while True:
        if cycles is not None and stats.cycles >= cycles:
            break
        if deadline is not None and time.perf_counter() >= deadline:
            break
        if stop is not None and stop.is_set():
            break
        if sleep is not None:
            sleep.reset()
        began = time.perf_counter()
        try:
            bot.run_cycle(n)
        except Exception as outside:
            inside, frame = ledger.take_inside()
            stats.raised += 1
            if inside is outside and innermost_frame(outside.__traceback__) is frame:
                stats.unchanged += 1
            else:
                stats.changed.append(f"cycle {n}: {outside!r} came out, {inside!r} went in")
        else:
            if (inside := ledger.take_inside()[0]) is not None:
                stats.changed.append(f"cycle {n}: {inside!r} was swallowed")
        stats.costs.append(time.perf_counter() - began - (sleep.slept() if sleep else 0.0))
        stats.cycles += 1
        n += 1
        if pause > 0:
            time.sleep(pause)
    stats.elapsed = time.perf_counter() - started
    return stats


class BackgroundLoop:
    """Run the bot's loop on a thread while the test injects a fault from the main thread.

    A library exception escaping the loop (which must never happen) ends it and is kept in
    ``stats.escaped``.
    """

    def __init__(self, bot: SimulatedBot, *, pause: float = 0.001, max_seconds: float = 30.0):
        self.bot = bot
        self.pause = pause
        self.max_seconds = max_seconds
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-bot-loop", daemon=True)

    def _run(self) -> None:
        try:
            run_loop(
                self.bot,
                seconds=self.max_seconds,
                stop=self._stop,
                pause=self.pause,
                stats=self.stats,
            )
        except BaseException as exc:
            self.stats.escaped.append(exc)

    def __enter__(self) -> BackgroundLoop:
        self._thread.start()
        return self

    def wait_cycles(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until the loop has run ``count`` more cycles than now."""
        target = self.stats.cycles + count
        deadline = time.monotonic() + timeout
        while self.stats.cycles < target and time.monotonic() < deadline:
            if not self._thread.is_alive():
                return False
            time.sleep(0.005)
        return self.stats.cycles >= target

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10.0)


@contextmanager
def measured() -> Iterator[list[float]]:
    """``with measured() as took:`` then ``took[0]`` is the block's wall time in seconds."""
    took: list[float] = []
    started = time.perf_counter()
    try:
        yield took
    finally:
        took.append(time.perf_counter() - started)
