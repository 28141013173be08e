"""The daily report's throughput over a generated 1,000,000-event day, and the bot-side cost of
one ``telemetry.event(...)`` call.

Run from the repository root::

    python benchmarks/report.py            # 1,000,000 events of each shape, ~1 min
    python benchmarks/report.py --shape gpt-trader
    python benchmarks/report.py --quick    # 50,000 events, a smoke run
    python benchmarks/report.py --json out.json

Two days: our own event lines (~125 bytes a line), and GPT-Trader's legacy JSONL shapes (~160
bytes a line: positions, PnL updates, trades, fills, position metrics; ``type``/``time`` keys,
numbers as strings). Targets (printed as PASS/MISS, always exit 0): the report reads >= 500k of
our events/s and >= 700k of GPT-Trader's a second on 2 cores, peak RSS <= 150 MiB (this process
and its largest worker), and one ``telemetry.event`` call costs <= 2 µs. The JSON parser
(orjson from the ``report`` extra, or the standard library) is printed at the top.
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
READ_TARGET = 500_000.0  # events per second, our own lines
GPT_TRADER_TARGET = 700_000.0  # events per second, GPT-Trader's shapes (issue 16)
RSS_TARGET_MIB = 150
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


def _gpt_trader_line(rng: random.Random, i: int, stamp: str) -> dict[str, object]:
    """One line as GPT-Trader's JSONL store wrote it (``type``/``time`` keys, numbers as strings
    in trade and position records, an epoch ``timestamp`` in fills and PnL updates)."""
    symbol = ("BTC-PERP", "ETH-PERP", "SOL-PERP")[i % 3]
    price = f"{rng.uniform(90, 110):.2f}"
    kind = i % 10
    if kind < 4:
        return {"type": "position", "bot_id": "cb", "symbol": symbol, "mark_price": price,
                "entry": "100.0", "quantity": "1.5", "time": stamp}  # fmt: skip
    if kind < 7:
        return {"type": "pnl_update", "bot_id": "cb", "symbol": symbol, "realized_pnl": 0.0,
                "unrealized_pnl": round(rng.uniform(-5, 5), 2), "time": stamp}  # fmt: skip
    if kind < 8:
        return {"type": "trade", "bot_id": "cb", "order_id": f"o{i}", "symbol": symbol,
                "side": "buy", "quantity": "0.1", "price": price, "status": "filled",
                "time": stamp}  # fmt: skip
    if kind < 9:
        return {"type": "fill", "symbol": symbol, "side": "sell", "quantity": 0.1,
                "price": float(price), "pnl": round(rng.uniform(-20, 20), 2), "fee": 0.04,
                "time": stamp}  # fmt: skip
    return {"type": "position_metrics", "event_type": "position_metrics", "symbol": symbol,
            "mark_price": price, "position_size": "1.5", "time": stamp}  # fmt: skip


def generate_gpt_trader(path: Path, count: int, seed: int = 1) -> None:
    """A day in GPT-Trader's legacy JSONL shapes (positions, PnL updates, trades, fills, position
    metrics), about 165 bytes a line, in time order."""
    rng = random.Random(seed)
    step_us = 86_400_000_000 / count
    with path.open("w") as out:
        for i in range(count):
            us = int(i * step_us)
            stamp = (
                f"2026-11-25T{us // 3_600_000_000:02d}:{us // 60_000_000 % 60:02d}:"
                f"{us // 1_000_000 % 60:02d}.{us % 1_000_000:06d}+00:00"
            )
            out.write(json.dumps(_gpt_trader_line(rng, i, stamp)) + "\n")


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


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the report's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(events: Path, runs: int) -> tuple[float, float, float, dict[str, object]]:
    """(best seconds with the default workers, best seconds in one process, least CPU seconds
    of a one-process run, the report). The CPU figure is what a busy machine distorts least."""
    best, serial, cpu = float("inf"), float("inf"), float("inf")
    report: dict[str, object] = {}
    for _ in range(runs):
        started = time.perf_counter()
        report = compute_daily_report(events_files=[events], metrics_file=None, day=DAY)
        best = min(best, time.perf_counter() - started)
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        compute_daily_report(events_files=[events], metrics_file=None, day=DAY, workers=1)
        serial = min(serial, time.perf_counter() - started)
        cpu = min(cpu, _cpu_seconds() - cpu_started)
    return best, serial, cpu, report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="50,000 events: a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument(
        "--shape", choices=("ours", "gpt-trader", "both"), default="both",
        help="our own event lines, GPT-Trader's legacy JSONL shapes, or both (default)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    count = 50_000 if args.quick else 1_000_000
    for name, value in versions("opentelemetry-sdk", "orjson").items():
        print(f"{name}: {value}")
    print(f"json parser: {reader.JSON_BACKEND}")
    shapes = ("ours", "gpt-trader") if args.shape == "both" else (args.shape,)
    targets = {"ours": READ_TARGET, "gpt-trader": GPT_TRADER_TARGET}
    figures: dict[str, object] = {"events": count, "parser": reader.JSON_BACKEND}
    print()
    print("| figure | value | target |")
    print("|---|---:|---|")
    verdicts = []
    for shape in shapes:
        with tempfile.TemporaryDirectory() as directory:
            events = Path(directory) / "events.jsonl"
            (generate if shape == "ours" else generate_gpt_trader)(events, count)
            size = events.stat().st_size
            best, serial, cpu, report = measure(events, 1 if args.quick else 3)
        rate = count / best
        workers = default_workers() if size >= PARALLEL_MIN_BYTES else 1
        target = targets[shape]
        verdict = "PASS" if rate >= target else "MISS"
        verdicts.append(f"{shape} {rate / 1000:,.0f}k/s ({verdict})")
        print(f"| {shape}: events in the day | {count:,} ({size / 1e6:.0f} MB, "
              f"{size / count:.0f} B a line) | |")  # fmt: skip
        print(f"| {shape}: report, best of runs ({workers} processes) | {best:.2f} s | |")
        print(f"| {shape}: report throughput | {rate / 1000:,.0f}k events/s | "
              f">= {target / 1000:,.0f}k {verdict} |")  # fmt: skip
        print(f"| {shape}: one process (workers=1) | {count / serial / 1000:,.0f}k events/s | |")
        print(f"| {shape}: CPU per event, one process | {cpu / count * 1e6:.2f} µs "
              f"(2 idle cores: at most {2 * count / cpu / 1000:,.0f}k events/s) | |")  # fmt: skip
        trades = report.get("trades", {})
        fills = trades.get("total") if isinstance(trades, dict) else "?"
        print(f"| {shape}: sanity | {fills} fills in the report | |")
        figures[shape] = {"bytes": size, "seconds": best, "events_per_second": rate,
                          "workers": workers, "cpu_seconds_one_process": cpu,
                          "serial_events_per_second": count / serial}  # fmt: skip
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rss_ok = "PASS" if max(rss_mib, child_mib) <= RSS_TARGET_MIB else "MISS"
    print(f"| peak RSS: this process / largest worker | {rss_mib:,.0f} / {child_mib:,.0f} MiB | "
          f"<= {RSS_TARGET_MIB} MiB {rss_ok} |")  # fmt: skip
    per_call = emit_cost(3 if args.quick else 7)
    verdict_emit = "PASS" if per_call <= EMIT_TARGET else "MISS"
    print(f"| telemetry.event() | {per_call * 1e9:,.0f} ns | <= 2 us {verdict_emit} |")
    summary = (
        f"summary: report {', '.join(verdicts)}, peak RSS {max(rss_mib, child_mib):,.0f} MiB "
        f"({rss_ok}), telemetry.event {per_call * 1e9:,.0f} ns ({verdict_emit}), "
        f"parser {reader.JSON_BACKEND}"
    )
    print(summary)
    if args.json is not None:
        figures |= {"rss_mib": rss_mib, "worker_rss_mib": child_mib, "event_call_seconds": per_call}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
