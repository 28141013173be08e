"""FileExporter: counters rise on the next scrape from the appended bytes only, and file
faults (missing, unreadable, half-written, corrupt, replaced mid-read, rotated, truncated)
keep the last good values, age them, count them, and never stop the exporter."""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trader_telemetry as tt
from trader_telemetry.clock import rfc3339
from trader_telemetry.compat import FileExporter
from trader_telemetry.events import load_metrics_snapshot
from trader_telemetry.events.metrics_file import write_atomically

from .shapes import series

NS = "t"
NOW = 1_795_608_000.0


def reconnects(count: int, at: float = NOW - 1.0, stream: str = "marks") -> bytes:
    line = json.dumps({"timestamp": rfc3339(at), "event_type": "ws_reconnect", "stream": stream})
    return (line + "\n").encode() * count


def metrics_doc(equity: float, at: float = NOW - 1.0) -> bytes:
    return json.dumps({"timestamp": rfc3339(at), "account_snapshot": {"equity": equity}}).encode()


def value(exporter: FileExporter, name: str, **labels: str) -> float | None:
    return series(exporter.telemetry).get((f"{NS}_{name}", tuple(sorted(labels.items()))))


def scrape(exporter: FileExporter) -> str:
    assert exporter.metrics_url is not None
    with urllib.request.urlopen(exporter.metrics_url, timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture
def clock() -> tt.ManualClock:
    return tt.ManualClock(wall=NOW)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "metrics.json", tmp_path / "events.jsonl"


@pytest.fixture
def exporter(files: tuple[Path, Path], clock: tt.ManualClock) -> Iterator[FileExporter]:
    metrics, events = files
    instance = FileExporter(metrics, events, namespace=NS, serve=False, clock=clock)
    yield instance
    instance.close()


# ---------------------------------------------------------------- incremental refresh
def test_appended_events_count_on_the_next_scrape_reading_only_the_new_bytes(
    files: tuple[Path, Path], clock: tt.ManualClock
) -> None:
    metrics, events = files
    events.write_bytes(reconnects(20_000))  # about 1.6 MB already there
    with FileExporter(metrics, events, namespace=NS, port=0, clock=clock) as exporter:
        assert f'{NS}_websocket_reconnects_total{{stream="marks"}} 20000' in scrape(exporter)
        consumed = exporter.bytes_read
        assert consumed == events.stat().st_size
        appended = reconnects(3)
        with events.open("ab") as out:
            out.write(appended)
        assert f'{NS}_websocket_reconnects_total{{stream="marks"}} 20003' in scrape(exporter)
        assert exporter.bytes_read - consumed == len(appended)
        scrape(exporter)  # nothing new: nothing read
        assert exporter.bytes_read - consumed == len(appended)


def test_metrics_json_is_read_again_only_when_it_changed(
    exporter: FileExporter, files: tuple[Path, Path]
) -> None:
    metrics, _ = files
    write_atomically(metrics, metrics_doc(1_000.0))
    assert value(exporter, "equity") == 1_000.0
    for _ in range(3):
        series(exporter.telemetry)
    assert exporter.metrics_reads == 1
    write_atomically(metrics, metrics_doc(1_100.0))
    assert value(exporter, "equity") == 1_100.0
    assert exporter.metrics_reads == 2


def test_the_background_thread_catches_up_without_a_scrape(
    files: tuple[Path, Path], clock: tt.ManualClock
) -> None:
    metrics, events = files
    events.write_bytes(reconnects(5))
    with FileExporter(
        metrics, events, namespace=NS, serve=False, clock=clock, chunk_bytes=64
    ) as exporter:
        exporter.start(interval=0.02)
        with events.open("ab") as out:
            out.write(reconnects(2))
        deadline = time.monotonic() + 5
        while exporter.lines_read < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert exporter.lines_read == 7


# ---------------------------------------------------------------- metrics.json faults
def test_missing_metrics_json_keeps_the_last_values_and_ages_them(
    exporter: FileExporter,
    files: tuple[Path, Path],
    clock: tt.ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics, _ = files
    write_atomically(metrics, metrics_doc(1_000.0))
    os.utime(metrics, (NOW - 5.0, NOW - 5.0))
    assert value(exporter, "equity") == 1_000.0
    assert value(exporter, "exporter_source_age_seconds", file="metrics.json") == pytest.approx(5.0)
    metrics.unlink()
    with caplog.at_level(logging.WARNING, logger="trader_telemetry.compat"):
        for _ in range(3):
            clock.advance(10.0)
            series(exporter.telemetry)
    assert value(exporter, "equity") == 1_000.0
    assert value(exporter, "exporter_source_age_seconds", file="metrics.json") == pytest.approx(
        35.0
    )
    assert value(exporter, "exporter_read_errors_total", file="metrics.json", reason="missing") == 1
    assert (
        len([r for r in caplog.records if "metrics.json: missing" in r.getMessage()]) == 1
    )  # once, not per scrape


def test_half_written_metrics_json_is_counted_once_and_recovers(
    exporter: FileExporter, files: tuple[Path, Path]
) -> None:
    metrics, _ = files
    write_atomically(metrics, metrics_doc(1_000.0))
    assert value(exporter, "equity") == 1_000.0
    whole = metrics_doc(2_000.0)
    metrics.write_bytes(whole[: len(whole) // 2])  # a writer that does not rename, caught mid-write
    for _ in range(3):
        assert value(exporter, "equity") == 1_000.0
    assert value(exporter, "exporter_read_errors_total", file="metrics.json", reason="corrupt") == 1
    metrics.write_bytes(b"[1, 2, 3]")  # another bad version: JSON, not an object
    assert value(exporter, "equity") == 1_000.0
    assert value(exporter, "exporter_read_errors_total", file="metrics.json", reason="corrupt") == 2
    metrics.write_bytes(whole)
    assert value(exporter, "equity") == 2_000.0


def test_unreadable_metrics_json_is_reported(
    exporter: FileExporter, files: tuple[Path, Path]
) -> None:
    metrics, _ = files
    metrics.mkdir()  # root reads any file; a directory cannot be read as one
    series(exporter.telemetry)
    assert (
        value(exporter, "exporter_read_errors_total", file="metrics.json", reason="unreadable") == 1
    )


def test_metrics_json_replaced_mid_read_serves_the_new_version_whole(
    files: tuple[Path, Path], clock: tt.ManualClock
) -> None:
    metrics, events = files
    write_atomically(metrics, metrics_doc(1_000.0))
    replaced: list[bool] = []

    def replaced_while_reading(path: str) -> dict[str, Any] | None:
        document = load_metrics_snapshot(path)
        if not replaced:  # the bot renames a new version over the file during our read
            replaced.append(True)
            time.sleep(0.01)  # a distinct mtime even on a coarse clock
            write_atomically(metrics, metrics_doc(2_000.0))
        return document

    with FileExporter(
        metrics, events, namespace=NS, serve=False, clock=clock, loader=replaced_while_reading
    ) as exporter:
        assert value(exporter, "equity") == 2_000.0
        assert exporter.metrics_reads == 2
        assert (
            value(exporter, "exporter_read_errors_total", file="metrics.json", reason="corrupt")
            is None
        )


# ---------------------------------------------------------------- events.jsonl faults
def test_rotated_events_file_keeps_counting_upwards(
    exporter: FileExporter, files: tuple[Path, Path]
) -> None:
    _, events = files
    events.write_bytes(reconnects(5))
    assert value(exporter, "websocket_reconnects_total", stream="marks") == 5
    with events.open("ab") as late:
        os.rename(events, events.with_name("events.jsonl.1"))
        late.write(reconnects(1))  # written to the old file just after the rename
    events.write_bytes(reconnects(2))
    assert value(exporter, "websocket_reconnects_total", stream="marks") == 8
    assert exporter.bytes_read == len(reconnects(8))


def test_truncated_events_file_never_takes_a_counter_back(
    exporter: FileExporter, files: tuple[Path, Path]
) -> None:
    _, events = files
    events.write_bytes(reconnects(5))
    assert value(exporter, "websocket_reconnects_total", stream="marks") == 5
    with events.open("r+b") as file:
        file.truncate(0)
    events.write_bytes(reconnects(1))
    assert value(exporter, "websocket_reconnects_total", stream="marks") == 6


def test_a_bot_restart_does_not_reset_counters(
    exporter: FileExporter, files: tuple[Path, Path]
) -> None:
    metrics, events = files
    cycle = {
        "timestamp": rfc3339(NOW - 1),
        "event_type": "cycle",
        "duration_seconds": 0.1,
        "outcome": "ok",
    }
    events.write_text(
        json.dumps({**cycle, "number": 1}) + "\n" + json.dumps({**cycle, "number": 2}) + "\n"
    )
    assert value(exporter, "cycles_total", outcome="ok") == 2
    # the restarted bot numbers from 1 again and its own metrics.json says count 1
    write_atomically(
        metrics, json.dumps({"timestamp": rfc3339(NOW), "cycle_metrics": {"count": 1}}).encode()
    )
    with events.open("a") as out:
        out.write(json.dumps({**cycle, "number": 1}) + "\n")
    assert value(exporter, "cycles_total", outcome="ok") == 3


def test_missing_events_file_is_counted_then_read_when_it_appears(
    exporter: FileExporter, files: tuple[Path, Path], clock: tt.ManualClock
) -> None:
    _, events = files
    for _ in range(3):
        series(exporter.telemetry)
    assert value(exporter, "exporter_read_errors_total", file="events.jsonl", reason="missing") == 1
    clock.advance(20.0)
    assert value(exporter, "exporter_source_age_seconds", file="events.jsonl") == pytest.approx(
        20.0
    )
    events.write_bytes(reconnects(1))
    assert value(exporter, "websocket_reconnects_total", stream="marks") == 1


def test_bad_lines_are_counted_by_reason_and_a_torn_line_waits(
    exporter: FileExporter, files: tuple[Path, Path]
) -> None:
    _, events = files
    events.write_bytes(
        reconnects(1) + b"not json\n" + b'{"event_type": "cycle"}\n' + b'{"timestamp": "2026'
    )
    assert value(exporter, "websocket_reconnects_total", stream="marks") == 1
    assert (
        value(exporter, "exporter_read_errors_total", file="events.jsonl", reason="corrupt_line")
        == 1
    )
    assert (
        value(
            exporter, "exporter_read_errors_total", file="events.jsonl", reason="missing_timestamp"
        )
        == 1
    )
    with events.open("ab") as out:  # the bot finishes its line
        out.write(reconnects(1)[len(b'{"timestamp": "2026') :])
    assert value(exporter, "websocket_reconnects_total", stream="marks") == 2
    assert (
        value(exporter, "exporter_read_errors_total", file="events.jsonl", reason="corrupt_line")
        == 1
    )


# ---------------------------------------------------------------- circuit breaker recency
def test_a_legacy_breaker_trip_expires_after_the_hold_time(
    files: tuple[Path, Path], clock: tt.ManualClock
) -> None:
    metrics, events = files
    trip = {"type": "circuit_breaker_triggered", "time": rfc3339(NOW - 10), "reason": "daily_loss"}
    events.write_text(json.dumps(trip) + "\n")
    with FileExporter(
        metrics, events, namespace=NS, serve=False, clock=clock, breaker_hold_seconds=60
    ) as exporter:
        assert value(exporter, "circuit_breaker_triggered") == 1
        clock.advance(51.0)
        assert value(exporter, "circuit_breaker_triggered") == 0
        assert value(exporter, "circuit_breaker_trips_total", reason="daily_loss") == 1
        with events.open("a") as out:  # a new trip later on counts again
            out.write(json.dumps({**trip, "time": rfc3339(clock.time())}) + "\n")
        assert value(exporter, "circuit_breaker_triggered") == 1
        assert value(exporter, "circuit_breaker_trips_total", reason="daily_loss") == 2


def test_our_breaker_resets_on_its_reset_event_and_a_fresh_snapshot_keeps_a_trip_open(
    files: tuple[Path, Path], clock: tt.ManualClock
) -> None:
    metrics, events = files
    event = {
        "timestamp": rfc3339(NOW - 100),
        "event_type": "circuit_breaker",
        "triggered": True,
        "reason": "x",
    }
    events.write_text(json.dumps(event) + "\n")
    with FileExporter(
        metrics, events, namespace=NS, serve=False, clock=clock, breaker_hold_seconds=60
    ) as exporter:
        assert value(exporter, "circuit_breaker_triggered") == 0  # 100 s old, nothing confirms it
        snapshot = {
            "timestamp": rfc3339(clock.time()),
            "risk": {"circuit_breaker_triggered": True, "circuit_breaker_reason": "x"},
        }
        write_atomically(metrics, json.dumps(snapshot).encode())
        assert value(exporter, "circuit_breaker_triggered") == 1  # the live bot says it is open
        with events.open("a") as out:
            out.write(
                json.dumps({**event, "timestamp": rfc3339(clock.time() + 1), "triggered": False})
                + "\n"
            )
        clock.advance(2.0)
        assert value(exporter, "circuit_breaker_triggered") == 0
        # The hold (60 s) was shorter than the trip: it read 0 between, so two trips.
        assert value(exporter, "circuit_breaker_trips_total", reason="x") == 2


def test_the_exporter_needs_at_least_one_file() -> None:
    with pytest.raises(tt.ConfigurationError, match="metrics_file"):
        FileExporter(namespace=NS, serve=False)
