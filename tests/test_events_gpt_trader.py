"""The reader on GPT-Trader's stores: events.db rows, nested metric/position/error rows, bot_v2's
duplicate metric lines, unknown types, oversized lines and numbers too large for a float."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import trader_telemetry as tt
from tests.gpt_trader_day import copy_day, expected_figures
from trader_telemetry.events import ReadStats, reader
from trader_telemetry.events.field_values import as_float
from trader_telemetry.events.reader import parse_lines, read_events
from trader_telemetry.events.sqlite_source import EventsDatabase, is_sqlite, read_db_events


def test_both_stores_of_the_sample_day_give_the_same_events(tmp_path: Path) -> None:
    head, legacy = copy_day(tmp_path)
    expected = expected_figures(head / "events.db")["types"]
    db_stats, line_stats = ReadStats(), ReadStats()
    from_db = list(read_db_events(head / "events.db", stats=db_stats))
    from_lines = list(read_events(legacy / "events.jsonl", stats=line_stats))
    assert Counter(e.event_type for e in from_db) == expected
    assert Counter(e.event_type for e in from_lines) == expected
    assert db_stats.unknown_types == line_stats.unknown_types == {}
    assert db_stats.events == line_stats.events == 2952
    # The same payload values once flattened: the first breaker trip, from a flat head row and a
    # legacy `error` line written through append_error.
    trip_db = next(e for e in from_db if e.event_type == "circuit_breaker_triggered")
    trip_line = next(e for e in from_lines if e.event_type == "circuit_breaker_triggered")
    for key in ("symbol", "reason", "loss", "limit"):
        assert trip_db.fields[key] == trip_line.fields[key]
    assert trip_db.fields["loss"] == -412.5
    position = next(e for e in from_db if e.event_type == "position")
    assert position.fields["symbol"] == "SOL-PERP"
    assert position.fields["quantity"] == pytest.approx(15.4721)
    cycle = next(e for e in from_db if e.event_type == "cycle_metrics")
    assert cycle.fields["equity"] == 10000.0
    assert cycle.timestamp.isoformat() == "2026-11-30T00:00:00.999969+00:00"  # the payload's


def test_sqlite_file_is_recognised_by_its_header(tmp_path: Path) -> None:
    head, legacy = copy_day(tmp_path)
    assert is_sqlite(head / "events.db")
    assert not is_sqlite(legacy / "events.jsonl")


def test_database_is_followed_by_row_id_without_rescanning(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT,"
            " event_type TEXT, payload TEXT, bot_id TEXT)"
        )
        db.execute(
            "INSERT INTO events (timestamp, event_type, payload) VALUES (?, ?, ?)",
            ("2026-11-30 00:00:01", "websocket_reconnect", json.dumps({"reconnect_count": 1})),
        )
    source = EventsDatabase(path)
    stats = ReadStats()
    assert [e.event_type for e in source.read(stats)] == ["websocket_reconnect"]
    assert list(source.read(stats)) == []  # nothing new: nothing read again
    writer = sqlite3.connect(path)  # a live writer, committing while the reader is open
    writer.execute(
        "INSERT INTO events (timestamp, event_type, payload) VALUES (?, ?, ?)",
        ("2026-11-30 00:00:02", "stale_mark_detected", json.dumps({"symbol": "BTC-PERP"})),
    )
    writer.commit()
    assert [e.event_type for e in source.read(stats)] == ["stale_mark_detected"]
    assert source.last_id == 2
    assert stats.lines == 2
    source.close()
    writer.close()


def test_locked_database_raises_busy_and_the_next_read_goes_on(tmp_path: Path) -> None:
    from trader_telemetry.events.sqlite_source import DatabaseBusyError

    path = tmp_path / "events.db"
    with sqlite3.connect(path) as db:  # rollback journal: a writer's lock blocks readers
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT,"
            " event_type TEXT, payload TEXT, bot_id TEXT)"
        )
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    source = EventsDatabase(path)
    with pytest.raises(DatabaseBusyError):
        list(source.read(ReadStats()))
    locker.execute(
        "INSERT INTO events (timestamp, event_type, payload) VALUES"
        " ('2026-11-30 00:00:01', 'api_error', '{}')"
    )
    locker.execute("COMMIT")
    assert [e.event_type for e in source.read(ReadStats())] == ["api_error"]
    source.close()
    locker.close()


def test_nested_metric_rows_in_jsonl_are_flattened(tmp_path: Path) -> None:
    line = {
        "type": "metric",
        "time": "2026-11-30T00:00:01+00:00",
        "metrics": {"event_type": "order_rejected", "symbol": "ETH-PERP", "reason": "x",
                    "timestamp": "2026-11-30T00:00:00.5+00:00"},
    }  # fmt: skip
    events = list(parse_lines([json.dumps(line).encode() + b"\n"], label="t"))
    assert [(e.event_type, e.fields["symbol"]) for e in events] == [("order_rejected", "ETH-PERP")]
    assert events[0].timestamp.isoformat() == "2026-11-30T00:00:00.500000+00:00"


def test_bot_v2_duplicate_metric_lines_count_once() -> None:
    metric = {"type": "cycle_metrics", "event_type": "cycle_metrics", "equity": 5.0,
              "timestamp": "2026-11-30T00:00:00.999+00:00"}  # fmt: skip
    first = {**metric, "time": "2026-11-30T00:00:01.000100+00:00"}
    second = {**metric, "time": "2026-11-30T00:00:01.000200+00:00"}
    later = {**metric, "timestamp": "2026-11-30T00:01:00.999+00:00",
             "time": "2026-11-30T00:01:01+00:00"}  # fmt: skip
    stats = ReadStats()
    lines = [json.dumps(x).encode() + b"\n" for x in (first, second, later)]
    events = list(parse_lines(lines, label="t", stats=stats))
    assert len(events) == 2
    assert stats.duplicates == 1
    assert stats.lines == 3


def test_types_nothing_maps_are_counted_by_type() -> None:
    stats = ReadStats()
    lines = [
        b'{"type": "account_snapshot", "time": "2026-11-30T00:00:01Z"}\n',
        b'{"type": "account_snapshot", "time": "2026-11-30T00:00:02Z"}\n',
        b'{"type": "fill", "time": "2026-11-30T00:00:03Z"}\n',
    ]
    assert len(list(parse_lines(lines, label="t", stats=stats))) == 3
    assert stats.unknown_types == {"account_snapshot": 2}


def test_a_huge_line_is_skipped_with_bounded_memory_and_the_next_line_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    good = b'{"timestamp": "2026-11-30T00:00:01Z", "event_type": "fill", "fee": 1.0}\n'
    with path.open("wb") as out:
        out.write(good)
        block = b"x" * (1024 * 1024)
        for _ in range(64):  # 64 MB without a newline
            out.write(block)
        out.write(b"\n" + good)
    stats = ReadStats()
    tracemalloc.start()
    try:
        events = list(read_events(path, stats=stats, max_line_bytes=64 * 1024))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(events) == 2
    assert stats.oversized_line == 1
    assert stats.lines == 3
    assert peak < 32 * 1024 * 1024, peak  # a block or two, never the 64 MB line


def test_a_huge_line_at_the_end_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"timestamp": 1, "event_type": "fill"}\n' + b"y" * 300)
    stats = ReadStats()
    assert len(list(read_events(path, stats=stats, max_line_bytes=100))) == 1
    assert stats.oversized_line == 1


@pytest.mark.parametrize("backend", ["json", "default"])
def test_a_400_digit_number_does_not_drop_the_rest_of_the_chunk(
    monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    if backend == "json":
        monkeypatch.setattr(reader, "loads_json", json.loads)
    digits = "9" * 400
    lines = [
        f'{{"timestamp": {digits}, "event_type": "fill"}}\n'.encode(),
        f'{{"time": "2026-11-30T00:00:01Z", "type": "fill", "price": "{digits}",'
        f' "fee": {digits}}}\n'.encode(),
        b'{"timestamp": "2026-11-30T00:00:02Z", "event_type": "fill", "fee": 1.5}\n',
    ]
    stats = ReadStats()
    events = list(parse_lines(lines, label="t", stats=stats))
    assert events[-1].fields["fee"] == 1.5
    assert stats.lines == 3
    assert as_float(int(digits)) is None


_PLAIN_LINES = [
    {"type": "position", "symbol": "BTC-PERP", "mark_price": "92.69", "quantity": "1.5",
     "time": "2026-11-30T00:00:00.432000+00:00"},
    {"type": "position", "symbol": "ETH-PERP", "size": "2", "time": "2026-11-30T00:00:01Z"},
    {"type": "position", "position": {"symbol": "SOL-PERP", "size": "3",
     "timestamp": "2026-11-30T00:00:02Z"}, "time": "2026-11-30T00:00:03Z"},
    {"type": "pnl_update", "symbol": "BTC-PERP", "realized_pnl": 0.0, "unrealized_pnl": "nan",
     "time": "2026-11-30 00:00:04"},
    {"event_type": "fill", "price": "1e400", "fee": "x", "time": "2026-11-30T00:00:05+02:00"},
    {"type": "metric", "event_type": "cycle_metrics", "equity": "5", "time": 1795996805},
    {"type": "position_metrics", "event_type": "position_metrics", "position_size": "1.5",
     "time": "2026-11-30T00:00:06.1+00:00"},
    {"type": "trade", "event_type": "order_submitted", "time": "2026-11-30T00:00:07Z"},
    {"type": "metric", "metrics": {"event_type": "cycle_metrics", "equity": "6"},
     "time": "2026-11-30T00:00:08Z"},
    {"type": "error", "message": "circuit_breaker_triggered", "details": {"loss": "5"},
     "time": "2026-11-30T00:00:09Z"},
    {"type": "fill", "time": None},
    {"type": "fill", "time": "not a time"},
    {"type": "position", "symbol": "BTC-PERP", "quantity": "1", "size": "2",
     "time": "2026-11-30T00:00:10Z"},
    {"type": "position", "position": "flat", "time": "2026-11-30T00:00:11Z"},
    {"type": 5, "symbol": "BTC-PERP", "time": "2026-11-30T00:00:12Z"},
    {"type": "", "time": "2026-11-30T00:00:13Z"},
    {"symbol": "BTC-PERP", "time": "2026-11-30T00:00:14Z"},
    {"type": "trade", "event_type": "", "time": "2026-11-30T00:00:15Z"},
]  # fmt: skip


@pytest.mark.parametrize("line", _PLAIN_LINES, ids=range(len(_PLAIN_LINES)))
def test_plain_lines_read_as_the_general_normaliser_reads_them(line: dict[str, object]) -> None:
    """GPT-Trader's plain lines (``type``/``time``, no wrapper) take a shortcut past the general
    normaliser; wrapped in ``{"data": ...}`` the same line goes through it: same result."""
    plain, wrapped = ReadStats(), ReadStats()
    got = list(parse_lines([json.dumps(line).encode() + b"\n"], label="t", stats=plain))
    want = list(parse_lines([json.dumps({"data": line}).encode() + b"\n"], label="t",
                            stats=wrapped))  # fmt: skip
    assert [(e.timestamp, e.event_type, list(e.fields.items())) for e in got] == [
        (e.timestamp, e.event_type, list(e.fields.items())) for e in want
    ]
    assert plain == wrapped


def test_numbers_for_converts_only_the_listed_types_and_counts_the_same() -> None:
    lines = [
        b'{"type": "position", "symbol": "BTC-PERP", "quantity": "1.5", "time": 1796083201}\n',
        b'{"type": "trade", "symbol": "BTC-PERP", "quantity": "0.1", "time": 1796083202}\n',
        b'{"type": "mystery", "size": "2", "time": "2026-11-30T00:00:03Z"}\n',
        b'{"type": "trade", "time": "bad"}\n',
    ]  # fmt: skip
    every, some = ReadStats(), ReadStats()
    all_converted = list(parse_lines(lines, label="t", stats=every))
    listed = list(parse_lines(lines, label="t", stats=some, numbers_for=frozenset({"trade"})))
    assert [e.fields for e in all_converted] == [
        {"symbol": "BTC-PERP", "quantity": 1.5}, {"symbol": "BTC-PERP", "quantity": 0.1},
        {"size": 2.0},
    ]  # fmt: skip
    assert [e.fields for e in listed] == [
        {"symbol": "BTC-PERP", "quantity": "1.5"}, {"symbol": "BTC-PERP", "quantity": 0.1},
        {"size": "2"},
    ]  # fmt: skip
    assert every == some
    assert some.unknown_types == {"mystery": 1}
    assert some.bad_timestamp == 1


def test_duplicates_compare_numbers_even_for_types_left_unconverted() -> None:
    """bot_v2's double-written lines are equal as numbers ("1.5" and "1.50"): still one event
    when the caller does not want that type's numbers converted."""
    first = {
        "type": "position_metrics",
        "position_size": "1.5",
        "timestamp": "2026-11-30T00:00:00.5+00:00",
        "time": "2026-11-30T00:00:01Z",
    }
    second = {**first, "position_size": "1.50", "time": "2026-11-30T00:00:01.1+00:00"}
    lines = [json.dumps(x).encode() + b"\n" for x in (first, second)]
    for numbers_for in (None, frozenset({"trade"})):
        stats = ReadStats()
        events = list(parse_lines(lines, label="t", stats=stats, numbers_for=numbers_for))
        assert len(events) == 1
        assert stats.duplicates == 1


