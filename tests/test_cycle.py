"""cycle_timer, timed_cycle and phases: the bot's exception is untouched, outcomes are counted."""

from __future__ import annotations

import asyncio
import inspect
import sys

import pytest

import trader_telemetry as tt
from tests.conftest import value
from trader_telemetry.default import swap_default


class BotError(Exception):
    pass


def test_ok_cycle_records_duration_count_and_latency(
    telemetry: tt.Telemetry, clock: tt.ManualClock
) -> None:
    with telemetry.cycle_timer() as cycle:
        clock.advance(2.5)
    assert cycle.outcome == "ok"
    assert cycle.duration == 2.5
    assert cycle.number == 1
    assert value(telemetry, "cycles_total", outcome="ok") == 1
    assert value(telemetry, "cycles_total", outcome="error") == 0
    assert value(telemetry, "cycle_duration_seconds_count") == 1
    assert value(telemetry, "cycle_duration_seconds_sum") == 2.5
    assert value(telemetry, "cycle_duration_seconds_bucket", le="2.0") == 0
    assert value(telemetry, "cycle_duration_seconds_bucket", le="3.0") == 1
    assert value(telemetry, "cycle_latency_ms") == 2500.0


def test_cycle_error_is_reraised_unchanged_with_traceback(telemetry: tt.Telemetry) -> None:
    original = BotError("exchange said no")

    def fail() -> None:
        raise original

    with pytest.raises(BotError) as info, telemetry.cycle_timer():
        fail()
    assert info.value is original
    frames = [frame.name for frame in info.traceback]
    assert "fail" in frames  # the traceback still reaches into the bot's own code
    assert value(telemetry, "cycles_total", outcome="error") == 1
    assert value(telemetry, "cycle_errors_total", error_type="BotError") == 1


async def test_async_cycle_error_is_reraised_unchanged(telemetry: tt.Telemetry) -> None:
    original = TimeoutError("venue timeout")
    with pytest.raises(TimeoutError) as info:
        async with telemetry.cycle_timer():
            await asyncio.sleep(0)
            raise original
    assert info.value is original
    assert value(telemetry, "cycle_errors_total", error_type="TimeoutError") == 1


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_interrupts_pass_through_and_are_not_errors(
    telemetry: tt.Telemetry, exc_type: type[BaseException]
) -> None:
    original = exc_type()
    with pytest.raises(exc_type) as info, telemetry.cycle_timer() as cycle:
        raise original
    assert info.value is original
    assert cycle.outcome == "interrupted"
    assert value(telemetry, "cycles_total", outcome="error") == 0
    assert value(telemetry, "cycles_total", outcome="ok") == 0
    assert value(telemetry, "cycle_in_progress_seconds") == 0


async def test_cancelled_cycle_passes_through_and_is_not_an_error(
    telemetry: tt.Telemetry,
) -> None:
    started = asyncio.Event()

    async def loop() -> None:
        async with telemetry.cycle_timer():
            started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(loop())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert value(telemetry, "cycles_total", outcome="error") == 0
    assert value(telemetry, "cycle_errors_total", error_type="CancelledError") is None


def test_in_progress_and_last_cycle_age_are_computed_at_scrape(
    telemetry: tt.Telemetry, clock: tt.ManualClock
) -> None:
    clock.advance(4)
    assert value(telemetry, "last_cycle_age_seconds") == 4  # since start-up: no cycle yet
    with telemetry.cycle_timer():
        clock.advance(7)
        assert value(telemetry, "cycle_in_progress_seconds") == 7
    clock.advance(5)
    assert value(telemetry, "cycle_in_progress_seconds") == 0
    assert value(telemetry, "last_cycle_age_seconds") == 5


def test_timed_cycle_keeps_signature_and_records(
    telemetry: tt.Telemetry, clock: tt.ManualClock
) -> None:
    def plain(symbol: str, *, size: float = 1.0) -> str:
        """Trade one step."""
        clock.advance(0.5)
        return f"{symbol}:{size}"

    step = telemetry.timed_cycle(plain)
    assert step("BTC-PERP", size=2.0) == "BTC-PERP:2.0"
    assert inspect.signature(step) == inspect.signature(plain)
    assert list(inspect.signature(step).parameters) == ["symbol", "size"]
    assert step.__name__ == "plain"
    assert step.__doc__ == "Trade one step."
    assert value(telemetry, "cycles_total", outcome="ok") == 1


