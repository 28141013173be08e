"""The tolerant events.jsonl / metrics.json reader: our format, legacy GPT-Trader shapes, damage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import trader_telemetry as tt
from trader_telemetry.events import ReadStats
from trader_telemetry.events.reader import JSON_BACKEND, Event, read_events
from trader_telemetry.events.snapshot_reader import load_metrics_snapshot
from trader_telemetry.events.writer import EventLog

NOON = datetime(2026, 11, 25, 12, tzinfo=UTC)


def write_lines(path: Path, *lines: str | dict[str, Any], end: str = "\n") -> Path:
    """Write ``lines`` (dicts as compact JSON) joined by newlines, ending with ``end``."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_bytes((text + end).encode() if lines else b"")
    return path


def read_all(path: Path, **kwargs: Any) -> tuple[list[Event], ReadStats]:
    stats = ReadStats()
    return list(read_events(path, stats=stats, **kwargs)), stats


def accounted(stats: ReadStats) -> int:
    """Every line lands in exactly one bucket."""
    return (
        stats.events
        + stats.blank
        + stats.corrupt
        + int(stats.truncated_last_line)
        + stats.missing_timestamp
        + stats.bad_timestamp
        + stats.missing_type
        + stats.out_of_window
    )


# ------------------------------------------------------------------------ our own format


def test_our_format_round_trip(tmp_path: Path) -> None:
    written: list[dict[str, Any]] = [
        {"event_type": "cycle", "number": 7, "duration_seconds": 0.25, "outcome": "error",
         "error_type": "TimeoutError"},
        {"event_type": "order", "symbol": "BTC-PERP", "side": "buy"},
        {"event_type": "fill", "symbol": "BTC-PERP", "side": "buy", "quantity": 0.5,
         "price": 95000.5, "fee": 1.25, "realized_pnl": -3.0},
        {"event_type": "rejection", "symbol": "ETH-PERP", "reason": "insufficient_margin"},
        {"event_type": "account", "equity": 10000.0, "realized_pnl": 5.0, "unrealized_pnl": 2.0,
         "funding_pnl": -1.0, "total_pnl": 6.0},
        {"event_type": "daily_loss", "loss": 120.0, "limit": 500.0},
        {"event_type": "circuit_breaker", "triggered": True, "reason": "daily_loss"},
        {"event_type": "ws_reconnect", "stream": "ticker"},
        {"event_type": "stale_mark", "symbol": "SOL-PERP"},
        {"event_type": "health", "check": "loop_heartbeat", "status": "degraded",
         "previous": "healthy", "message": "no cycle for 95 s"},
        {"event_type": "guard_triggered", "guard": "max_position", "nested": {"a": [1, 2]}},
    ]  # fmt: skip
    lines = []
    for i, record in enumerate(written):
        stamp = (NOON + timedelta(milliseconds=123 + i)).isoformat(timespec="milliseconds")
        lines.append({"timestamp": stamp.replace("+00:00", "Z"), **record})
    path = write_lines(tmp_path / "events.jsonl", *lines)

    events, stats = read_all(path)

    assert [e.event_type for e in events] == [r["event_type"] for r in written]
    for i, (event, record) in enumerate(zip(events, written, strict=True)):
        assert event.timestamp == NOON + timedelta(milliseconds=123 + i)
        assert event.timestamp.tzinfo is UTC
        assert event.fields == {k: v for k, v in record.items() if k != "event_type"}
    assert isinstance(events[0].fields["number"], int)
    assert stats.lines == stats.events == len(written)
    assert accounted(stats) == stats.lines
    assert stats.warnings == []
    assert not stats.truncated_last_line


def test_round_trip_through_the_event_log(tmp_path: Path) -> None:
    """What our writer produces reads back as written; Decimals are written as JSON numbers."""
    log = EventLog(tmp_path, wall_time=lambda: NOON.timestamp() + 0.5)
    log.emit("fill", {"symbol": "BTC-PERP", "side": "sell", "price": Decimal("95000.50"),
                      "quantity": Decimal("0.010"), "fee": 0.1, "realized_pnl": 2})  # fmt: skip
    log.emit("ws_reconnect", {"stream": "user"})
    log.close()

    events, stats = read_all(log.path())

    assert events == [
        Event(NOON + timedelta(seconds=0.5), "fill",
              {"symbol": "BTC-PERP", "side": "sell", "price": 95000.5, "quantity": 0.01,
               "fee": 0.1, "realized_pnl": 2}),
        Event(NOON + timedelta(seconds=0.5), "ws_reconnect", {"stream": "user"}),
    ]  # fmt: skip
    assert stats.warnings == []


