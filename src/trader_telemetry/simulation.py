"""A simulated trading bot that exercises every core metric: the demo, the tests and the
benchmarks run it.

Random-walk marks for a few perpetuals, positions and PnL, a daily-loss guard that trips the
circuit breaker on a scripted market shock, occasional exchange errors, slow cycles, websocket
reconnects and stale marks. Events happen on a fixed schedule (so a short run shows all of them);
the seed drives the magnitudes. ``trader-telemetry demo`` serves it
(:mod:`trader_telemetry.cli.demo`).
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cycle import Cycle
from .telemetry import Telemetry

__all__ = [
    "DAILY_LOSS_LIMIT",
    "START_EQUITY",
    "SYMBOLS",
    "ExchangeTimeoutError",
    "RateLimitError",
    "SimulatedBot",
    "SimulatedExchangeError",
    "cycle_summary",
    "run_demo",
    "symbol_universe",
]

SYMBOLS: dict[str, float] = {"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0, "SOL-PERP": 180.0}


def symbol_universe(count: int, rng: random.Random) -> dict[str, float]:
    """The three majors, then ``SYM004-PERP``... with random prices, ``count`` in all."""
    universe = dict(list(SYMBOLS.items())[:count])
    for i in range(len(universe), count):
        universe[f"SYM{i + 1:03d}-PERP"] = round(rng.uniform(1.0, 1_000.0), 2)
    return universe


START_EQUITY = 100_000.0
DAILY_LOSS_LIMIT = 1_500.0


class SimulatedExchangeError(Exception):
    """Base of the demo's injected failures."""


class ExchangeTimeoutError(SimulatedExchangeError):
    """The simulated exchange did not answer in time."""


class RateLimitError(SimulatedExchangeError):
    """The simulated exchange refused the request (HTTP 429)."""


@dataclass
class _Position:
    quantity: float = 0.0
    entry: float = 0.0


