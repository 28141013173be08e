"""The events writer thread's cost per event: redaction and JSON encoding, next to a plain
``json.dumps`` of the same line.

Run from the repository root::

    python benchmarks/events_writer.py            # 20,000 events per row, best of 5
    python benchmarks/events_writer.py --quick    # 2,000 events, best of 2 (a smoke run)

Each row fills a fresh :class:`~trader_telemetry.events.writer.EventLog` (its own thread idle: the
interval is an hour) and times one ``flush()`` of the whole queue: redaction (when on), the
per-event encoding with its error handling, and one ``write`` to a file in a temp directory.
The baseline encodes the same records with ``json.dumps`` in a loop and joins them, with no
redaction and no file. The figures are microseconds per event; this is a measurement, not a
gate (always exit 0).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from trader_telemetry.events.writer import EventLog
from trader_telemetry.redaction import Redactor

FIELDS: dict[str, Any] = {
    "symbol": "BTC-PERP",
    "side": "buy",
    "quantity": 0.25,
    "price": 97_000.5,
    "note": "order accepted by the venue after 2 retries; " + "x" * 150,
}


def writer_row(events: int, transform: Callable[[dict[str, Any]], dict[str, Any]] | None) -> float:
    with tempfile.TemporaryDirectory() as directory:
        log = EventLog(
            directory,
            wall_time=time.time,
            interval=3600.0,
            queue_size=events + 1,
            transform=transform,
        )
        try:
            for i in range(events):
                log.emit("fill", {**FIELDS, "n": i})
            started = time.perf_counter()
            assert log.flush()
            took = time.perf_counter() - started
        finally:
            log.close()
    return took / events * 1e6


def baseline_row(events: int) -> float:
    records = [
        {"timestamp": "2026-12-02T00:00:00.000Z", "event_type": "fill", **FIELDS, "n": i}
        for i in range(events)
    ]
    started = time.perf_counter()
    b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)
    return (time.perf_counter() - started) / events * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run: noisy figures")
    args = parser.parse_args(argv)
    events, repeats = (2_000, 2) if args.quick else (20_000, 5)
    rows = {
        "json.dumps per line (baseline)": lambda: baseline_row(events),
        "EventLog flush, redaction off": lambda: writer_row(events, None),
        "EventLog flush, redaction on (defaults)": lambda: writer_row(events, Redactor().fields),
    }
    best = {name: min(run() for _ in range(repeats)) for name, run in rows.items()}
    base = best["json.dumps per line (baseline)"]
    print(f"{events} events per row, best of {repeats}")
    print("| row | us/event | vs json.dumps |")
    print("|---|---:|---:|")
    for name, micros in best.items():
        print(f"| {name} | {micros:.2f} | {micros / base:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