def test_events_are_frozen(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "e.jsonl", {"timestamp": "2026-11-25T12:00:00Z",
                                               "event_type": "x"})  # fmt: skip
    (event,) = read_events(path)
    with pytest.raises(AttributeError):
        event.event_type = "y"  # type: ignore[misc]


def test_a_field_named_type_is_kept_beside_event_type(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "e.jsonl",
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": "order", "type": "limit"},
    )
    (event,) = read_events(path)
    assert (event.event_type, event.fields) == ("order", {"type": "limit"})


# ------------------------------------------------------------------------ damage


def test_corrupt_lines_in_the_middle_are_skipped_counted_and_described_once(
    tmp_path: Path,
) -> None:
    good = {"timestamp": "2026-11-25T12:00:00Z", "event_type": "order", "symbol": "BTC-PERP"}
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                json.dumps(good).encode(),
                b'{"timestamp": "2026-11-25T12:00:01Z", "event_type": ',  # torn mid-file
                b"not json at all",
                b"[1, 2, 3]",
                b'"a string"',
                b"\xff\xfe\x00garbage",
                b"null",
                json.dumps(good).encode(),
            ]
        )
        + b"\n"
    )

    events, stats = read_all(path)

    assert len(events) == 2
    assert stats.corrupt == 6
    assert not stats.truncated_last_line
    assert stats.lines == 8
    assert accounted(stats) == stats.lines
    assert stats.warnings == ["corrupt lines skipped (first at line 2 of events.jsonl)"]


def test_truncated_last_line_is_skipped_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b'{"timestamp": "2026-11-25T12:00:00Z", "event_type": "cycle", "number": 1}\n'
        b'{"timestamp": "2026-11-25T12:00:01Z", "event_type": "cyc'
    )

    events, stats = read_all(path)

    assert [e.fields["number"] for e in events] == [1]
    assert stats.truncated_last_line
    assert stats.corrupt == 0
    assert stats.lines == 2
    assert accounted(stats) == stats.lines
    assert len(stats.warnings) == 1
    assert stats.warnings[0].startswith("last line truncated")


def test_complete_last_line_without_newline_is_read(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "e.jsonl",
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": "a"},
        {"timestamp": "2026-11-25T12:00:01Z", "event_type": "b"},
        end="",
    )
    events, stats = read_all(path)
    assert [e.event_type for e in events] == ["a", "b"]
    assert not stats.truncated_last_line
    assert stats.warnings == []


def test_blank_lines_are_counted_without_warnings(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"\n"
        b'{"timestamp": "2026-11-25T12:00:00Z", "event_type": "a"}\r\n'
        b"   \n"
        b"\t\r\n"
        b'{"timestamp": "2026-11-25T12:00:01Z", "event_type": "b"}\n'
        b"  "
    )
    events, stats = read_all(path)
    assert [e.event_type for e in events] == ["a", "b"]
    assert stats.blank == 4
    assert not stats.truncated_last_line
    assert stats.lines == 6
    assert stats.warnings == []


def test_missing_and_bad_timestamps_and_missing_types_are_counted(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "events.jsonl",
        {"event_type": "fill"},
        {"timestamp": None, "event_type": "fill"},
        {"timestamp": "yesterday-ish", "event_type": "fill"},
        {"timestamp": "2026-13-45T99:00:00Z", "event_type": "fill"},
        {"timestamp": True, "event_type": "fill"},
        {"timestamp": [2026, 11, 25], "event_type": "fill"},
        {"timestamp": "2026-11-25T12:00:00Z"},
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": ""},
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": 42},
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": "ok"},
        {"event_type": "fill"},
    )

    events, stats = read_all(path)

    assert [e.event_type for e in events] == ["ok"]
    assert stats.missing_timestamp == 3
    assert stats.bad_timestamp == 4
    assert stats.missing_type == 3
    assert accounted(stats) == stats.lines == 11
    assert stats.warnings == [
        "lines without a timestamp skipped (first at line 1 of events.jsonl)",
        "lines with an unreadable timestamp skipped (first at line 3 of events.jsonl: "
        "'yesterday-ish')",
        "lines without an event type skipped (first at line 7 of events.jsonl)",
    ]