@dataclass
class SimulatedBot:
    """A toy perpetuals bot. ``sleep`` is ``time.sleep`` for real runs and a fake clock's
    ``advance`` in tests, so slow cycles cost no wall time there."""

    telemetry: Telemetry
    rng: random.Random
    sleep: Callable[[float], None] = time.sleep
    slow_cycle_seconds: float = 3.5
    symbols: int = len(SYMBOLS)
    marks: dict[str, float] = field(default_factory=dict)
    positions: dict[str, _Position] = field(default_factory=dict)
    #: Seconds each completed cycle took, kept when ``keep_durations`` (``--summary``).
    durations: list[float] = field(default_factory=list)
    keep_durations: bool = False
    last_cycle: Cycle | None = None
    #: order number -> monotonic submit time, for orders still waiting for a fill.
    open_orders: dict[int, float] = field(default_factory=dict)
    orders_sent: int = 0
    interval_hint: float = 2.0

    # Every UNFILLED_EVERY-th order rests on the book for UNFILLED_CYCLES cycles before filling,
    # so the stale-fills health check has something to see.
    UNFILLED_EVERY = 40
    UNFILLED_CYCLES = 20
    realized: float = 0.0
    funding: float = 0.0
    day_start_equity: float = START_EQUITY
    breaker_until: int = 0

    # Fixed schedule (cycle number modulo) so that any run of 60 cycles shows every behaviour.
    STALE_EVERY = 15
    RECONNECT_EVERY = 20
    ERROR_EVERY = 25
    SLOW_EVERY = 30
    SHOCK_EVERY = 45
    BREAKER_CYCLES = 8

    def __post_init__(self) -> None:
        self.marks = symbol_universe(self.symbols, self.rng)
        self.positions = {s: _Position() for s in self.marks}

    def open_order_ages(self) -> list[float]:
        """Seconds each open order has waited (what ``StaleFillsHealthCheck`` reads)."""
        now = self.telemetry.clock.monotonic()
        return [now - at for at in self.open_orders.values()]

    def equity(self) -> float:
        return START_EQUITY + self.realized + self.funding + self.unrealized()

    def unrealized(self) -> float:
        return sum(p.quantity * (self.marks[s] - p.entry) for s, p in self.positions.items())

    def run_cycle(self, n: int) -> None:
        """One control-loop cycle; raises a :class:`SimulatedExchangeError` on error cycles."""
        t = self.telemetry
        with t.cycle_timer() as cycle:
            self.last_cycle = cycle
            with cycle.phase("fetch_marks"):
                self.sleep(self.rng.uniform(0.005, 0.03))
                self._move_marks(shock=n % self.SHOCK_EVERY == 0)
                stale = (
                    list(self.marks)[(n // self.STALE_EVERY) % min(3, len(self.marks))]
                    if n % self.STALE_EVERY == 0
                    else None
                )
                t.record_marks({s: p for s, p in self.marks.items() if s != stale})
                if stale is not None:
                    t.record_stale_mark(stale)
            if n % self.RECONNECT_EVERY == 0:
                t.record_ws_reconnect("marks")
            with cycle.phase("risk_checks"):
                self._check_risk(n)
            if n % self.ERROR_EVERY == 0:
                error = ExchangeTimeoutError if (n // self.ERROR_EVERY) % 2 else RateLimitError
                raise error(f"simulated failure in cycle {n}")
            if self.breaker_until < n:
                with cycle.phase("place_orders"):
                    self._trade()
            if n % self.SLOW_EVERY == 0:
                with cycle.phase("reconcile"):
                    self.sleep(self.slow_cycle_seconds)

    def _move_marks(self, *, shock: bool) -> None:
        for symbol, price in self.marks.items():
            step = self.rng.gauss(0.0, 0.002)
            if shock:  # a sharp move against every open position: trips the daily-loss guard
                held = self.positions[symbol].quantity
                step -= 0.15 if held > 0 else -0.15 if held < 0 else 0.0
            self.marks[symbol] = round(price * (1.0 + step), 2)

    def _check_risk(self, n: int) -> None:
        t = self.telemetry
        equity = self.equity()
        t.record_account(
            equity=equity,
            realized_pnl=self.realized,
            unrealized_pnl=self.unrealized(),
            funding_pnl=self.funding,
        )
        t.record_exposures({s: p.quantity * self.marks[s] for s, p in self.positions.items()})
        loss = max(0.0, self.day_start_equity - equity)
        t.record_daily_loss(loss, limit=DAILY_LOSS_LIMIT)
        if loss >= DAILY_LOSS_LIMIT and self.breaker_until < n:
            t.set_circuit_breaker(True, reason="daily_loss")
            self.breaker_until = n + self.BREAKER_CYCLES
        elif self.breaker_until == n:
            t.set_circuit_breaker(False)
            self.day_start_equity = equity  # the guard re-arms from here, as after a reset
        if n % 10 == 0:
            payment = self.rng.uniform(-15.0, 10.0)
            self.funding += payment

    def _trade(self) -> None:
        t = self.telemetry
        symbol = self.rng.choice(list(self.marks))
        side = "buy" if self.rng.random() < 0.6 else "sell"
        t.record_order(symbol, side)
        self.orders_sent += 1
        now = t.clock.monotonic()
        resting = self.UNFILLED_CYCLES * max(self.interval_hint, 0.5)
        for number, at in list(self.open_orders.items()):
            if now - at >= resting:
                del self.open_orders[number]  # finally filled (not traded further in the demo)
        if self.orders_sent % self.UNFILLED_EVERY == 0:
            self.open_orders[self.orders_sent] = now
            return
        t.record_order_latency(self.rng.uniform(0.02, 0.4))
        if self.rng.random() < 0.1:
            t.record_rejection(symbol, "insufficient_margin")
            return
        price = self.marks[symbol]
        quantity = round(2_000.0 / price, 6)
        position = self.positions[symbol]
        signed = quantity if side == "buy" else -quantity
        realized = 0.0
        if position.quantity and (position.quantity > 0) != (signed > 0):
            closed = min(abs(signed), abs(position.quantity))
            direction = 1.0 if position.quantity > 0 else -1.0
            realized = closed * (price - position.entry) * direction
        new_quantity = position.quantity + signed
        if new_quantity and (
            position.quantity == 0 or (new_quantity > 0) == (position.quantity > 0)
        ):
            if abs(new_quantity) > abs(position.quantity):
                position.entry = (position.entry * abs(position.quantity) + price * quantity) / abs(
                    new_quantity
                )
        else:
            position.entry = price if new_quantity else 0.0
        position.quantity = new_quantity
        fee = price * quantity * 0.0004
        self.realized += realized - fee
        t.record_fill(symbol, side, quantity=quantity, price=price, fee=fee, realized_pnl=realized)


def run_demo(
    telemetry: Telemetry,
    *,
    cycles: int,
    interval: float,
    seed: int | None,
    sleep: Callable[[float], None] = time.sleep,
    slow_cycle_seconds: float = 3.5,
    symbols: int = len(SYMBOLS),
    keep_durations: bool = False,
    bot: SimulatedBot | None = None,
) -> SimulatedBot:
    """Run ``cycles`` cycles (0 = until interrupted) of the simulated bot on ``telemetry``.

    Pass ``bot`` to keep a handle on it (its ``durations`` survive a KeyboardInterrupt).
    """
    if bot is None:
        bot = SimulatedBot(
            telemetry,
            random.Random(seed),
            sleep,
            slow_cycle_seconds,
            symbols=symbols,
            keep_durations=keep_durations,
        )
    n = 0
    while cycles == 0 or n < cycles:
        n += 1
        # An error cycle was recorded by cycle_timer; a real bot would back off here.
        with contextlib.suppress(SimulatedExchangeError):
            bot.run_cycle(n)
        last = bot.last_cycle
        if bot.keep_durations and last is not None and last.duration is not None:
            bot.durations.append(last.duration)
        if interval > 0:
            sleep(interval)
    return bot


def cycle_summary(durations: list[float]) -> dict[str, Any]:
    """Count, p50, p99 and max of cycle durations in seconds (nearest-rank percentiles).

    Example:
        >>> cycle_summary([0.1, 0.2, 0.3, 0.4])["p50_seconds"]
        0.2
    """
    ordered = sorted(durations)
    if not ordered:
        return {"cycles": 0, "p50_seconds": None, "p99_seconds": None, "max_seconds": None}

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {
        "cycles": len(ordered),
        "p50_seconds": rank(0.50),
        "p99_seconds": rank(0.99),
        "max_seconds": ordered[-1],
    }
