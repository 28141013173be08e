"""Bad input inside the bot's cycles: NaN, inf and negative values, a 10,000-symbol flood,
and a clock that jumps. Time is simulated (the bot sleeps on the injected clock), so these
cases run at full speed; each cycle's real cost is still measured."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from pathlib import Path

import trader_telemetry as tt
from tests.conftest import samples

from .accounting import account, event_counts, settle_events
from .conftest import RecordRow
from .harness import inject, ledger_of, make_bot, run_loop
from .harness import silence_health as quiet
from .summary import Verdict, exceptions_verdict, loop_verdict

MAX_CYCLE_COST = 0.25


def test_nan_inf_and_negative_values(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Every cycle also records seven bad values; each is rejected and counted by reason, the
    last good value stays exported, and the files and JSON stay valid (NaN becomes null)."""
    clock = tt.ManualClock()
    telemetry = make_telemetry(clock=clock, data_dir=tmp_path)
    quiet(telemetry)
    bot = make_bot(telemetry, sleep=clock.sleep)
    t = bot.telemetry
    last_good: list[float] = []

    def bad_values(n: int) -> None:
        t.record_account(equity=math.nan)
        t.record_account(realized_pnl=math.inf)
        t.record_daily_loss(-math.inf)
        t.record_exposure("BTC-PERP", math.nan)
        t.record_order_latency(-0.5)
        t.record_fill("BTC-PERP", "buy", quantity=-1.0, price=97_000.0)
        t.record_order("BTC-PERP", "hold")
        t.event("bad_values", value=math.nan, values=[math.inf, 1.0])

    # The equity the risk check is about to record: the last good value.
    inject(bot, bad_values, before=lambda: last_good.append(bot.equity()))
    stats = run_loop(bot, cycles=300)
    accounting = settle_events(telemetry, ledger_of(bot), tmp_path)
    cycles = stats.cycles  # the demo raises its errors after the risk checks: all injected
    expected = {"non_finite": 4 * cycles, "negative": 2 * cycles, "unknown_side": cycles}
    found = samples(telemetry)
    equity = found.get(("fault_equity", frozenset()))
    document = telemetry.snapshot()
    json.dumps(document, allow_nan=False)  # strict JSON, no NaN slipped through
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    nulls = sum('"value":null,"values":[null,1.0]' in line for line in lines)
    row = fault_row(
        "NaN, inf and negative values",
        loop=loop_verdict(stats, min_cycles=300, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            accounting.nothing_lost and accounting.rejected == expected,
            f"{accounting.summary()} (expected {expected})",
        ),
    )
    row.check()
    assert equity == last_good[-1], (equity, last_good[-1])
    assert nulls == cycles


