"""Hardening of the recording path (issue 18): a signal handler that records while the main
thread is inside a recording call, Ctrl-C caught in the middle of recording calls, and cycles
ended on another thread than the one that began them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast

import pytest

import trader_telemetry as tt
from tests.conftest import value
from trader_telemetry.cycle import CycleTimer

from .accounting import account
from .conftest import RecordRow
from .harness import Ledger, LedgerTelemetry, LoopStats, SpyTimer, ledger_of, make_bot, run_loop
from .summary import Verdict, exceptions_verdict, loop_verdict

MAX_CYCLE_COST = 0.25
ROOT = Path(__file__).resolve().parents[2]
#: The child dumps its threads at 40 s if it hangs; past this the parent gives up on it.
CHILD_DEADLINE = 50.0


def run_child(mode: str) -> tuple[dict[str, Any] | None, str]:
    """Run ``tests.faults.signal_child MODE``: (its JSON result, or None if it hung or
    failed; its stderr's tail)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRADER_"))}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.faults.signal_child", mode],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_DEADLINE,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        err = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else ""
        return None, f"hung: no answer within {CHILD_DEADLINE:g} s\n{err[-2000:]}"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return None, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return json.loads(lines[-1]), done.stderr[-2000:]


def stats_from(figures: dict[str, Any]) -> LoopStats:
    return LoopStats(
        cycles=figures["cycles"],
        raised=figures["raised"],
        unchanged=figures["unchanged"],
        changed=list(figures["changed"]),
        escaped=[RuntimeError(text) for text in figures["escaped"]],
    )


def test_signal_handler_records_while_the_loop_records(fault_row: RecordRow) -> None:
    """``SIGALRM`` every 200 us for 2 s; its handler makes ten recording calls (orders, fills,
    rejections, marks, account, a rejected NaN, the breaker) on the main thread, which is
    itself inside the bot's recording calls: no call waits for a lock its own thread holds,
    and every count adds up."""
    result, err = run_child("record")
    if result is None:
        hung = Verdict(False, err.splitlines()[0])
        row = fault_row("signal handler records mid-call", loop=hung, exceptions=hung, lost=hung)
        row.check()
        raise AssertionError(err)
    stats = stats_from(result["stats"])
    row = fault_row(
        "signal handler records mid-call",
        loop=loop_verdict(stats, min_cycles=200),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(result["nothing_lost"], result["summary"]),
        notes=[f"{result['signals']} signals handled in 2 s"],
    )
    row.check()
    assert result["signals"] > 100, result


def test_keyboard_interrupt_caught_inside_recording_calls(fault_row: RecordRow) -> None:
    """Ctrl-C (``KeyboardInterrupt`` from ``SIGALRM`` every 200 us) lands inside the main
    thread's recording calls, which catches it and goes on, while the bot's loop runs on
    another thread: afterwards the main thread records, a scrape renders and the loop cycles
    (no lock left held), and an interrupted call is recorded at most once."""
    result, err = run_child("interrupt")
    if result is None:
        hung = Verdict(False, err.splitlines()[0])
        row = fault_row("Ctrl-C caught mid-recording", loop=hung, exceptions=hung, lost=hung)
        row.check()
        raise AssertionError(err)
    stats = stats_from(result["stats"])
    fine = result["cycling"] and result["scraped"]
    loop = loop_verdict(stats, min_cycles=20)
    row = fault_row(
        "Ctrl-C caught mid-recording",
        loop=Verdict(
            loop.ok and fine,
            f"{loop.text}; afterwards: records, scrapes and cycles again in "
            f"{result['after_seconds']:.2f} s",
        ),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            not result["short"] and not result["extra"],
            f"counts between calls returned and calls made (short {result['short'] or 0}, "
            f"extra {result['extra'] or 0})",
        ),
        notes=[f"{result['interrupts']} interrupts in {result['calls']} calls"],
    )
    row.check()
    assert result["interrupts"] > 100, result


class HandOffTimer(SpyTimer):
    """A cycle begun on the loop's thread and ended on a worker thread (a bot that hands the
    end of its cycle to a callback thread): the library's ``__exit__`` runs on the worker."""

    def __init__(self, real: CycleTimer, ledger: Ledger, pool: ThreadPoolExecutor) -> None:
        super().__init__(real, ledger)
        self._pool = pool

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        self._ledger.note_exit(exc)  # on the loop's thread, where run_loop looks for it
        return self._pool.submit(self._real.__exit__, exc_type, exc, tb).result()


def test_cycles_ended_on_another_thread(
    make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Every cycle of the bot ends on a worker thread: each is counted (ok or error), none is
    left "in progress" (``cycle_in_progress_seconds`` back to 0), none is counted twice, and
    the bot's exceptions still come out unchanged."""
    telemetry = make_telemetry()
    bot = make_bot(telemetry)
    ledger = ledger_of(bot)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cycle-end") as pool:
        spy = cast(LedgerTelemetry, bot.telemetry)
        real_timer = telemetry.cycle_timer
        spy.cycle_timer = lambda: HandOffTimer(real_timer(), ledger, pool)  # type: ignore[method-assign]
        stats = run_loop(bot, cycles=300)
    accounting = account(telemetry, ledger)
    in_progress = value(telemetry, "cycle_in_progress_seconds")
    lost_context = value(telemetry, "telemetry_errors_total", reason="cycle_context_lost") or 0
    row = fault_row(
        "cycles ended on another thread",
        loop=loop_verdict(stats, min_cycles=300, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            accounting.nothing_lost and in_progress == 0,
            f"{accounting.summary()}; in progress afterwards {in_progress:g} s",
        ),
        notes=[f"{lost_context:g} exits without a cycle"],
    )
    row.check()
    assert lost_context == 0
    assert not telemetry._state.running


def test_a_cycle_ended_elsewhere_then_its_own_exit_counts_once(
    make_telemetry: Callable[..., tt.Telemetry],
) -> None:
    """Two cycles of one timer on two threads; thread B's exit (B has no cycle of its own in
    its context) ends the oldest, A's. A's own exit later ends the one left: two cycles, two
    counts, nothing in progress."""
    telemetry = make_telemetry()
    timer = telemetry.cycle_timer()
    timer.__enter__()  # cycle 1, on this thread
    worker = threading.Thread(target=lambda: timer.__exit__(None, None, None))
    other = threading.Thread(target=timer.__enter__)  # cycle 2, in another context
    other.start()
    other.join()
    worker.start()
    worker.join()
    assert sorted(telemetry._state.running) == [2]
    timer.__exit__(None, None, None)
    assert not telemetry._state.running
    assert value(telemetry, "cycles_total", outcome="ok") == 2
    assert value(telemetry, "cycle_in_progress_seconds") == 0
    assert value(telemetry, "telemetry_errors_total", reason="cycle_context_lost") is None


@pytest.mark.parametrize("outcome", ["ok", "error"])
def test_a_cycle_begun_here_and_ended_on_a_thread_is_ended(
    make_telemetry: Callable[..., tt.Telemetry], outcome: str
) -> None:
    telemetry = make_telemetry()
    timer = telemetry.cycle_timer()
    cycle = timer.__enter__()
    error = RuntimeError("venue down") if outcome == "error" else None
    ended = threading.Thread(
        target=lambda: timer.__exit__(type(error) if error else None, error, None)
    )
    ended.start()
    ended.join()
    assert cycle.outcome == outcome
    assert tt.current_cycle() is None  # this thread's context no longer offers it
    assert value(telemetry, "cycles_total", outcome=outcome) == 1
    assert value(telemetry, "cycle_in_progress_seconds") == 0