def test_repeated_timestamps_reuse_only_good_string_parses(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "e.jsonl",
        {"timestamp": 1, "event_type": "epoch"},
        {"timestamp": True, "event_type": "bool"},
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": "a"},
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": "b"},
        {"timestamp": "bad", "event_type": "c"},
        {"timestamp": "bad", "event_type": "d"},
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": "e"},
    )
    events, stats = read_all(path)
    assert [(e.event_type, e.timestamp) for e in events] == [
        ("epoch", datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
        ("a", NOON),
        ("b", NOON),
        ("e", NOON),
    ]
    assert stats.bad_timestamp == 3


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.touch()
    events, stats = read_all(path)
    assert events == []
    assert stats == ReadStats()


def test_missing_file_raises_when_called_not_when_iterated(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_events(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError):
        read_events(str(tmp_path / "nope.jsonl"))


def test_stopping_early_closes_the_file(tmp_path: Path) -> None:
    """Warnings are errors here: an unclosed file would fail this test with ResourceWarning."""
    path = write_lines(
        tmp_path / "e.jsonl", *({"timestamp": i, "event_type": "x"} for i in range(10))
    )
    events = read_events(path)
    assert next(events).timestamp == datetime(1970, 1, 1, tzinfo=UTC)
    del events
    unstarted = read_events(path)  # never iterated: nothing was opened
    del unstarted


# ------------------------------------------------------------------------ legacy GPT-Trader


def test_legacy_gpt_trader_lines(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "events.jsonl",
        {"type": "trade", "bot_id": "coinbase-1", "time": "2026-11-25T12:00:00+00:00",
         "symbol": "BTC-PERP", "side": "buy", "quantity": "0.010", "price": "95000.50",
         "status": "filled", "order_id": "123"},
        {"type": "position", "time": "2026-11-25T12:00:01.500000+00:00", "symbol": "ETH-PERP",
         "quantity": "2", "mark_price": "3000", "entry_price": "2900.5",
         "unrealized_pnl": "199.0", "realized_pnl": "n/a"},
        {"type": "metric", "event_type": "order_rejected", "time": "2026-11-25T12:00:02Z",
         "symbol": "SOL-PERP", "reason": "min_size"},
        {"type": "metric", "event_type": "cycle_metrics", "time": "2026-11-25T12:00:03Z",
         "duration_seconds": "1.5"},
        {"type": "error", "time": "2026-11-25T12:00:04Z", "message": "boom"},
        {"type": "fill", "time": "2026-11-25T12:00:05Z", "pnl": "-12.5", "fee": "0.3"},
        {"type": "funding_payment", "time": "2026-11-25T12:00:06Z", "amount": "-0.75"},
        {"type": "pnl_update", "time": "2026-11-25T12:00:07Z", "realized_pnl": "1e2",
         "unrealized_pnl": "NaN"},
    )  # fmt: skip

    events, stats = read_all(path)

    assert [(e.event_type, e.timestamp) for e in events] == [
        ("trade", NOON),
        ("position", NOON + timedelta(seconds=1.5)),
        ("order_rejected", NOON + timedelta(seconds=2)),
        ("cycle_metrics", NOON + timedelta(seconds=3)),
        ("error", NOON + timedelta(seconds=4)),
        ("fill", NOON + timedelta(seconds=5)),
        ("funding_payment", NOON + timedelta(seconds=6)),
        ("pnl_update", NOON + timedelta(seconds=7)),
    ]
    assert events[0].fields == {
        "bot_id": "coinbase-1", "symbol": "BTC-PERP", "side": "buy", "quantity": 0.01,
        "price": 95000.5, "status": "filled", "order_id": "123",
    }  # fmt: skip
    assert events[1].fields["entry_price"] == 2900.5
    assert events[1].fields["realized_pnl"] == "n/a"  # not a number: left as written
    assert events[2].fields == {"symbol": "SOL-PERP", "reason": "min_size"}
    assert events[3].fields == {"duration_seconds": 1.5}
    assert events[5].fields == {"pnl": -12.5, "fee": 0.3}
    assert events[6].fields == {"amount": -0.75}
    assert events[7].fields == {"realized_pnl": 100.0, "unrealized_pnl": "NaN"}
    assert stats.warnings == []
    assert stats.events == stats.lines == 8


def test_data_wrappers_are_unwrapped(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "events.jsonl",
        # everything inside
        {"data": {"type": "trade", "time": "2026-11-25T12:00:00Z", "price": "1.5"}},
        # type and time outside
        {"type": "trade", "time": "2026-11-25T12:00:00Z", "data": {"price": "2.5"}},
        # our keys outside
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": "fill", "data": {"fee": 0.1}},
        # mixed: time outside, the real type inside
        {"time": "2026-11-25T12:00:00Z", "bot_id": "b", "type": "metric",
         "data": {"event_type": "cycle_metrics", "duration_seconds": 2}},
        # data beside other payload keys is a field, not a wrapper
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": "x", "data": {"k": 1}, "other": 2},
        # data that is not an object is a field
        {"timestamp": "2026-11-25T12:00:00Z", "event_type": "y", "data": [1, 2]},
    )  # fmt: skip

    events, stats = read_all(path)

    assert [(e.event_type, e.fields) for e in events] == [
        ("trade", {"price": 1.5}),
        ("trade", {"price": 2.5}),
        ("fill", {"fee": 0.1}),
        ("cycle_metrics", {"bot_id": "b", "duration_seconds": 2}),
        ("x", {"data": {"k": 1}, "other": 2}),
        ("y", {"data": [1, 2]}),
    ]
    assert all(e.timestamp == NOON for e in events)
    assert stats.warnings == []


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026-11-25T12:00:00.123Z", NOON + timedelta(milliseconds=123)),
        ("2026-11-25T12:00:00.123z", NOON + timedelta(milliseconds=123)),
        ("2026-11-25T12:00:00.123456789Z", NOON + timedelta(microseconds=123456)),
        ("2026-11-25T12:00:00+00:00", NOON),
        ("2026-11-25T14:00:00+02:00", NOON),
        ("2026-11-25T07:00:00-05:00", NOON),
        ("2026-11-25 12:00:00+00:00", NOON),
        ("2026-11-25 12:00:00 UTC", NOON),
        (NOON.timestamp(), NOON),
        (int(NOON.timestamp()), NOON),
        (NOON.timestamp() * 1000 + 250, NOON + timedelta(milliseconds=250)),
        (int(NOON.timestamp() * 1000), NOON),
        (str(int(NOON.timestamp())), NOON),
    ],
)
def test_timestamp_forms(tmp_path: Path, written: object, expected: datetime) -> None:
    path = write_lines(tmp_path / "e.jsonl", {"timestamp": written, "event_type": "x"})
    events, stats = read_all(path)
    assert [e.timestamp for e in events] == [expected]
    assert events[0].timestamp.tzinfo is UTC
    assert stats.naive_timestamps == 0
    assert stats.warnings == []


