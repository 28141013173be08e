"""Stale-mark incidents found from the marks' ages on the writer thread (injectable clock)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trader_telemetry as tt
from trader_telemetry.report import compute_daily_report
from trader_telemetry.stale_watch import StaleMarkWatch

WALL = 1_795_564_800.0  # 2026-11-25T00:00:00Z


def _watch(clock: tt.ManualClock, marks: dict[str, float]) -> tuple[StaleMarkWatch, list[Any]]:
    events: list[tuple[str, dict[str, Any]]] = []
    watch = StaleMarkWatch(
        marks,
        warning_seconds=10.0,
        monotonic=clock.monotonic,
        wall_time=clock.time,
        emit=lambda kind, fields: events.append((kind, fields)),
    )
    return watch, events


def test_one_event_when_the_age_crosses_the_level_and_one_when_it_ends() -> None:
    clock = tt.ManualClock(wall=WALL, monotonic=100.0)
    marks = {"BTC-PERP": clock.monotonic(), "ETH-PERP": clock.monotonic()}
    watch, events = _watch(clock, marks)
    clock.advance(9.0)
    watch.check()
    assert events == []  # 9 s old: below the 10 s warning
    marks["ETH-PERP"] = clock.monotonic()  # ETH ticks at 9 s, BTC does not
    clock.advance(3.0)
    watch.check()
    assert events == [
        ("stale_mark", {"symbol": "BTC-PERP", "last_mark": "2026-11-25T00:00:00.000Z",
                        "since": "2026-11-25T00:00:10.000Z", "threshold_seconds": 10.0,
                        "source": "watch"}),
    ]  # fmt: skip
    for _ in range(5):  # once per incident, however many rounds it lasts
        clock.advance(1.0)
        watch.check()
    assert len(events) == 1
    assert watch.open_incidents == ["BTC-PERP"]
    clock.advance(3.0)
    marks["BTC-PERP"] = clock.monotonic()  # a fresh mark at 20 s
    clock.advance(0.2)
    watch.check()
    kind, fields = events[1]
    assert kind == "stale_mark_cleared"
    assert fields["until"] == "2026-11-25T00:00:20.000Z"
    assert fields["since"] == "2026-11-25T00:00:10.000Z"
    assert fields["stale_seconds"] == 10.0
    assert watch.open_incidents == ["ETH-PERP"]
    # ETH's last mark was at 9 s: stale since 19 s, found now (20.2 s).
    assert events[2][0] == "stale_mark"
    assert events[2][1]["symbol"] == "ETH-PERP"
    assert events[2][1]["since"] == "2026-11-25T00:00:19.000Z"


def test_a_broken_emit_does_not_escape_the_check() -> None:
    clock = tt.ManualClock(wall=WALL)
    marks = {"BTC-PERP": clock.monotonic()}

    def broken(kind: str, fields: dict[str, Any]) -> None:
        raise RuntimeError("disk on fire")

    watch = StaleMarkWatch(marks, warning_seconds=1.0, monotonic=clock.monotonic,
                           wall_time=clock.time, emit=broken)  # fmt: skip
    clock.advance(2.0)
    watch.check()  # logged, not raised


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _wait_for(path: Path, kind: str, count: int) -> list[dict[str, Any]]:
    """Poll the events file (written by the writer thread) until ``count`` events of ``kind``."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        found = [e for e in _events(path) if e["event_type"] == kind]
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no {count} {kind} events in {path}: {_events(path)}")


def test_the_library_writes_incidents_the_report_counts(tmp_path: Path) -> None:
    """Every symbol stale for a minute, and the bot never calls record_stale_mark: the report
    still shows one incident per symbol, and how long each mark stayed old."""
    clock = tt.ManualClock(wall=WALL + 3600.0, monotonic=50.0)  # 01:00:00
    telemetry = tt.Telemetry(serve=False, clock=clock, data_dir=str(tmp_path))
    path = tmp_path / "events.jsonl"
    try:
        telemetry.record_marks({"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0})
        clock.advance(70.0)  # both marks 70 s old: stale since 01:00:10
        stale = _wait_for(path, "stale_mark", 2)
        assert sorted(e["symbol"] for e in stale) == ["BTC-PERP", "ETH-PERP"]
        assert {e["since"] for e in stale} == {"2026-11-25T01:00:10.000Z"}
        telemetry.record_marks({"BTC-PERP": 97_001.0, "ETH-PERP": 3_401.0})  # at 01:01:10
        clock.advance(1.0)
        cleared = _wait_for(path, "stale_mark_cleared", 2)
        assert {e["until"] for e in cleared} == {"2026-11-25T01:01:10.000Z"}
        assert {e["stale_seconds"] for e in cleared} == {60.0}
    finally:
        telemetry.shutdown()
    report = compute_daily_report(
        events_files=[path], metrics_file=None, day=datetime.fromtimestamp(WALL, UTC).date(),
        now=datetime.fromtimestamp(WALL + 86_400, UTC),
    )  # fmt: skip
    ops = report["operations"]
    assert ops["stale_marks"] == 2
    assert ops["stale_marks_by_symbol"] == {"BTC-PERP": 1, "ETH-PERP": 1}
    rows = {(r["what"], r["level"]): (r["count"], r["seconds"]) for r in ops["time_above"]}
    # Marks at 01:00:00 and 01:01:10: older than 10 s for 60 s, older than 30 s for 40 s.
    for symbol in ("BTC-PERP", "ETH-PERP"):
        assert rows[f"mark age {symbol}", "warning"] == (1, 60.0)
        assert rows[f"mark age {symbol}", "critical"] == (1, 40.0)
