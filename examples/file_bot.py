"""A bot that only writes files, served by ``trader-telemetry serve``.

Some bots cannot import the library yet (another language, a frozen deployment, the playbook's
GPT-Trader). They write two files, and the file-based exporter turns them into the same
``/metrics``, ``/metrics.json`` and ``/health`` the library serves, with the same names:

* ``events.jsonl``: one JSON object per line, appended (``cycle``, ``order``, ``fill``,
  ``ws_reconnect`` ... see docs/events.md); each line written whole with its newline;
* ``metrics.json``: the latest state (equity, PnL, positions, the daily-loss guard), replaced
  atomically: written to a temporary file, then renamed over the old one.

The bot part below uses the standard library only. For a self-contained example this script
also starts the exporter as a child process; in production it runs as its own service::

    trader-telemetry serve --metrics-file DIR/metrics.json --events-file DIR/events.jsonl

Run it and open the URL it prints on its first line (the exporter's)::

    python examples/file_bot.py --data-dir var/data/file_bot
    python examples/file_bot.py --cycles 20 --port 0 --data-dir /tmp/file_bot
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

MARKS = {"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0}
DAILY_LOSS_LIMIT = 1_500.0


def utc_now() -> str:
    """RFC 3339 UTC with milliseconds, as the events format wants."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FileWriter:
    """The bot's two files: an append-only events log and an atomically replaced snapshot."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = data_dir / "metrics.json"
        self.events_path = data_dir / "events.jsonl"
        self._events: TextIO = self.events_path.open("a", encoding="utf-8")

    def event(self, event_type: str, **fields: Any) -> None:
        """Append one whole line (a reader never sees half of it: it waits for the newline)."""
        line = {"timestamp": utc_now(), "event_type": event_type, **fields}
        self._events.write(json.dumps(line) + "\n")
        self._events.flush()

    def snapshot(self, document: dict[str, Any]) -> None:
        """Replace metrics.json atomically: temp file in the same directory, fsync, rename."""
        fd, tmp = tempfile.mkstemp(dir=self.metrics_path.parent, prefix=".metrics-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(self.metrics_path)

    def close(self) -> None:
        """Close the events file."""
        self._events.close()


class FileOnlyBot:
    """A toy bot: buys a little BTC every cycle, times its own cycles, writes files."""

    def __init__(self, files: FileWriter, profile: str) -> None:
        self.files = files
        self.profile = profile
        self.cycle = 0
        self.quantity = 0.0
        self.realized = 0.0

    def run_cycle(self) -> None:
        """One cycle: trade, then one ``cycle`` event and a new metrics.json."""
        self.cycle += 1
        started = time.perf_counter()
        self.files.event("order", symbol="BTC-PERP", side="buy")
        self.quantity += 0.01
        self.realized += 1.0
        self.files.event(
            "fill", symbol="BTC-PERP", side="buy", quantity=0.01, price=MARKS["BTC-PERP"], fee=0.1
        )
        trade_seconds = time.perf_counter() - started
        if self.cycle % 10 == 5:
            self.files.event("ws_reconnect", stream="marks")
        duration = time.perf_counter() - started
        self.files.event(
            "cycle",
            number=self.cycle,
            duration_seconds=duration,
            outcome="ok",
            phases={"trade": trade_seconds},
        )
        self.files.snapshot(self.document())

    def document(self) -> dict[str, Any]:
        """What metrics.json says now (the shapes docs/file-exporter.md maps)."""
        return {
            "timestamp": utc_now(),
            "profile": self.profile,
            "equity": 10_000.0 + self.realized,
            "pnl": {"total": self.realized, "realized": self.realized, "unrealized": 0.0},
            "positions": [
                {
                    "symbol": "BTC-PERP",
                    "quantity": self.quantity,
                    "side": "long",
                    "mark_price": MARKS["BTC-PERP"],
                }
            ],
            "risk": {"daily_loss": 0.0, "daily_loss_limit": DAILY_LOSS_LIMIT},
        }


def start_exporter(
    files: FileWriter, args: argparse.Namespace
) -> tuple[subprocess.Popen[str], str]:
    """Start ``trader-telemetry serve`` on the two files; returns the process and its URL."""
    command = [
        *(sys.executable, "-m", "trader_telemetry", "serve"),
        *("--metrics-file", str(files.metrics_path), "--events-file", str(files.events_path)),
        *("--host", "127.0.0.1", "--port", str(args.port), "--namespace", args.namespace),
        *("--profile", args.profile, "--interval", "0"),  # 0: read the files when scraped
    ]
    exporter = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        command, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert exporter.stdout is not None  # noqa: S101 - stdout=PIPE
    first = exporter.stdout.readline()  # "trader-telemetry serve: metrics on URL (files)"
    if " on " not in first:
        exporter.kill()
        raise SystemExit(f"the exporter did not start: {first!r}")
    return exporter, first.split(" on ", 1)[1].split()[0]


def stop_exporter(exporter: subprocess.Popen[str]) -> None:
    """SIGTERM, as systemd or ``docker stop`` would send; the exporter stops cleanly."""
    exporter.terminate()
    try:
        exporter.wait(timeout=10)
    except subprocess.TimeoutExpired:
        exporter.kill()
        exporter.wait()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The example's options (``--cycles`` and ``--port 0`` let the test suite bound it)."""
    parser = argparse.ArgumentParser(description="A bot that only writes files.")
    parser.add_argument("--data-dir", default="var/data/file_bot/default", help="where to write")
    parser.add_argument("--cycles", type=int, default=0, help="stop after N cycles (0: never)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between cycles")
    parser.add_argument("--port", type=int, default=9000, help="exporter port (0: a free one)")
    parser.add_argument("--namespace", default="trader", help="metric prefix")
    parser.add_argument("--profile", default="default", help="deployment profile")
    parser.add_argument(
        "--linger",
        type=float,
        default=0.0,
        help="after the last cycle, keep serving this long so a scrape sees the final values",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the exporter, run the bot, stop both."""
    args = parse_args(argv)
    files = FileWriter(Path(args.data_dir))
    bot = FileOnlyBot(files, args.profile)
    files.snapshot(bot.document())  # a first snapshot, so the exporter never finds it missing
    exporter, url = start_exporter(files, args)
    print(url, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    try:
        while not stop.is_set() and (args.cycles == 0 or bot.cycle < args.cycles):
            bot.run_cycle()
            stop.wait(args.interval)
        print(f"done: {bot.cycle} cycles", flush=True)
        stop.wait(args.linger)
    finally:
        files.close()
        stop_exporter(exporter)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
