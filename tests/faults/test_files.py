"""File faults: an events directory that cannot be written, a full disk, corrupt and truncated
``events.jsonl`` lines, and the bot killed with SIGKILL while writing ``metrics.json``.

The bot runs with every health check unregistered, so each ``events.jsonl`` line comes from a
recording call in the ledger and the file can be reconciled line by line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import trader_telemetry as tt
from trader_telemetry.events import ReadStats, read_events
from trader_telemetry.simulation import SimulatedBot

from .accounting import account, settle_events
from .conftest import RecordRow
from .harness import (
    LoopStats,
    ledger_of,
    make_bot,
    run_loop,
    silence_health,
    wait_until,
)
from .summary import Verdict, exceptions_verdict, loop_verdict, lost_verdict

ROOT = Path(__file__).resolve().parents[2]
FAULT_SECONDS = 0.6  # three rounds of the events writer (every 0.2 s) meet the fault
MAX_CYCLE_COST = 0.25


def file_bot(make: Callable[..., tt.Telemetry], data_dir: Path, **config: object) -> tt.Telemetry:
    config.setdefault("events_queue_size", 300)
    telemetry = make(data_dir=data_dir, metrics_file_interval_seconds=0.05, **config)
    silence_health(telemetry)
    return telemetry


def fault_then_recover(
    telemetry: tt.Telemetry, recover: Callable[[], None]
) -> tuple[LoopStats, SimulatedBot]:
    """Run the bot through the fault, heal it, run on; returns (stats, bot)."""
    bot = make_bot(telemetry)
    stats = run_loop(bot, seconds=FAULT_SECONDS)
    during = stats.cycles
    recover()
    run_loop(bot, seconds=0.5, first=during + 1, stats=stats)
    return stats, bot


def parses(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def test_events_directory_unwritable(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """The data directory's parent is a regular file, so creating it or any file in it fails
    with ENOTDIR. (The suite runs as root, which chmod cannot stop; a path under a file stops
    everyone.) Then the file goes and a directory takes its place: the kept events are written."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file where a directory should be\n")
    data_dir = blocker / "data"
    telemetry = file_bot(make_telemetry, data_dir)

    def recover() -> None:
        blocker.unlink()

    stats, bot = fault_then_recover(telemetry, recover)
    accounting = settle_events(telemetry, ledger_of(bot), data_dir)
    snapshot_ok = wait_until(lambda: parses(data_dir / "metrics.json"), 3.0)
    row = fault_row(
        "events directory unwritable (ENOTDIR), then fixed",
        loop=loop_verdict(stats, min_cycles=100, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=lost_verdict(accounting),
    )
    row.check()
    assert accounting.errors.get("events_io", 0) >= 1, accounting.errors
    assert accounting.errors.get("metrics_file_io", 0) >= 1, accounting.errors
    assert snapshot_ok, "metrics.json was not written once the directory could be made"


def test_disk_full(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """``events.jsonl`` is a symlink to /dev/full: every write fails with ENOSPC. The events
    are kept for a retry up to the queue size, the rest counted; once space is back (the link
    replaced by a file) the kept ones are written. (``metrics.json`` is replaced by a rename,
    which a symlink cannot redirect, so it is not part of this fault.)"""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    events = data_dir / "events.jsonl"
    events.symlink_to("/dev/full")
    telemetry = file_bot(make_telemetry, data_dir)
    stats, bot = fault_then_recover(telemetry, events.unlink)
    accounting = settle_events(telemetry, ledger_of(bot), data_dir)
    row = fault_row(
        "disk full (events.jsonl -> /dev/full), then space back",
        loop=loop_verdict(stats, min_cycles=100, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=lost_verdict(accounting),
    )
    row.check()
    assert accounting.errors.get("events_io", 0) >= 1, accounting.errors
    assert accounting.dropped.get("events:io_error", 0) > 0, "the fault never filled the queue"
    assert events.is_file()
    assert not events.is_symlink()


CORRUPT = [
    b"this is not json\n",
    b"[1, 2, 3]\n",  # JSON, not an object
    b'{"timestamp": "2026-01-01T00:00:00Z", "event_type": "fill", "price": 1\n',  # cut short
    b"\x00\xff\xfe\x00 binary junk\n",
]
TORN = b'{"timestamp": "2026-01-01T00:00:00.000Z", "event_type": "fill", "pri'


def test_corrupt_and_truncated_events_lines(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """Corrupt lines land in ``events.jsonl`` while the bot writes it, and the file ends in a
    torn line (a process killed mid-write): the reader skips and counts them, and finds every
    event the bot recorded."""
    data_dir = tmp_path / "data"
    telemetry = file_bot(make_telemetry, data_dir, events_queue_size=100_000)
    bot = make_bot(telemetry)
    stats = run_loop(bot, seconds=0.3)
    with (data_dir / "events.jsonl").open("ab") as stream:  # O_APPEND: whole lines
        stream.write(b"".join(CORRUPT))
    run_loop(bot, seconds=0.3, first=stats.cycles + 1, stats=stats)
    accounting = settle_events(telemetry, ledger_of(bot), data_dir)
    telemetry.shutdown()
    with (data_dir / "events.jsonl").open("ab") as stream:
        stream.write(TORN)
    read = ReadStats()
    events = sum(1 for _ in read_events(data_dir / "events.jsonl", stats=read))
    counted = read.corrupt == len(CORRUPT) and read.truncated_last_line
    row = fault_row(
        "corrupt and truncated events.jsonl lines",
        loop=loop_verdict(stats, min_cycles=100, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            accounting.nothing_lost and counted,
            f"{accounting.summary()}; reader: {events} events, skipped {read.corrupt} corrupt "
            f"+ {int(read.truncated_last_line)} torn",
        ),
    )
    row.check()
    assert events == sum(ledger_of(bot).events.values())


def test_restart_after_a_torn_last_line(
    tmp_path: Path, make_telemetry: Callable[..., tt.Telemetry], fault_row: RecordRow
) -> None:
    """A bot killed mid-write left a torn last line; the restarted bot appends after it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "events.jsonl").write_bytes(TORN)  # what the killed process left behind
    telemetry = file_bot(make_telemetry, data_dir)
    bot = make_bot(telemetry)
    stats = run_loop(bot, cycles=50)
    accounting = settle_events(telemetry, ledger_of(bot), data_dir, timeout=0.5)
    row = fault_row(
        "restart after a torn events.jsonl line",
        loop=loop_verdict(stats, min_cycles=50, max_cost=MAX_CYCLE_COST),
        exceptions=exceptions_verdict(stats),
        lost=lost_verdict(accounting),
    )
    row.check()


BOT_SCRIPT = textwrap.dedent(
    """
    import sys
    import trader_telemetry as tt
    from tests.faults.harness import LoopStats, make_bot, run_loop

    telemetry = tt.Telemetry(
        namespace="fault", serve=False, data_dir=sys.argv[1], metrics_file_interval_seconds=0.01
    )
    bot = make_bot(telemetry)
    stats = LoopStats()
    print("ready", flush=True)
    while True:
        run_loop(bot, cycles=stats.cycles + 25, first=stats.cycles + 1, stats=stats)
        print(stats.cycles, stats.raised, stats.unchanged, len(stats.changed), flush=True)
    """
)


def _follow(stream: IO[str], progress: list[list[int]]) -> threading.Thread:
    """Start a thread appending each line of ``stream`` (integers) to ``progress``."""

    def read() -> None:
        progress.extend([int(x) for x in line.split()] for line in stream)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def test_sigkill_while_writing_metrics_json(tmp_path: Path, fault_row: RecordRow) -> None:
    """A bot process rewriting ``metrics.json`` every 10 ms is killed with SIGKILL. Every read
    of the file while it ran parsed, the file left behind parses, and so does every whole
    line of ``events.jsonl``; a restarted bot takes over the same files."""
    data_dir = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    progress: list[list[int]] = []
    errors = tmp_path / "stderr.txt"
    with (
        errors.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-c", BOT_SCRIPT, str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        ) as bot,
    ):
        try:
            stdout = bot.stdout
            assert stdout is not None
            assert stdout.readline().strip() == "ready", errors.read_text()[-2000:]
            reader = _follow(stdout, progress)
            reads, bad, counts = 0, 0, []
            deadline = time.monotonic() + 0.8
            while time.monotonic() < deadline:
                if (data_dir / "metrics.json").exists():
                    reads += 1
                    try:
                        counts.append(json.loads((data_dir / "metrics.json").read_bytes()))
                    except ValueError:
                        bad += 1
                time.sleep(0.005)
            os.kill(bot.pid, signal.SIGKILL)
            bot.wait(timeout=10)
            reader.join(timeout=5)
        finally:
            if bot.poll() is None:  # a failed check above: stop it all the same, by pid
                os.kill(bot.pid, signal.SIGKILL)
                bot.wait(timeout=10)
    cycles = [c["cycle_metrics"]["count"] for c in counts]
    left = json.loads((data_dir / "metrics.json").read_text())
    lines = (data_dir / "events.jsonl").read_bytes().split(b"\n")
    whole_bad = 0
    for raw in lines[:-1]:  # the bytes after the last newline may be torn
        try:
            json.loads(raw)
        except ValueError:
            whole_bad += 1
    temp_files = len(list(data_dir.glob(".metrics.json.*.tmp")))
    restarted = tt.Telemetry(namespace="fault", serve=False, data_dir=data_dir)
    with restarted.cycle_timer():
        pass
    restarted.shutdown()
    resumed = json.loads((data_dir / "metrics.json").read_text())["cycle_metrics"]["count"] == 1
    ran, raised, unchanged, changed = progress[-1] if progress else [0, 0, 0, 0]
    stats = LoopStats(cycles=ran, raised=raised, unchanged=unchanged)
    stats.changed = ["in the killed process"] * changed
    row = fault_row(
        "metrics.json writer killed with SIGKILL",
        loop=loop_verdict(stats, min_cycles=100),
        exceptions=exceptions_verdict(stats),
        lost=Verdict(
            bad == 0 and whole_bad == 0 and resumed and bool(cycles) and cycles[-1] > 0,
            f"{reads} reads while running, {bad} unparseable; left file parses "
            f"({left['cycle_metrics']['count']} cycles); {len(lines) - 1} whole event lines, "
            f"{whole_bad} bad; {temp_files} temp file(s) left",
        ),
    )
    row.check()
    assert cycles == sorted(cycles), "metrics.json went back in time"
    assert cycles[-1] > cycles[0], "the bot was not cycling"


def test_the_reconciliation_itself_can_fail(make_telemetry: Callable[..., tt.Telemetry]) -> None:
    """A control for every case here: an order the library never saw shows as lost."""
    telemetry = make_telemetry()
    bot = make_bot(telemetry)
    run_loop(bot, cycles=20)
    ledger = ledger_of(bot)
    assert account(telemetry, ledger).nothing_lost
    ledger.add("orders", "order")  # one order the library was never told about
    assert account(telemetry, ledger).lost["orders"] == 1
