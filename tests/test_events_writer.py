"""events.jsonl and metrics.json: written from background threads, whole lines, atomic
snapshots; faults are counted, never raised into the bot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import trader_telemetry as tt
from tests.conftest import value
from trader_telemetry.events.writer import EventLog


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_recording_calls_write_the_events_the_report_needs(tmp_path: Path) -> None:
    clock = tt.ManualClock(wall=1_764_072_000.0)  # 2025-11-25T12:00:00Z
    telemetry = tt.Telemetry(serve=False, clock=clock, data_dir=str(tmp_path))
    try:
        with telemetry.cycle_timer() as cycle, cycle.phase("fetch_marks"):
            clock.advance(0.25)
        try:
            with telemetry.cycle_timer():
                raise TimeoutError
        except TimeoutError:
            pass
        telemetry.record_order("BTC-PERP", "BUY")
        telemetry.record_fill(
            "BTC-PERP", "buy", quantity=0.1, price=97_000.0, fee=3.9, realized_pnl=12.5
        )
        telemetry.record_rejection("ETH-PERP", "post_only")
        telemetry.record_account(equity=10_000.0, realized_pnl=12.5, funding_pnl=-1.0)
        telemetry.record_daily_loss(100.0, limit=1_000.0)
        telemetry.set_circuit_breaker(True, reason="daily_loss")
        telemetry.set_circuit_breaker(True, reason="daily_loss")  # no change: no event
        telemetry.record_ws_reconnect("marks")
        telemetry.record_stale_mark("SOL-PERP")
        telemetry.event("guard_triggered", guard="max_position", symbol="BTC-PERP")
    finally:
        telemetry.shutdown()
    events = lines(tmp_path / "events.jsonl")
    types = [e["event_type"] for e in events]
    assert types == [
        "cycle",
        "cycle",
        "order",
        "fill",
        "rejection",
        "account",
        "daily_loss",
        "circuit_breaker",
        "ws_reconnect",
        "stale_mark",
        "guard_triggered",
    ]
    assert events[0] == {
        "timestamp": "2025-11-25T12:00:00.250Z",
        "event_type": "cycle",
        "number": 1,
        "duration_seconds": 0.25,
        "outcome": "ok",
        "phases": {"fetch_marks": 0.25},
    }
    assert events[1]["outcome"] == "error"
    assert events[1]["error_type"] == "TimeoutError"
    assert events[2] == {**events[2], "symbol": "BTC-PERP", "side": "buy"}
    assert events[3]["realized_pnl"] == 12.5
    assert events[5]["total_pnl"] == 11.5
    assert events[7] == {**events[7], "triggered": True, "reason": "daily_loss"}
    assert all(str(e["timestamp"]).endswith("Z") for e in events)
    snapshot = json.loads((tmp_path / "metrics.json").read_text())
    assert snapshot["account_snapshot"]["equity"] == 10_000.0
    assert snapshot["cycle_metrics"]["count"] == 2


def test_daily_rotation_and_size_cap(tmp_path: Path) -> None:
    clock = tt.ManualClock(wall=1_764_115_190.0)  # 23:59:50 UTC
    log = EventLog(tmp_path, wall_time=clock.time, rotate_daily=True)
    log.emit("a", {})
    clock.advance(20)  # past midnight
    log.emit("b", {})
    log.close()
    assert [p.name for p in sorted(tmp_path.iterdir())] == [
        "events-2025-11-25.jsonl",
        "events-2025-11-26.jsonl",
    ]
    capped = EventLog(tmp_path / "capped", wall_time=time.time, max_bytes=200)
    for i in range(20):
        capped.emit("x", {"i": i})
        capped.flush()
    capped.close()
    assert (tmp_path / "capped" / "events.jsonl.1").exists()
    assert (tmp_path / "capped" / "events.jsonl").stat().st_size < 400


def test_non_finite_fields_become_null(tmp_path: Path) -> None:
    log = EventLog(tmp_path, wall_time=time.time)
    log.emit("bot", {"value": float("nan"), "nested": [float("inf"), 1.0]})
    log.close()
    (event,) = lines(tmp_path / "events.jsonl")
    assert event["value"] is None
    assert event["nested"] == [None, 1.0]


def test_unwritable_directory_is_logged_once_counted_and_never_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory's parent should be")
    # (data_dir itself a regular file is refused at configuration: see test_config.py)
    telemetry = tt.Telemetry(serve=False, data_dir=str(blocker / "data"))
    try:
        for _ in range(5):
            with telemetry.cycle_timer():
                pass
        assert telemetry._events is not None
        assert telemetry._events.flush() is False  # kept for a retry, not lost
        assert (value(telemetry, "telemetry_errors_total", reason="events_io") or 0) >= 1
    finally:
        telemetry.shutdown()


def test_disk_full_keeps_events_for_a_retry_and_counts_what_is_lost(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").symlink_to("/dev/full")
    dropped: dict[str, int] = {}
    errors: list[str] = []
    log = EventLog(
        tmp_path,
        wall_time=time.time,
        queue_size=10,
        on_drop=lambda reason, count: dropped.__setitem__(reason, dropped.get(reason, 0) + count),
        on_error=errors.append,
    )
    for i in range(25):
        log.emit("e", {"i": i})
        log.flush()
    assert dropped.get("io_error", 0) == 15  # 10 kept for the retry, the rest counted as lost
    log.close()
    assert errors
    # The last round at shutdown cannot write the 10 kept either: they are counted then.
    assert dropped.get("io_error", 0) == 25


def test_a_queue_flood_from_8_threads_loses_only_what_it_counts(tmp_path: Path) -> None:
    dropped = [0]
    lock = threading.Lock()

    def on_drop(reason: str, count: int) -> None:
        with lock:
            dropped[0] += count

    log = EventLog(tmp_path, wall_time=time.time, queue_size=500, on_drop=on_drop, interval=0.05)
    durations: list[float] = []

    def flood() -> None:
        for i in range(2_000):
            started = time.perf_counter()
            log.emit("flood", {"i": i})
            durations.append(time.perf_counter() - started)

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    written = len((tmp_path / "events.jsonl").read_text().splitlines())
    assert written + dropped[0] == 16_000
    assert dropped[0] > 0
    assert max(durations) < 0.05  # never blocks on the writer


def test_sigkill_mid_write_leaves_a_parseable_snapshot_and_whole_lines(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import trader_telemetry as tt
        t = tt.Telemetry(
            serve=False, data_dir={str(tmp_path)!r}, metrics_file_interval_seconds=0.01
        )
        print("ready", flush=True)
        n = 0
        while True:
            n += 1
            with t.cycle_timer():
                t.record_account(equity=float(n))
                t.event("tick", payload="x" * 200, n=n)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as bot:
        assert bot.stdout is not None
        assert bot.stdout.readline().strip() == "ready"
        # Kill it mid-write once the writers have written something (polled, not slept: a busy
        # machine flushes late).
        deadline = time.monotonic() + 30
        while not _written_enough(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(bot.pid, signal.SIGKILL)
        bot.wait()
    snapshot = json.loads((tmp_path / "metrics.json").read_text())
    assert snapshot["account_snapshot"]["equity"] > 0
    raw = (tmp_path / "events.jsonl").read_text().split("\n")
    whole = raw[:-1]  # the text after the last newline may be torn
    assert len(whole) > 100
    for line in whole:
        json.loads(line)


def _written_enough(data_dir: Path) -> bool:
    """metrics.json holds a snapshot with equity, and events.jsonl more than 100 lines."""
    try:
        snapshot = json.loads((data_dir / "metrics.json").read_text())
        lines = (data_dir / "events.jsonl").read_text().count("\n")
    except (OSError, ValueError):
        return False
    return bool(snapshot["account_snapshot"]["equity"]) and lines > 100


def test_transform_runs_off_the_bots_call_and_a_failure_drops_the_event(tmp_path: Path) -> None:
    seen: list[str] = []
    drops: list[tuple[str, int]] = []

    def redact(fields: dict[str, Any]) -> dict[str, Any]:
        seen.append(str(fields))
        if "boom" in fields:
            raise ValueError("cannot redact")
        return {k: ("[REDACTED]" if k == "token" else v) for k, v in fields.items()}

    log = EventLog(
        tmp_path, wall_time=lambda: 1.0e9, transform=redact, interval=60.0,
        on_drop=lambda reason, n: drops.append((reason, n)),
    )  # fmt: skip
    log.emit("login", {"user": "alice", "token": "abc123"})
    log.emit("odd", {"boom": 1})
    assert seen == []  # emit() only queued: the transform waits for the writer's round
    log.close()
    text = log.path().read_text()
    assert '"token":"[REDACTED]"' in text
    assert "abc123" not in text
    assert '"event_type":"odd"' not in text
    assert drops == [("transform_error", 1)]
    assert len(seen) == 2
