"""The daily report's throughput over a generated 1,000,000-event day, and the bot-side cost of
one ``telemetry.event(...)`` call.

Run from the repository root::

    python benchmarks/report.py            # 1,000,000 events (~125 MB in a temp dir), ~30 s
    python benchmarks/report.py --quick    # 50,000 events, a smoke run
    python benchmarks/report.py --json out.json

Targets (printed as PASS/MISS, always exit 0): the report reads >= 500k events/s, and one
``telemetry.event`` call costs <= 2 µs. The JSON parser (orjson from the ``report`` extra, or the
standard library) is printed at the top.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
import timeit
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import trader_telemetry as tt
from trader_telemetry.events import reader
from trader_telemetry.report import compute_daily_report
from trader_telemetry.report.parallel import PARALLEL_MIN_BYTES, default_workers
from versions import versions

DAY = date(2026, 11, 25)
READ_TARGET = 500_000.0  # events per second
EMIT_TARGET = 2e-6  # seconds per telemetry.event call


def generate(path: Path, count: int, seed: int = 1) -> None:
    """A day of our own events: fills, cycles, orders and account snapshots, in time order."""
    rng = random.Random(seed)
    step_ms = 86_400_000 / count
    equity = 100_000.0
    with path.open("w") as out:
        for i in range(count):
            ms = int(i * step_ms)
            stamp = (
                f"2026-11-25T{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:"
                f"{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"
            )
            kind = i % 4
            record: dict[str, object]
            if kind == 0:
                pnl = round(rng.uniform(-20, 20), 2)
                record = {"event_type": "fill", "symbol": "BTC-PERP", "side": "buy"}
                record |= {"quantity": 0.01, "price": 97_000.0, "fee": 0.4, "realized_pnl": pnl}
            elif kind == 1:
                record = {"event_type": "cycle", "number": i, "duration_seconds": 0.02,
                          "outcome": "ok"}  # fmt: skip
            elif kind == 2:
                record = {"event_type": "order", "symbol": "ETH-PERP", "side": "sell"}
            else:
                equity += rng.uniform(-5, 5)
                record = {"event_type": "account", "equity": round(equity, 2),
                          "unrealized_pnl": 1.0, "funding_pnl": 0.0}  # fmt: skip
            out.write(json.dumps({"timestamp": stamp, **record}, separators=(",", ":")) + "\n")


def emit_cost(repeats: int) -> float:
    """Best seconds per ``telemetry.event`` call (the bot's side: a queue append)."""
    with tempfile.TemporaryDirectory() as directory:
        telemetry = tt.Telemetry(serve=False, data_dir=directory, events_queue_size=10_000_000)
        try:
            number = 100_000
            timer = timeit.Timer(lambda: telemetry.event("guard_triggered", guard="max_position"))
            return min(timer.repeat(repeat=repeats, number=number)) / number
        finally:
            telemetry.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="50,000 events: a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    count = 50_000 if args.quick else 1_000_000
    for name, value in versions("opentelemetry-sdk", "orjson").items():
        print(f"{name}: {value}")
    print(f"json parser: {reader.JSON_BACKEND}")
    with tempfile.TemporaryDirectory() as directory:
        events = Path(directory) / "events.jsonl"
        generate(events, count)
        size = events.stat().st_size
        best, serial = float("inf"), float("inf")
        report: dict[str, object] = {}
        for _ in range(1 if args.quick else 3):
            started = time.perf_counter()
            report = compute_daily_report(events_files=[events], metrics_file=None, day=DAY)
            best = min(best, time.perf_counter() - started)
            started = time.perf_counter()
            compute_daily_report(events_files=[events], metrics_file=None, day=DAY, workers=1)
            serial = min(serial, time.perf_counter() - started)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = count / best
    workers = default_workers() if size >= PARALLEL_MIN_BYTES else 1
    per_call = emit_cost(3 if args.quick else 7)
    print()
    print("| figure | value | target |")
    print("|---|---:|---|")
    print(f"| events in the day | {count:,} ({size / 1e6:.0f} MB) | |")
    print(f"| report, best of runs ({workers} processes) | {best:.2f} s | |")
    verdict_read = "PASS" if rate >= READ_TARGET else "MISS"
    print(f"| report throughput | {rate / 1000:,.0f}k events/s | >= 500k {verdict_read} |")
    print(f"| same, one process (workers=1) | {count / serial / 1000:,.0f}k events/s | |")
    print(f"| peak RSS of this process | {rss_mib:,.0f} MiB | |")
    verdict_emit = "PASS" if per_call <= EMIT_TARGET else "MISS"
    print(f"| telemetry.event() | {per_call * 1e9:,.0f} ns | <= 2 us {verdict_emit} |")
    trades = report.get("trades", {})
    print(
        f"\nsanity: {trades.get('total') if isinstance(trades, dict) else '?'} fills in the report"
    )
    summary = (
        f"summary: report {rate / 1000:,.0f}k events/s ({verdict_read}), "
        f"telemetry.event {per_call * 1e9:,.0f} ns ({verdict_emit}), parser {reader.JSON_BACKEND}"
    )
    print(summary)
    if args.json is not None:
        figures = {"events": count, "bytes": size, "seconds": best, "events_per_second": rate,
                   "workers": workers, "serial_events_per_second": count / serial,
                   "event_call_seconds": per_call, "parser": reader.JSON_BACKEND}  # fmt: skip
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