async def test_timed_cycle_on_async_function(telemetry: tt.Telemetry) -> None:
    @telemetry.timed_cycle
    async def step(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    assert inspect.iscoroutinefunction(step)
    assert await step(21) == 42
    assert value(telemetry, "cycles_total", outcome="ok") == 1


def test_module_level_timed_cycle_resolves_default_at_call_time() -> None:
    @tt.timed_cycle
    def step() -> int:
        return 1

    assert step() == 1  # before configure(): records nowhere, still runs
    telemetry = tt.configure(namespace="late", serve=False)
    assert step() == 1
    assert value(telemetry, "cycles_total", outcome="ok") == 1


def test_unconfigured_cycle_timer_still_reraises() -> None:
    original = BotError("x")
    with pytest.raises(BotError) as info, tt.cycle_timer() as cycle, tt.phase("p"):
        raise original
    assert info.value is original
    assert cycle.outcome == "error"


def test_phases_record_per_phase_and_attach_to_cycle(
    telemetry: tt.Telemetry, clock: tt.ManualClock
) -> None:
    with telemetry.cycle_timer() as cycle:
        with cycle.phase("fetch_marks"):
            clock.advance(0.02)
        with telemetry.phase("place_orders"):  # found through the contextvar
            clock.advance(0.3)
    assert cycle.phases == pytest.approx({"fetch_marks": 0.02, "place_orders": 0.3})
    assert value(telemetry, "cycle_phase_duration_seconds_count", phase="fetch_marks") == 1
    assert (
        value(telemetry, "cycle_phase_duration_seconds_bucket", phase="place_orders", le="0.25")
        == 0
    )
    assert (
        value(telemetry, "cycle_phase_duration_seconds_bucket", phase="place_orders", le="0.5") == 1
    )


def test_phase_error_passes_through(telemetry: tt.Telemetry) -> None:
    original = BotError()
    with pytest.raises(BotError) as info, telemetry.cycle_timer() as cycle, cycle.phase("risk"):
        raise original
    assert info.value is original
    assert value(telemetry, "cycle_phase_duration_seconds_count", phase="risk") == 1


def test_nested_and_reused_timer_keep_their_own_cycles(telemetry: tt.Telemetry) -> None:
    timer = telemetry.cycle_timer()
    with timer as outer:
        with timer as inner:
            assert tt.current_cycle() is inner
        assert tt.current_cycle() is outer
    assert tt.current_cycle() is None
    with timer as again:
        pass
    assert {outer.number, inner.number, again.number} == {1, 2, 3}
    assert value(telemetry, "cycles_total", outcome="ok") == 3


async def test_100_concurrent_tasks_never_cross_attribute_phases(
    telemetry: tt.Telemetry,
) -> None:
    async def bot(i: int) -> tt.Cycle:
        async with telemetry.cycle_timer() as cycle:
            for step in range(3):
                async with telemetry.phase(f"task{i}_step{step}"):
                    assert tt.current_cycle() is cycle
                    await asyncio.sleep(0)
            if i % 10 == 0:
                raise BotError(i)
        return cycle

    results = await asyncio.gather(*(bot(i) for i in range(100)), return_exceptions=True)
    cycles = [r for r in results if isinstance(r, tt.Cycle)]
    errors = [r for r in results if isinstance(r, BotError)]
    assert len(cycles) == 90
    assert len(errors) == 10
    for cycle in cycles:
        owners = {name.split("_")[0] for name in cycle.phases}
        assert len(owners) == 1, cycle.phases
        assert len(cycle.phases) == 3
    assert len({c.number for c in cycles}) == 90
    assert value(telemetry, "cycles_total", outcome="ok") == 90
    assert value(telemetry, "cycles_total", outcome="error") == 10
    assert value(telemetry, "cycle_in_progress_seconds") == 0


def test_clock_going_backwards_is_rejected_not_recorded(
    telemetry: tt.Telemetry, clock: tt.ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    with telemetry.cycle_timer() as cycle:
        clock.advance(-1.0)
    assert cycle.duration is None
    assert value(telemetry, "cycle_duration_seconds_count") is None
    assert value(telemetry, "cycles_total", outcome="ok") == 1
    assert value(telemetry, "telemetry_rejected_values_total", reason="negative_duration") == 1
    assert "negative" in caplog.text


def test_error_types_are_bounded_by_max_label_values(clock: tt.ManualClock) -> None:
    telemetry = tt.Telemetry(serve=False, clock=clock, namespace="t", max_label_values=2)
    try:
        for i in range(5):
            error = type(f"Error{i}", (Exception,), {})
            with pytest.raises(error), telemetry.cycle_timer():
                raise error()
        assert value(telemetry, "cycle_errors_total", error_type="Error0") == 1
        assert value(telemetry, "cycle_errors_total", error_type="Error1") == 1
        assert value(telemetry, "cycle_errors_total", error_type="__overflow__") == 3
    finally:
        telemetry.shutdown()


def test_traceback_of_reraised_error_is_the_bots(telemetry: tt.Telemetry) -> None:
    try:
        with telemetry.cycle_timer():
            raise BotError("tb")
    except BotError:
        tb = sys.exc_info()[2]
        assert tb is not None
        names = []
        while tb is not None:
            names.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        assert names[-1] == "test_traceback_of_reraised_error_is_the_bots"


def test_exit_without_enter_is_a_counted_fault_not_an_exception(telemetry: tt.Telemetry) -> None:
    timer = telemetry.cycle_timer()
    assert timer.__exit__(None, None, None) is False
    assert value(telemetry, "telemetry_errors_total", reason="cycle_context_lost") == 1


def test_broken_clock_never_reaches_the_bot() -> None:
    class BrokenClock:
        def __init__(self) -> None:
            self.broken = False

        def monotonic(self) -> float:
            if self.broken:
                raise OSError("clock source gone")
            return 0.0

        def time(self) -> float:
            return 1_700_000_000.0

    clock = BrokenClock()
    telemetry = tt.Telemetry(namespace="t", serve=False, clock=clock)
    try:
        clock.broken = True
        with telemetry.cycle_timer() as cycle, telemetry.phase("p"):
            result = "the bot's work ran"
        assert result == "the bot's work ran"
        assert cycle.outcome is None  # nothing could be measured
        clock.broken = False
        assert value(telemetry, "telemetry_errors_total", reason="cycle_begin") == 1
        assert value(telemetry, "telemetry_errors_total", reason="cycle_end") == 1
        assert value(telemetry, "telemetry_errors_total", reason="phase_begin") == 1
        assert value(telemetry, "telemetry_errors_total", reason="phase_end") == 1
    finally:
        telemetry.shutdown()


def test_error_cycle_resets_last_cycle_age(telemetry: tt.Telemetry, clock: tt.ManualClock) -> None:
    clock.advance(30)
    with pytest.raises(BotError), telemetry.cycle_timer():
        clock.advance(1)
        raise BotError
    assert value(telemetry, "last_cycle_age_seconds") == 0
    assert value(telemetry, "cycle_duration_seconds_count") == 1


def test_in_progress_reports_the_oldest_running_cycle(
    telemetry: tt.Telemetry, clock: tt.ManualClock
) -> None:
    outer = telemetry.cycle_timer()
    with outer:
        clock.advance(5)
        with telemetry.cycle_timer():
            clock.advance(2)
            assert value(telemetry, "cycle_in_progress_seconds") == 7
        assert value(telemetry, "cycle_in_progress_seconds") == 7


def test_module_level_cycle_timer_follows_the_default_instance() -> None:
    """tt.cycle_timer() keeps the default's timer beside it: configure, swap and shutdown move
    both together, so the README's call always records into the current default."""
    assert tt.get_telemetry() is None
    with tt.cycle_timer() as cycle:  # before configure(): an outcome, recorded nowhere
        pass
    assert cycle.outcome == "ok"
    first = tt.configure(serve=False)
    try:
        assert tt.cycle_timer() is first.cycle_timer()
        mine = tt.Telemetry(serve=False)
        assert swap_default(mine) is first
        with tt.cycle_timer():
            pass
        assert value(mine, "cycles_total", outcome="ok") == 1
        assert value(first, "cycles_total", outcome="ok") in (None, 0)
        assert swap_default(first) is mine
        mine.shutdown()
        with tt.cycle_timer():
            pass
        assert value(first, "cycles_total", outcome="ok") == 1
    finally:
        tt.shutdown()
    assert tt.cycle_timer() is not first.cycle_timer()
