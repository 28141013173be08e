"""``serve`` on GPT-Trader's sample day, both stores: every name GPT-Trader's exporter served and
the library's, with the values the test computes from the rows; the heartbeat from the last
cycle row; 503 until the first catch-up; GPT-Trader's trade/fill pairing; bad numbers."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import trader_telemetry as tt
from tests.gpt_trader_day import copy_day, expected_figures
from trader_telemetry.compat import FileExporter
from trader_telemetry.events import reader

from .shapes import Series, series

NS = "coinbase_trader"
NOW = datetime.fromisoformat("2026-12-01T00:00:30+00:00").timestamp()
#: Every name GPT-Trader's exporter (scripts/monitoring/export_metrics.py) served.
GPT_TRADER_NAMES = (
    "metrics_timestamp_seconds", "equity", "open_orders", "cpu_percent", "memory_percent",
    "disk_percent", "disk_used_gigabytes", "network_sent_megabytes",
    "network_received_megabytes", "fee_tier", "account_limit_remaining",
    "order_preview_failures_total", "circuit_breaker_triggered", "cycle_latency_ms",
    "symbol_exposure_usd", "symbol_pnl_usd", "total_pnl_usd", "realized_pnl_usd",
    "unrealized_pnl_usd", "funding_pnl_usd", "websocket_reconnects_total", "stale_marks_total",
    "unfilled_orders_total", "trades_executed_total", "trades_blocked_total",
)  # fmt: skip


def _get(url: str) -> tuple[int, Any, str]:
    """(status, headers, body) of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read().decode()


def _total(found: Series, name: str) -> float:
    return sum(value for (key, _), value in found.items() if key == f"{NS}_{name}")