def test_naive_timestamps_are_read_as_utc_counted_and_described_once(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "events.jsonl",
        {"timestamp": "2026-11-25T11:59:59Z", "event_type": "a"},
        {"timestamp": "2026-11-25 12:00:00", "event_type": "sqlite"},  # events.db style
        {"time": "2026-11-25T12:00:01", "type": "trade"},
        {"timestamp": "2026-11-25 12:00:00", "event_type": "repeat"},  # same string, cached
        {"timestamp": "2026-11-25", "event_type": "date_only"},
    )

    events, stats = read_all(path)

    assert [e.timestamp for e in events] == [
        NOON - timedelta(seconds=1),
        NOON,
        NOON + timedelta(seconds=1),
        NOON,
        datetime(2026, 11, 25, tzinfo=UTC),
    ]
    assert all(e.timestamp.tzinfo is UTC for e in events)
    assert stats.naive_timestamps == 4
    assert stats.warnings == ["naive timestamps read as UTC (first at line 2 of events.jsonl)"]


def test_window_filter_is_start_inclusive_end_exclusive(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "events.jsonl",
        *(
            {"timestamp": (NOON + timedelta(minutes=m)).isoformat(), "event_type": f"m{m}"}
            for m in range(-2, 4)
        ),
    )

    events, stats = read_all(path, start=NOON, end=NOON + timedelta(minutes=2))
    assert [e.event_type for e in events] == ["m0", "m1"]
    assert stats.out_of_window == 4
    assert accounted(stats) == stats.lines == 6
    assert stats.warnings == []

    only_start, _ = read_all(path, start=NOON + timedelta(minutes=3))
    assert [e.event_type for e in only_start] == ["m3"]
    only_end, _ = read_all(path, end=NOON - timedelta(minutes=1))
    assert [e.event_type for e in only_end] == ["m-2"]

    naive_start, naive_end = datetime(2026, 11, 25, 12), datetime(2026, 11, 25, 12, 1)
    naive_bounds, _ = read_all(path, start=naive_start, end=naive_end)
    assert [e.event_type for e in naive_bounds] == ["m0"]

    other_zone = timezone(timedelta(hours=2))
    shifted, _ = read_all(path, start=datetime(2026, 11, 25, 14, 1, tzinfo=other_zone))
    assert [e.event_type for e in shifted] == ["m1", "m2", "m3"]