def test_an_error_line_whose_message_is_not_text_is_read_not_raised(tmp_path: Path) -> None:
    """bot_v2's ``error`` lines carry whatever the caller passed as the message: an object or a
    list must not make the reader raise (it checked the message against the breaker's names
    with ``in`` on a set, a TypeError for a dict)."""
    from trader_telemetry.compat import FileExporter
    from trader_telemetry.report import compute_daily_report

    lines = [
        {"type": "error", "message": {"code": 429}, "time": "2026-11-30T01:00:00+00:00"},
        {"type": "error", "message": ["a", "b"], "time": "2026-11-30T01:00:01+00:00"},
        {"type": "error", "bot_id": "risk_manager", "message": "circuit_breaker_triggered",
         "reason": "daily_loss", "time": "2026-11-30T01:00:02+00:00"},
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    kinds = [event.event_type for event in read_events(path)]
    assert kinds == ["error", "error", "circuit_breaker_triggered"]
    report = compute_daily_report(
        events_files=[path], metrics_file=None, day=date(2026, 11, 30), workers=1
    )
    assert sum(report["operations"]["error_events"].values()) == 2
    assert len(report["risk"]["circuit_breaker_trips"]) == 1
    # Within the breaker's hold (an unconfirmed trip reads 0 again after an hour).
    clock = tt.ManualClock(wall=datetime(2026, 11, 30, 1, 0, 10, tzinfo=UTC).timestamp())
    exporter = FileExporter(None, path, namespace="t", serve=False, clock=clock)
    try:
        exporter.refresh()
        assert exporter.telemetry.snapshot()["risk"]["circuit_breaker_triggered"] is True
    finally:
        exporter.close()
