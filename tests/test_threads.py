"""Several threads recording at once lose nothing, and a scrape running meanwhile never fails."""

from __future__ import annotations

import threading

import trader_telemetry as tt
from tests.conftest import value


def test_concurrent_threads_lose_no_count(telemetry: tt.Telemetry) -> None:
    threads_n, cycles_n = 8, 500
    stop = threading.Event()
    scrape_errors: list[BaseException] = []

    def scraper() -> None:
        while not stop.is_set():
            try:
                telemetry.render_metrics()
                telemetry.snapshot()
            except BaseException as exc:  # pragma: no cover - the assertion reports it
                scrape_errors.append(exc)

    def worker(i: int) -> None:
        for n in range(cycles_n):
            try:
                with telemetry.cycle_timer():
                    telemetry.record_mark(f"SYM{i}-{n % 7}")
                    telemetry.record_order("BTC-PERP", "buy")
                    if n % 50 == 0:
                        raise ValueError
            except ValueError:
                pass

    background = threading.Thread(target=scraper)
    background.start()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    background.join()

    errors = threads_n * (cycles_n // 50)
    assert scrape_errors == []
    assert value(telemetry, "cycles_total", outcome="error") == errors
    assert value(telemetry, "cycles_total", outcome="ok") == threads_n * cycles_n - errors
    assert value(telemetry, "orders_submitted_total", symbol="BTC-PERP", side="buy") == (
        threads_n * cycles_n
    )
    assert value(telemetry, "cycle_duration_seconds_count") == threads_n * cycles_n
    assert value(telemetry, "telemetry_errors_total", reason="cycle_end") is None