def test_one_stats_across_files_adds_up_and_warns_once(tmp_path: Path) -> None:
    stats = ReadStats()
    for day in ("a", "b"):
        path = write_lines(
            tmp_path / f"events-{day}.jsonl",
            {"timestamp": "2026-11-25 12:00:00", "event_type": day},
            "garbage",
        )
        assert len(list(read_events(path, stats=stats))) == 1
    assert (stats.lines, stats.events, stats.corrupt, stats.naive_timestamps) == (4, 2, 2, 2)
    assert stats.warnings == [
        "naive timestamps read as UTC (first at line 1 of events-a.jsonl)",
        "corrupt lines skipped (first at line 2 of events-a.jsonl)",
    ]


def test_json_backend_is_reported() -> None:
    assert JSON_BACKEND in {"json", "orjson"}


# ------------------------------------------------------------------------ metrics.json


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_our_snapshot_document_passes_through(tmp_path: Path, telemetry: tt.Telemetry) -> None:
    telemetry.record_account(equity=10_000.0, realized_pnl=5.0, unrealized_pnl=2.0,
                             funding_pnl=-1.0)  # fmt: skip
    telemetry.record_exposure("BTC-PERP", -4750.0)
    telemetry.record_mark("BTC-PERP", 95_000.0)
    document = telemetry.snapshot()
    path = write_json(tmp_path / "metrics.json", document)

    snapshot = load_metrics_snapshot(path)

    assert snapshot is not None
    assert snapshot["account_snapshot"] == document["account_snapshot"]
    assert snapshot["account_snapshot"]["equity"] == 10_000.0
    assert snapshot["account_snapshot"]["total_pnl"] == 6.0
    assert snapshot["positions"] == {
        "BTC-PERP": {**document["positions"]["BTC-PERP"], "symbol": "BTC-PERP"}
    }
    assert snapshot["positions"]["BTC-PERP"]["exposure_usd"] == -4750.0
    others = {k: v for k, v in snapshot.items() if k not in {"account_snapshot", "positions"}}
    assert others == {k: document[k] for k in others}
    assert set(snapshot) == set(document)


def test_our_snapshot_before_anything_was_recorded(tmp_path: Path, telemetry: tt.Telemetry) -> None:
    path = write_json(tmp_path / "metrics.json", telemetry.snapshot())
    snapshot = load_metrics_snapshot(path)
    assert snapshot is not None
    assert snapshot["account_snapshot"]["equity"] is None
    assert snapshot["positions"] == {}


def test_legacy_flat_shape_with_positions_list(tmp_path: Path) -> None:
    legacy = {
        "timestamp": "2026-11-25T12:00:00+00:00",
        "profile": "prod",
        "equity": 10_250.5,
        "positions": [
            {"symbol": "BTC-PERP", "quantity": "0.5", "side": "long", "entry_price": "94000",
             "mark_price": "95000"},
            {"symbol": "ETH-PERP", "quantity": "2", "side": "short", "entry_price": "3100",
             "mark_price": "3000.5"},
            {"symbol": "SOL-PERP", "quantity": "oops", "mark_price": "150"},
            {"quantity": 1},  # no symbol: dropped
            "junk",
        ],
        "decisions": {"BTC-PERP": {"action": "hold", "reason": "flat"}},
        "open_orders": 2,
        "account_snapshot": {"fee_schedule": {"tier": "Advanced 1"}},
        "system": {"cpu_percent": 12.5},
    }  # fmt: skip
    snapshot = load_metrics_snapshot(write_json(tmp_path / "metrics.json", legacy))

    assert snapshot is not None
    assert snapshot["account_snapshot"] == {"fee_schedule": {"tier": "Advanced 1"},
                                            "equity": 10_250.5}  # fmt: skip
    positions = snapshot["positions"]
    assert list(positions) == ["BTC-PERP", "ETH-PERP", "SOL-PERP"]  # symbols kept as written
    assert positions["BTC-PERP"] == {
        "symbol": "BTC-PERP", "quantity": 0.5, "side": "long", "entry_price": 94000.0,
        "mark_price": 95000.0, "exposure_usd": 47500.0,
    }  # fmt: skip
    assert positions["ETH-PERP"]["exposure_usd"] == -6001.0
    assert "exposure_usd" not in positions["SOL-PERP"]
    assert positions["SOL-PERP"]["quantity"] == "oops"
    assert snapshot["decisions"] == legacy["decisions"]
    assert snapshot["equity"] == 10_250.5  # the original keys stay


