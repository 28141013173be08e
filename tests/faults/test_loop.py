"""Faults in and around the loop itself: health checks that raise or hang, eight threads
recording at once, asyncio cancellation inside a cycle, and KeyboardInterrupt and SystemExit
inside a cycle."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any, cast

import trader_telemetry as tt
from tests.conftest import samples
from trader_telemetry.health import HealthCheckResult, HealthStatus

from .accounting import account
from .conftest import RecordRow
from .harness import (
    BackgroundLoop,
    Ledger,
    LedgerTelemetry,
    LoopStats,
    http_get,
    inject,
    innermost_frame,
    ledger_of,
    make_bot,
    run_loop,
)
from .summary import Verdict, exceptions_verdict, loop_verdict, lost_verdict

MAX_CYCLE_COST = 0.25


class Raising:
    name = "venue_api"

    def check(self) -> HealthCheckResult:
        raise RuntimeError("venue API down")


class Hanging:
    name = "order_book"

    def __init__(self) -> None:
        self.release = threading.Event()

    def check(self) -> HealthCheckResult:
        self.release.wait(10)
        return HealthCheckResult(self.name, HealthStatus.HEALTHY, "late")


def test_health_check_that_raises_and_one_that_hangs(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """``/health`` reports both as unhealthy with the reason (503), ``health_status`` says 2
    for each, and the bot's loop never waits for them (each run hangs 0.3 s)."""
    telemetry = make_telemetry(port=0, health_check_timeout_seconds=0.3, health_cache_seconds=0)
    hanging = Hanging()
    telemetry.health.register(Raising())
    telemetry.health.register(hanging)
    assert telemetry.metrics_url is not None
    base = telemetry.metrics_url.removesuffix("/metrics")
    bot = make_bot(telemetry)
    try:
        with BackgroundLoop(bot, pause=0.002) as loop:
            answers = [http_get(base + "/health") for _ in range(3)]
            metrics = http_get(base + "/metrics")[1].decode()
            assert loop.wait_cycles(20)
    finally:
        hanging.release.set()
    code, body = answers[-1]
    checks = {c["name"]: c for c in json.loads(body)["checks"]}
    reported = (
        all(status == 503 for status, _ in answers)
        and checks["venue_api"]["message"] == "check raised RuntimeError: venue API down"
        and checks["order_book"]["message"] == "timed out after 0.3 s"
        and 'fault_health_status{check="venue_api"} 2.0' in metrics
        and 'fault_health_status{check="order_book"} 2.0' in metrics
    )
    accounting = account(telemetry, ledger_of(bot))
    row = fault_row(
        "health check raises / hangs",
        loop=loop_verdict(loop.stats, min_cycles=100, max_cost=0.15),
        exceptions=exceptions_verdict(loop.stats),
        lost=lost_verdict(accounting),
        notes=[f"/health {code}, both reported: {'yes' if reported else 'NO'}"],
    )
    row.check()
    assert reported, (answers, metrics)