def test_10000_symbol_flood(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Each of 20 cycles brings marks and an order for 500 new symbols: the series stay at the
    label limit (200) plus ``__overflow__``, every order is still counted, and every value
    folded into ``__overflow__`` is counted, exactly."""
    clock = tt.ManualClock()
    telemetry = make_telemetry(clock=clock)
    bot = make_bot(telemetry, sleep=clock.sleep, error_every=5)
    t = bot.telemetry

    def flood(n: int) -> None:
        symbols = [f"FLOOD{(n - 1) * 500 + i:05d}-PERP" for i in range(500)]
        t.record_marks(dict.fromkeys(symbols, 1.0))
        for symbol in symbols:
            t.record_order(symbol, "buy")

    inject(bot, flood)
    stats = run_loop(bot, cycles=20)
    found = samples(telemetry)
    staleness = [lab for (name, lab) in found if name == "fault_market_data_staleness_seconds"]
    orders = [lab for (name, lab) in found if name == "fault_orders_submitted_total"]
    accounting = account(telemetry, ledger_of(bot))
    orders_made = ledger_of(bot).calls["orders"]
    # Marks: the 3 demo symbols took 3 of the 200 slots in cycle 1's first phase, so 9,803
    # flood marks overflowed. Orders: cycle 1's flood took all 200 slots before the demo's
    # first trade, so every other order (flood or demo) overflowed.
    overflow = (10_000 - (200 - 3)) + (orders_made - 200)
    bounded = len(staleness) <= 201 and len(orders) <= 2 * 201
    row = fault_row(
        "10,000-symbol flood",
        loop=loop_verdict(stats, min_cycles=20, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            accounting.nothing_lost
            and bounded
            and accounting.rejected == {"label_overflow": overflow},
            f"{accounting.summary()} (expected {overflow}); "
            f"series: staleness {len(staleness)}, orders {len(orders)}",
        ),
    )
    row.check()
    assert orders_made > 10_000


class SteppingClock:
    """A clock whose wall time can step (NTP, a VM resumed) apart from monotonic time, and
    whose monotonic time can be broken on purpose (a step back)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mono = 0.0
        self._wall = 1_700_000_000.0

    def monotonic(self) -> float:
        return self._mono

    def time(self) -> float:
        return self._wall

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._mono += max(0.0, seconds)
            self._wall += max(0.0, seconds)

    def step_wall(self, seconds: float) -> None:
        with self._lock:
            self._wall += seconds

    def step_monotonic(self, seconds: float) -> None:
        with self._lock:
            self._mono += seconds


def ages(telemetry: tt.Telemetry) -> dict[str, float]:
    """Every age the library exposes, in the exposition and in ``/metrics.json``."""
    found = samples(telemetry)
    names = (
        "fault_last_cycle_age_seconds",
        "fault_telemetry_account_age_seconds",
        "fault_cycle_in_progress_seconds",
        "fault_market_data_staleness_seconds",
    )
    result = {
        f"{name}{dict(labels)}": value for (name, labels), value in found.items() if name in names
    }
    document = telemetry.snapshot()
    result["json.last_cycle_age"] = document["cycle_metrics"]["last_cycle_age_seconds"]
    result["json.account_age"] = document["account_snapshot"]["age_seconds"]
    for symbol, age in document["market_data"]["staleness_seconds"].items():
        result[f"json.staleness.{symbol}"] = age
    return result


def test_wall_clock_jumps_forward_and_back(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """The wall clock steps 1 h forward, then 2 h back, and once the monotonic clock itself
    steps 5 s back inside a cycle: no crash, no negative age anywhere, every cycle counted
    (the one with a negative duration rejected from the histogram and counted as such)."""
    clock = SteppingClock()
    telemetry = make_telemetry(clock=clock, data_dir=tmp_path)
    quiet(telemetry)
    bot = make_bot(telemetry, sleep=clock.sleep)

    def broken_monotonic(n: int) -> None:
        if n == 350:
            clock.step_monotonic(-5.0)

    inject(bot, broken_monotonic)
    seen: list[dict[str, float]] = []
    stats = run_loop(bot, cycles=100)
    seen.append(ages(telemetry))
    for step in (3600.0, -7200.0, 0.0):
        clock.step_wall(step)
        run_loop(bot, cycles=stats.cycles + 100, first=stats.cycles + 1, stats=stats)
        seen.append(ages(telemetry))
    accounting = settle_events(telemetry, ledger_of(bot), tmp_path)
    negative = {k: v for snapshot in seen for k, v in snapshot.items() if v is not None and v < 0}
    health = telemetry.health_response()[0]
    row = fault_row(
        "wall clock jumps +1 h and -2 h, monotonic steps back 5 s",
        loop=loop_verdict(stats, min_cycles=400, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            accounting.nothing_lost and not negative,
            f"{accounting.summary()}; {len(negative)} negative ages in "
            f"{sum(len(s) for s in seen)} read",
        ),
    )
    row.check()
    # The cycle in which the clock stepped back, and its phase that spanned the step.
    assert accounting.rejected.get("negative_duration") == 2, accounting.rejected
    assert health in (200, 503)
    assert sum(event_counts(tmp_path).values()) > 0