def test_positions_as_a_dict(tmp_path: Path) -> None:
    document = {
        "account": {"equity": "5000"},
        "positions": {
            "BTC-PERP": {"exposure_usd": "1234.5"},
            "ETH-PERP": {"quantity": -1.5, "mark_price": 3000.0},
            "SOL-PERP": {"quantity": 2, "mark_price": 150, "exposure_usd": None},
            "DOGE-PERP": 99.5,
            "BAD": "not a position",
        },
    }
    snapshot = load_metrics_snapshot(write_json(tmp_path / "metrics.json", document))

    assert snapshot is not None
    assert snapshot["account_snapshot"]["equity"] == 5000.0
    positions = snapshot["positions"]
    assert {s: p["exposure_usd"] for s, p in positions.items()} == {
        "BTC-PERP": 1234.5,
        "ETH-PERP": -4500.0,
        "SOL-PERP": 300.0,
        "DOGE-PERP": 99.5,
    }
    assert all(p["symbol"] == s for s, p in positions.items())


def test_pnl_block_fills_the_account_snapshot_when_absent(tmp_path: Path) -> None:
    document = {
        "equity": 1000,
        "account": {"equity": 2000},
        "account_snapshot": {"realized_pnl": 7.0, "unrealized_pnl": None},
        "pnl": {"total": "12.5", "realized": 99.0, "unrealized": 4.5, "funding": -1,
                "by_symbol": {"BTC-PERP": 12.5}},
    }  # fmt: skip
    snapshot = load_metrics_snapshot(write_json(tmp_path / "metrics.json", document))

    assert snapshot is not None
    assert snapshot["account_snapshot"] == {
        "equity": 2000.0,  # account.equity comes before the top-level equity
        "total_pnl": 12.5,
        "realized_pnl": 7.0,  # present: not overwritten
        "unrealized_pnl": 4.5,
        "funding_pnl": -1.0,
    }
    assert snapshot["pnl"] == document["pnl"]


def test_account_snapshot_equity_wins_over_legacy_places(tmp_path: Path) -> None:
    document = {"equity": 1, "account": {"equity": 2}, "account_snapshot": {"equity": "3"}}
    snapshot = load_metrics_snapshot(write_json(tmp_path / "metrics.json", document))
    assert snapshot is not None
    assert snapshot["account_snapshot"]["equity"] == 3.0


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b'{"equity": 1', b"[1, 2]", b'"text"', b"null", b"\xff\xfe"],
)
def test_unreadable_metrics_file_is_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "metrics.json"
    path.write_bytes(content)
    assert load_metrics_snapshot(path) is None


def test_missing_metrics_file_is_none(tmp_path: Path) -> None:
    assert load_metrics_snapshot(tmp_path / "metrics.json") is None
    assert load_metrics_snapshot(str(tmp_path)) is None  # a directory


def test_the_standard_json_fallback_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from trader_telemetry.events import reader

    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"timestamp":"2026-11-25T12:00:00Z","event_type":"fill","price":"97000.5"}\n'
        "not json\n"
        '{"time":"2026-11-25 12:00:01","type":"trade","quantity":"0.1"}\n'
    )
    with_backend = [(e.event_type, e.fields) for e in reader.read_events(path)]
    monkeypatch.setattr(reader, "loads_json", json.loads)
    stats = ReadStats()
    fallback = [(e.event_type, e.fields) for e in reader.read_events(path, stats=stats)]
    assert fallback == with_backend
    # Our own shape is kept as written (our writer writes numbers); legacy string numbers convert.
    assert fallback == [("fill", {"price": "97000.5"}), ("trade", {"quantity": 0.1})]
    assert stats.corrupt == 1