def test_8_threads_recording_at_once(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Eight demo bots on one Telemetry, each on its own thread, 250 cycles each, while a
    ninth thread scrapes: every count exact."""
    clock = tt.ManualClock()
    telemetry = make_telemetry(clock=clock)
    ledger = Ledger()
    bots = [make_bot(telemetry, seed=i, sleep=clock.sleep, ledger=ledger) for i in range(8)]
    results = [LoopStats() for _ in bots]
    stop = threading.Event()
    scrapes: list[int] = []

    def scrape() -> None:
        while not stop.is_set():
            telemetry.render_metrics()
            telemetry.snapshot()
            scrapes.append(1)

    threads = [
        threading.Thread(target=run_loop, args=(bot,), kwargs={"cycles": 250, "stats": stats})
        for bot, stats in zip(bots, results, strict=True)
    ]
    scraper = threading.Thread(target=scrape)
    scraper.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    stop.set()
    scraper.join(5)
    stats = LoopStats()
    for one in results:
        stats.merge(one)
    accounting = account(telemetry, ledger)
    row = fault_row(
        "8 threads recording at once",
        loop=loop_verdict(stats, min_cycles=8 * 250, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=lost_verdict(accounting),
        notes=[f"{len(scrapes)} scrapes meanwhile"],
    )
    row.check()
    assert not accounting.errors, accounting.errors
    assert scrapes, "the scraper never ran alongside"


def test_asyncio_cancellation_inside_a_cycle(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Three asyncio tasks run cycles (``async with``); every 10th cycle of one task is
    cancelled while it awaits: the CancelledError leaves the cycle as the same object, the
    cycle is not counted as completed, what it recorded before is kept, the other tasks never
    stop, and no cycle is left "in progress"."""
    telemetry = make_telemetry()
    ledger = Ledger()
    t = LedgerTelemetry(telemetry, ledger)
    stats = LoopStats()
    cancelled = [0]

    async def cycle(n: int, task: int) -> None:
        try:
            async with t.cycle_timer() as current, current.phase("fetch"):
                t.record_order("BTC-PERP", "buy")
                await asyncio.sleep(0 if n % 10 or task else 10)  # the one to cancel waits
                if n % 7 == 0:
                    raise ValueError(f"venue said no in cycle {n}")
        except BaseException as outside:
            inside, frame = ledger.take_inside()
            stats.raised += 1
            if inside is outside and innermost_frame(outside.__traceback__) is frame:
                stats.unchanged += 1
            else:
                stats.changed.append(f"{outside!r} came out, {inside!r} went in")
            if not isinstance(outside, ValueError):
                raise

    async def bot(task: int) -> None:
        for n in range(1, 101):
            work = asyncio.ensure_future(cycle(n, task))
            if n % 10 == 0 and task == 0:
                await asyncio.sleep(0.001)
                work.cancel()
            try:
                await work
            except asyncio.CancelledError:
                cancelled[0] += 1
            stats.cycles += 1

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(bot(i) for i in range(3))), 20)

    asyncio.run(main())
    found = samples(telemetry)
    in_progress = found.get(("fault_cycle_in_progress_seconds", frozenset()))
    accounting = account(telemetry, ledger)
    row = fault_row(
        "asyncio cancellation inside a cycle",
        loop=loop_verdict(stats, min_cycles=300),
        exceptions=exceptions_verdict(stats, min_raised=10),
        lost=Verdict(
            accounting.nothing_lost and in_progress == 0.0,
            f"{accounting.summary()}; {cancelled[0]} cancelled, in progress after: {in_progress}",
        ),
    )
    row.check()
    assert cancelled[0] == 10
    assert ledger.calls["cycles_interrupted"] == 10


def test_keyboard_interrupt_and_system_exit_inside_a_cycle(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Ctrl-C lands in cycle 50 and ``sys.exit(3)`` in cycle 100, inside the risk checks: each
    propagates as the same object, the cycle is marked interrupted (not counted as completed,
    not left in progress), what it recorded before is kept, and the bot carries on."""
    clock = tt.ManualClock()
    telemetry = make_telemetry(clock=clock)
    bot = make_bot(telemetry, sleep=clock.sleep)
    interruptions: dict[int, BaseException] = {
        50: KeyboardInterrupt(),
        100: SystemExit(3),
    }

    def interrupt(n: int) -> None:
        if n in interruptions:
            raise interruptions[n]

    inject(bot, interrupt)
    stats = LoopStats()
    ledger = ledger_of(bot)
    outcomes: list[str | None] = []
    same_interruptions = 0
    first = 1
    while stats.cycles < 150:
        try:
            run_loop(bot, cycles=150, first=first, stats=stats)
        except (KeyboardInterrupt, SystemExit) as outside:
            inside, frame = ledger.take_inside()
            stats.raised += 1
            number = bot.last_cycle.number if bot.last_cycle else -1
            same = inside is outside is interruptions.get(number)
            if same and innermost_frame(outside.__traceback__) is frame:
                stats.unchanged += 1
                same_interruptions += 1
            else:
                stats.changed.append(f"{outside!r} came out, {inside!r} went in")
            outcomes.append(cast(Any, bot.last_cycle).outcome)
            first = number + 1  # the bot decides to carry on
    in_progress = samples(telemetry).get(("fault_cycle_in_progress_seconds", frozenset()))
    accounting = account(telemetry, ledger)
    row = fault_row(
        "KeyboardInterrupt and SystemExit inside a cycle",
        loop=loop_verdict(stats, min_cycles=150, max_cost=MAX_CYCLE_COST),
        exceptions=Verdict(
            stats.exceptions_unchanged and same_interruptions == 2,
            f"{same_interruptions}/2 interruptions and {stats.unchanged - same_interruptions}/"
            f"{stats.raised - 2} demo errors the same object",
        ),
        lost=Verdict(
            accounting.nothing_lost and in_progress == 0.0,
            f"{accounting.summary()}; interrupted cycles: {outcomes}",
        ),
    )
    row.check()
    assert outcomes == ["interrupted", "interrupted"]
    assert ledger.calls["cycles_interrupted"] == 2