def _one(found: Series, name: str, **labels: str) -> float:
    return found[(f"{NS}_{name}", tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    head, legacy = copy_day(tmp_path_factory.mktemp("gpt_trader"))
    return head, legacy, expected_figures(head / "events.db")


@pytest.mark.parametrize("form", ["head", "legacy"])
def test_serve_gives_gpt_traders_names_and_ours_with_the_days_values(
    day: tuple[Path, Path, dict[str, Any]], form: str
) -> None:
    head, legacy, want = day
    directory = head if form == "head" else legacy
    events = {"events_db": head / "events.db"} if form == "head" else {}
    clock = tt.ManualClock(wall=NOW)
    with FileExporter(
        directory / "metrics.json",
        None if form == "head" else legacy / "events.jsonl",
        namespace=NS,
        serve=False,
        clock=clock,
        **events,  # type: ignore[arg-type]
    ) as exporter:
        found = series(exporter.telemetry)
    names = {key[0] for key in found}
    for name in GPT_TRADER_NAMES:
        if name == "cycle_latency_ms":
            # GPT-Trader's cycle rows carry no duration (its exporter served a 0 nothing
            # wrote): no value is served rather than a made-up one (docs/migration.md).
            assert f"{NS}_{name}" not in names
            continue
        assert f"{NS}_{name}" in names, name
    snapshot = json.loads((directory / "metrics.json").read_text())
    # The account: the sum over symbols of each one's latest pnl_update, funding payments.
    assert _one(found, "realized_pnl_usd") == pytest.approx(want["account_realized"])
    assert _one(found, "realized_pnl_usd") == pytest.approx(-319.36, abs=0.005)
    assert _one(found, "unrealized_pnl_usd") == pytest.approx(want["account_unrealized"])
    assert _one(found, "funding_pnl_usd") == pytest.approx(want["funding"])
    assert _one(found, "total_pnl_usd") == pytest.approx(
        want["account_realized"] + want["account_unrealized"] + want["funding"]
    )
    for symbol, pnl in want["symbol_pnl"].items():
        assert _one(found, "symbol_pnl_usd", symbol=symbol) == pytest.approx(pnl)
    assert _one(found, "equity") == pytest.approx(want["equity_end"])
    # Counters: one fill per execution (trade + fill is one), orders once, the rest by type.
    assert _total(found, "fills_total") == want["fills"] == 110
    assert _one(found, "trades_executed_total") == want["fills"]
    assert _total(found, "orders_submitted_total") == want["orders"]
    assert _total(found, "orders_rejected_total") == want["rejections"]
    assert _total(found, "websocket_reconnects_total") == want["reconnects"]
    assert _total(found, "stale_marks_total") == want["stale_marks"]
    assert _one(found, "unfilled_orders_total") == want["unfilled_orders"]
    assert _one(found, "trades_blocked_total") == want["trades_blocked"]
    assert _one(found, "order_preview_failures_total") == 0
    assert _one(found, "cycles_total", outcome="ok") == want["cycles"]
    assert _total(found, "circuit_breaker_trips_total") == want["breaker_trips"]
    assert _one(found, "circuit_breaker_triggered") == 0  # cleared at 17:00
    # The heartbeat: the age of the last cycle row, not the exporter's uptime.
    assert _one(found, "last_cycle_age_seconds") == pytest.approx(NOW - want["last_cycle_at"])
    _check_snapshot_names(found, snapshot)
    assert not any("BTC_PERP" in str(key) for key in found)
    assert not any("unknown_type" in str(key) for key in found)


def _check_snapshot_names(found: Series, snapshot: dict[str, Any]) -> None:
    """The names GPT-Trader's exporter took from metrics.json (the last cycle row says the
    same), with its values."""
    system = snapshot["system"]
    taken = datetime.fromisoformat(snapshot["timestamp"]).timestamp()
    assert _one(found, "metrics_timestamp_seconds") == pytest.approx(taken)
    assert _one(found, "open_orders") == snapshot["open_orders"]
    assert _one(found, "cpu_percent") == system["cpu_percent"]
    assert _one(found, "memory_percent") == system["memory_percent"]
    assert _one(found, "disk_percent") == system["disk_percent"]
    assert _one(found, "disk_used_gigabytes") == system["disk_used_gb"]
    assert _one(found, "network_sent_megabytes") == system["network_sent_mb"]
    assert _one(found, "network_received_megabytes") == system["network_recv_mb"]
    tier = snapshot["account_snapshot"]["fee_schedule"]["tier"]
    assert _one(found, "fee_tier", tier=tier) == 1
    limit = float(snapshot["account_snapshot"]["limits"]["max_order"])
    assert _one(found, "account_limit_remaining") == limit
    for position in snapshot["positions"]:  # symbols as written, signed by side
        sign = -1 if position["side"] == "short" else 1
        exposure = sign * position["quantity"] * position["mark_price"]
        assert _one(found, "symbol_exposure_usd", symbol=position["symbol"]) == pytest.approx(
            exposure
        )
        assert _one(found, "exposure_usd", symbol=position["symbol"]) == pytest.approx(exposure)


def test_metrics_answer_503_until_the_first_catch_up_is_done(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    line = b'{"timestamp": "2026-11-30T00:00:01Z", "event_type": "ws_reconnect"}\n'
    events.write_bytes(line * 20_000)
    gate = threading.Event()
    exporter = FileExporter(events_file=events, namespace=NS, port=0, chunk_bytes=64 * 1024)
    original = exporter.refresh

    def slow_refresh(max_bytes: int | None = None) -> bool:
        gate.wait(10)  # the catch-up is held until the test has seen a 503
        return original(max_bytes)

    exporter.refresh = slow_refresh  # type: ignore[method-assign]
    try:
        exporter.start(interval=0.2)
        url = exporter.metrics_url
        assert url is not None
        status, headers, _ = _get(url)
        assert status == 503
        assert int(headers["Retry-After"]) >= 1
        gate.set()
        deadline = time.monotonic() + 30
        while (answer := _get(url))[0] == 503:
            assert time.monotonic() < deadline, "never caught up"
            time.sleep(0.05)
        status, _, body = answer
        assert status == 200
        assert f'{NS}_websocket_reconnects_total{{stream="default"}} 20000' in body
    finally:
        gate.set()
        exporter.close()


def test_serve_follows_new_rows_of_a_live_events_db(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL"
        " DEFAULT (datetime('now', 'utc')), event_type TEXT, payload TEXT, bot_id TEXT)"
    )

    def insert(kind: str, payload: dict[str, Any]) -> None:
        db.execute(
            "INSERT INTO events (timestamp, event_type, payload) VALUES (?, ?, ?)",
            ("2026-11-30 00:00:01", kind, json.dumps(payload)),
        )

    insert("websocket_reconnect", {"reconnect_count": 1, "timestamp": 1795996801.0})
    clock = tt.ManualClock(wall=NOW)
    with FileExporter(events_file=path, namespace=NS, serve=False, clock=clock) as exporter:
        assert _total(series(exporter.telemetry), "websocket_reconnects_total") == 1
        read = exporter.lines_read
        insert("websocket_reconnect", {"reconnect_count": 2, "timestamp": 1795996802.0})
        insert("stale_mark_detected", {"symbol": "BTC-PERP", "timestamp": 1795996803.0})
        found = series(exporter.telemetry)
        assert _total(found, "websocket_reconnects_total") == 2
        assert _one(found, "stale_marks_total", symbol="BTC-PERP") == 1
        assert exporter.lines_read == read + 2  # only the new rows were read
    db.close()


def test_a_trade_without_a_fill_event_is_one_fill_and_open_trades_are_orders(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.jsonl"
    rows = [
        {"type": "trade", "time": "2026-11-30T00:00:01Z", "order_id": "a", "symbol": "BTC-PERP",
         "side": "buy", "quantity": "1", "price": "10", "status": "filled"},
        {"type": "fill", "time": "2026-11-30T00:00:01Z", "order_id": "a", "symbol": "BTC-PERP",
         "side": "buy", "quantity": 1, "price": 10, "pnl": 0, "fee": 0.1},
        {"type": "trade", "time": "2026-11-30T00:00:02Z", "order_id": "b", "symbol": "BTC-PERP",
         "side": "buy", "status": "open"},
        {"type": "trade", "time": "2026-11-30T00:00:03Z", "order_id": "c", "symbol": "ETH-PERP",
         "side": "sell", "quantity": "2", "price": "5", "status": "filled"},
    ]  # fmt: skip
    events.write_text("".join(json.dumps(row) + "\n" for row in rows))
    clock = tt.ManualClock(wall=NOW)
    with FileExporter(events_file=events, namespace=NS, serve=False, clock=clock) as exporter:
        found = series(exporter.telemetry)
    assert _one(found, "fills_total", symbol="BTC-PERP", side="buy") == 1  # not 2
    assert _one(found, "fills_total", symbol="ETH-PERP", side="sell") == 1  # no fill event
    assert _total(found, "fills_total") == 2  # the open trade is not a fill
    assert _total(found, "orders_submitted_total") == 3


@pytest.mark.parametrize("backend", ["json", "default"])
def test_a_400_digit_number_does_not_drop_the_rest_of_its_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    if backend == "json":
        monkeypatch.setattr(reader, "loads_json", json.loads)
    digits = "9" * 400
    events = tmp_path / "events.jsonl"
    events.write_text(
        f'{{"timestamp": {digits}, "event_type": "ws_reconnect"}}\n'
        f'{{"timestamp": "2026-11-30T00:00:01Z", "event_type": "fill", "symbol": "BTC-PERP",'
        f' "side": "buy", "fee": {digits}, "price": {digits}}}\n'
        '{"timestamp": "2026-11-30T00:00:02Z", "event_type": "ws_reconnect", "stream": "x"}\n'
    )
    clock = tt.ManualClock(wall=NOW)
    with FileExporter(events_file=events, namespace=NS, serve=False, clock=clock) as exporter:
        found = series(exporter.telemetry)
        assert exporter.lines_read == 3
    assert _one(found, "websocket_reconnects_total", stream="x") == 1
    assert all(math.isfinite(value) for value in found.values())


def test_an_oversized_line_is_counted_and_the_next_line_applied(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = b'{"timestamp": "2026-11-30T00:00:01Z", "event_type": "ws_reconnect"}\n'
    events.write_bytes(good + b"x" * 300_000)  # a line still being written, too long already
    clock = tt.ManualClock(wall=NOW)
    with FileExporter(
        events_file=events, namespace=NS, serve=False, clock=clock, chunk_bytes=4096
    ) as exporter:
        exporter._tail.max_line_bytes = 1024  # type: ignore[union-attr]
        found = series(exporter.telemetry)
        with events.open("ab") as out:
            out.write(b"x" * 300_000 + b"\n" + good)
        exporter.catch_up()
        found = series(exporter.telemetry)
        assert exporter._tail._partial == b""  # type: ignore[union-attr]
    assert _one(found, "websocket_reconnects_total", stream="default") == 2
    assert (
        _one(found, "exporter_read_errors_total", file="events.jsonl", reason="oversized_line") == 1
    )


@pytest.mark.parametrize("chunk", [1 << 20, 4096])
def test_the_fast_fold_counts_what_applying_each_event_counts(
    day: tuple[Path, Path, dict[str, Any]], chunk: int
) -> None:
    """The catch-up's fold (counters tallied, latest values applied once) serves the same
    series as the feed applying every event one by one, however the file is cut in chunks."""
    from trader_telemetry.compat.feed import TelemetryFeed
    from trader_telemetry.events import ReadStats, read_events

    _, legacy, _ = day
    clock = tt.ManualClock(wall=NOW)
    one_by_one = tt.Telemetry(namespace=NS, serve=False, clock=clock)
    feed = TelemetryFeed(one_by_one)
    for event in read_events(legacy / "events.jsonl", stats=ReadStats()):
        feed.event(event)
    feed.settle(NOW)
    expected = series(one_by_one)
    one_by_one.shutdown()
    with FileExporter(
        events_file=legacy / "events.jsonl", namespace=NS, serve=False, clock=clock,
        chunk_bytes=chunk,
    ) as exporter:  # fmt: skip
        served = series(exporter.telemetry)
    expected = {key: value for key, value in expected.items() if key[0].startswith(NS)}
    ours = {key: value for key, value in served.items() if key in expected}
    assert set(expected) <= set(served)
    assert ours == pytest.approx(expected)


def test_a_64_mib_line_without_newline_is_dropped_in_bounded_memory(tmp_path: Path) -> None:
    """The default limits: a huge line still being written is never held whole; once its
    newline arrives the next line is applied in the same refresh."""
    import tracemalloc

    events = tmp_path / "events.jsonl"
    good = b'{"timestamp": "2026-11-30T00:00:01Z", "event_type": "ws_reconnect"}\n'
    block = b"x" * (1024 * 1024)
    with events.open("wb") as out:
        out.write(good)
        for _ in range(64):
            out.write(block)
    clock = tt.ManualClock(wall=NOW)
    with FileExporter(events_file=events, namespace=NS, serve=False, clock=clock) as exporter:
        tracemalloc.start()
        try:
            exporter.catch_up()
            with events.open("ab") as out:
                out.write(b"\n" + good)
            exporter.refresh()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        found = series(exporter.telemetry)
    assert peak < 40 * 1024 * 1024, peak  # a chunk and a line's maximum, not 64 MiB
    assert _one(found, "websocket_reconnects_total", stream="default") == 2
    errors = _one(found, "exporter_read_errors_total", file="events.jsonl", reason="oversized_line")
    assert errors == 1
