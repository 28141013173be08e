"""The file exporter's scrape latency with a large events file already consumed and 1,000 new
lines appended between scrapes.

Run from the repository root::

    python benchmarks/file_exporter.py                # 1 GB events file in a temp dir
    python benchmarks/file_exporter.py --size 100M    # a smaller file
    python benchmarks/file_exporter.py --quick        # 20 MB, 10 scrapes: a smoke run
    python benchmarks/file_exporter.py --json out.json

The file (our own event lines: cycles, orders, fills, account snapshots, reconnects) is
generated in a temporary directory and deleted afterwards. The exporter serves on 127.0.0.1 and
each scrape is a real HTTP GET of /metrics; before each one, 1,000 lines are appended.

Target (printed as PASS/MISS, always exit 0): every scrape < 50 ms, reading only the appended
bytes (the bytes read per scrape are printed next to the bytes appended).

``--gpt-trader-lines N`` (default 1,000,000; 0 skips it) also times the first catch-up of a
GPT-Trader-shaped ``events.jsonl`` (bot_v2 lines: positions, pnl updates, trades and their
fills, reconnects, stale marks, rejections, cycle rows; about 165 bytes a line), against a
bare ``orjson.loads`` loop over the same lines in the same run (the floor for any Python
reader). Target: >= 500,000 lines/s.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trader_telemetry.clock import rfc3339
from trader_telemetry.compat import FileExporter
from trader_telemetry.events import reader
from versions import versions

TARGET_SECONDS = 0.050
START = 1_795_600_000.0  # 2026-11-25T09:46:40Z


def lines(count: int, first: int) -> bytes:
    """``count`` event lines of our format, numbered from ``first``, one second apart."""
    out = []
    for i in range(first, first + count):
        stamp = rfc3339(START + i * 0.01)
        kind = i % 5
        if kind == 0:
            record = {"event_type": "cycle", "number": i, "duration_seconds": 0.2 + i % 7 / 10,
                      "outcome": "ok", "phases": {"fetch_marks": 0.05, "place": 0.1}}  # fmt: skip
        elif kind == 1:
            record = {
                "event_type": "order",
                "symbol": ("BTC-PERP", "ETH-PERP")[i % 2],
                "side": "buy",
            }
        elif kind == 2:
            record = {"event_type": "fill", "symbol": "BTC-PERP", "side": "sell", "quantity": 0.01,
                      "price": 97_000.0, "fee": 0.4, "realized_pnl": 1.5}  # fmt: skip
        elif kind == 3:
            record = {"event_type": "account", "equity": 100_000.0 + i % 1000,
                      "realized_pnl": 12.0, "unrealized_pnl": 3.0, "funding_pnl": -1.0}  # fmt: skip
        else:
            record = {"event_type": "ws_reconnect", "stream": "marks"}
        out.append(json.dumps({"timestamp": stamp, **record}, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode()


def generate(path: Path, size: int) -> int:
    """Write about ``size`` bytes of events; the number of lines written."""
    written = count = 0
    block = 10_000
    with path.open("wb") as out:
        while written < size:
            data = lines(block, count)
            out.write(data)
            written += len(data)
            count += block
    return count


GPT_TRADER_TARGET = 500_000  # lines/s
_SYMBOLS = ("BTC-PERP", "ETH-PERP", "SOL-PERP")


def gpt_trader_lines(count: int, first: int) -> bytes:
    """``count`` GPT-Trader (bot_v2 ``events.jsonl``) lines, 50 ms apart."""
    out = []
    for i in range(first, first + count):
        at = START + i * 0.05
        when = rfc3339(at).replace("Z", "+00:00")
        symbol, kind = _SYMBOLS[i % 3], i % 20
        if kind < 6:
            record: dict[str, Any] = {"type": "position", "symbol": symbol, "mark_price": "239.27",
                                      "entry": "239.72", "quantity": "15.4721"}  # fmt: skip
        elif kind < 10:
            record = {"type": "pnl_update", "symbol": symbol, "realized_pnl": -1.5,
                      "unrealized_pnl": 2.25, "timestamp": at}  # fmt: skip
        elif kind < 12:
            record = {"type": "trade", "order_id": f"o{i}", "symbol": symbol, "side": "buy",
                      "quantity": "0.1", "price": "239.72", "status": "filled"}  # fmt: skip
        elif kind < 14:
            record = {"type": "fill", "order_id": f"o{i - 2}", "symbol": symbol, "side": "buy",
                      "quantity": 0.1, "price": 239.72, "pnl": 0.5, "fee": 0.02}  # fmt: skip
        elif kind < 16:
            record = {"type": "websocket_reconnect", "reconnect_count": i, "timestamp": at}
        elif kind < 18:
            record = {"type": "stale_mark_detected", "symbol": symbol, "timestamp": at}
        elif kind < 19:
            record = {"type": "order_rejected", "symbol": symbol, "reason": "mark_staleness"}
        else:
            record = {"type": "cycle_metrics", "equity": 10_000.0 + i % 100, "open_orders": 0,
                      "timestamp": when}  # fmt: skip
        out.append(json.dumps({**record, "time": when}))
    return ("\n".join(out) + "\n").encode()


def measure_catch_up(count: int) -> dict[str, object]:
    """The first catch-up of ``count`` GPT-Trader lines, and a bare parse of the same lines."""

    with tempfile.TemporaryDirectory(prefix="tt-file-exporter-") as directory:
        events = Path(directory) / "events.jsonl"
        with events.open("wb") as out:
            for first in range(0, count, 10_000):
                out.write(gpt_trader_lines(min(10_000, count - first), first))
        size = events.stat().st_size
        started = time.perf_counter()
        data = events.read_bytes()
        loads = reader.loads_json
        for line in io.BytesIO(data).readlines():
            loads(line).get("type")
        bare = time.perf_counter() - started
        del data
        with FileExporter(events_file=events, namespace="bench", serve=False) as exporter:
            started = time.perf_counter()
            exporter.catch_up()
            seconds = time.perf_counter() - started
            assert exporter.lines_read == count, (exporter.lines_read, count)
    return {"gpt_trader_lines": count, "gpt_trader_bytes": size,
            "catch_up_seconds": seconds, "bare_parse_seconds": bare}  # fmt: skip


def report_catch_up(figures: dict[str, Any]) -> None:
    count, seconds = figures["gpt_trader_lines"], figures["catch_up_seconds"]
    rate, bare = count / seconds, count / figures["bare_parse_seconds"]
    verdict = "PASS" if rate >= GPT_TRADER_TARGET else "MISS"
    print()
    print("| figure | value | target |")
    print("|---|---:|---|")
    print(f"| GPT-Trader-shaped file | {count:,} lines, "
          f"{figures['gpt_trader_bytes'] / 1e6:,.0f} MB | |")  # fmt: skip
    print(f"| first catch-up | {seconds:.2f} s ({rate:,.0f} lines/s) | "
          f">= {GPT_TRADER_TARGET:,} lines/s {verdict} |")  # fmt: skip
    print(f"| bare orjson.loads loop, same lines | {bare:,.0f} lines/s | |")
    print(f"| catch-up / bare parse | {rate / bare:.2f} | |")


def parse_size(text: str) -> int:
    """``1G``, ``100M``, ``512K`` or plain bytes."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = text.strip().upper().removesuffix("B")
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def scrape(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - our own http URL
        body: bytes = response.read()
    return time.perf_counter() - started, body


def measure(size: int, scrapes: int, per_scrape: int) -> dict[str, object]:
    """Generate, consume, then time ``scrapes`` scrapes with ``per_scrape`` new lines each."""
    with tempfile.TemporaryDirectory(prefix="tt-file-exporter-") as directory:
        events = Path(directory) / "events.jsonl"
        started = time.perf_counter()
        count = generate(events, size)
        file_bytes = events.stat().st_size
        print(f"generated {count:,} lines ({file_bytes / 1e6:,.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        with FileExporter(events_file=events, namespace="bench", port=0) as exporter:
            url = exporter.metrics_url
            assert url is not None
            started = time.perf_counter()
            exporter.catch_up()
            catch_up = time.perf_counter() - started
            assert exporter.bytes_read == file_bytes, (exporter.bytes_read, file_bytes)
            scrape(url)  # warm: the first render builds the families
            idle, _ = scrape(url)
            timings, read, appended = [], [], []
            for n in range(scrapes):
                data = lines(per_scrape, count + n * per_scrape)
                with events.open("ab") as out:
                    out.write(data)
                before = exporter.bytes_read
                seconds, body = scrape(url)
                timings.append(seconds)
                read.append(exporter.bytes_read - before)
                appended.append(len(data))
            expected = count + scrapes * per_scrape
            assert exporter.lines_read == expected, (exporter.lines_read, expected)
            assert b"bench_cycles_total" in body
    return {"file_bytes": file_bytes, "lines": count, "catch_up_seconds": catch_up,
            "idle_scrape_seconds": idle, "scrape_seconds": timings,
            "bytes_read_per_scrape": read, "bytes_appended_per_scrape": appended,
            "lines_per_scrape": per_scrape, "parser": reader.JSON_BACKEND}  # fmt: skip


def report(figures: dict[str, Any]) -> None:
    timings = sorted(figures["scrape_seconds"])
    p50 = statistics.median(timings) * 1000
    p99 = timings[min(len(timings) - 1, int(0.99 * len(timings)))] * 1000
    worst = timings[-1] * 1000
    only_new = figures["bytes_read_per_scrape"] == figures["bytes_appended_per_scrape"]
    verdict = "PASS" if worst < TARGET_SECONDS * 1000 and only_new else "MISS"
    mb, count, catch_up = figures["file_bytes"] / 1e6, figures["lines"], figures["catch_up_seconds"]
    new = f"{figures['lines_per_scrape']:,} new lines"
    read = statistics.mean(figures["bytes_read_per_scrape"])
    appended = statistics.mean(figures["bytes_appended_per_scrape"])
    print()
    print("| figure | value | target |")
    print("|---|---:|---|")
    print(f"| events file consumed | {mb:,.0f} MB, {count:,} lines | |")
    print(f"| first catch-up | {catch_up:.1f} s ({count / catch_up / 1000:,.0f}k lines/s) | |")
    print(f"| scrape, nothing new | {figures['idle_scrape_seconds'] * 1000:.1f} ms | |")
    print(f"| scrape after {new}, p50 | {p50:.1f} ms | |")
    print(f"| scrape after {new}, p99 | {p99:.1f} ms | |")
    print(f"| scrape after {new}, max | {worst:.1f} ms | < 50 ms {verdict} |")
    print(
        f"| bytes read per scrape | {read:,.0f} (appended {appended:,.0f}) | only new: {only_new} |"
    )
    print(f"\nsummary: {len(timings)} scrapes after a {mb:,.0f} MB file: max {worst:.1f} ms, "
          f"p50 {p50:.1f} ms ({verdict})")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", default="1G", help="events file size (default: 1G)")
    parser.add_argument("--scrapes", type=int, default=30, help="timed scrapes (default: 30)")
    parser.add_argument("--lines", type=int, default=1000, help="lines appended between scrapes")
    parser.add_argument("--quick", action="store_true", help="20 MB, 10 scrapes: a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument(
        "--gpt-trader-lines",
        type=int,
        default=1_000_000,
        help="lines of the GPT-Trader-shaped catch-up measurement; 0 skips it (default 1M)",
    )
    args = parser.parse_args(argv)
    for name, value in versions("opentelemetry-sdk", "orjson").items():
        print(f"{name}: {value}")
    print(f"json parser: {reader.JSON_BACKEND}")
    figures = measure(
        parse_size("20M" if args.quick else args.size),
        10 if args.quick else args.scrapes,
        args.lines,
    )
    report(figures)
    if args.gpt_trader_lines > 0:
        catch_up = measure_catch_up(200_000 if args.quick else args.gpt_trader_lines)
        report_catch_up(catch_up)
        figures.update(catch_up)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
