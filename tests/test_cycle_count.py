"""The lock-free cycle counter: exact under threads, bounded without readers."""

from __future__ import annotations

import threading

import trader_telemetry as tt
from trader_telemetry.cycle_count import Tally


def test_threads_adding_while_a_reader_folds_lose_nothing() -> None:
    tally = Tally()
    stop = threading.Event()
    seen: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(tally.value)

    def writer() -> None:
        for _ in range(20_000):
            tally.add()

    background = threading.Thread(target=reader)
    background.start()
    writers = [threading.Thread(target=writer) for _ in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    background.join()
    assert tally.value == 80_000
    assert seen == sorted(seen)  # a counter never goes backwards


def test_pending_counts_stay_bounded_when_nobody_reads() -> None:
    telemetry = tt.Telemetry(serve=False)
    try:
        for _ in range(10_000):
            with telemetry.cycle_timer():
                pass
        assert len(telemetry._state.ok_cycles.pending) < 4096
        assert telemetry.snapshot()["cycle_metrics"]["ok"] == 10_000
    finally:
        telemetry.shutdown()
