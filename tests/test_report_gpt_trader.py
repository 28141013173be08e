"""The daily report on GPT-Trader's sample day: its events.db and its events.jsonl give the same
figures, each equal to what the test computes from the raw rows (tests/gpt_trader_day.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cli_process import run_cli
from tests.gpt_trader_day import copy_day, expected_figures
from trader_telemetry.config import Thresholds
from trader_telemetry.events.reader import Event
from trader_telemetry.report import compute_daily_report
from trader_telemetry.report.tally import Tally

DAY = date(2026, 11, 30)
NOW = datetime(2026, 12, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    head, legacy = copy_day(tmp_path_factory.mktemp("gpt_trader"))
    return head, legacy, expected_figures(head / "events.db")


def _report(events: Path, metrics: Path) -> dict[str, Any]:
    return compute_daily_report(
        events_files=[events], metrics_file=metrics, day=DAY, now=NOW, workers=1
    )


@pytest.mark.parametrize("form", ["head", "legacy"])
def test_sample_day_figures_match_the_rows(
    day: tuple[Path, Path, dict[str, Any]], form: str
) -> None:
    head, legacy, want = day
    events = head / "events.db" if form == "head" else legacy / "events.jsonl"
    report = _report(events, (head if form == "head" else legacy) / "metrics.json")
    ops = report["operations"]
    assert report["trades"]["total"] == want["fills"] == 110  # not 220: trade + fill is one
    assert ops["orders"] == want["orders"]
    assert ops["rejections"] == want["rejections"] == 5
    assert report["pnl"]["realized"] == pytest.approx(want["realized"], abs=1e-6)
    assert report["pnl"]["realized"] == pytest.approx(want["account_realized"], abs=1e-6)
    assert report["pnl"]["fees"] == pytest.approx(want["fees"], abs=1e-6)
    assert report["pnl"]["funding"] == pytest.approx(want["funding"], abs=1e-6)
    assert report["pnl"]["unrealized_end"] == pytest.approx(want["account_unrealized"], abs=1e-6)
    assert report["pnl"]["unrealized_start"] == 0.0  # the day holds the bot's first pnl_update
    symbols = {row["symbol"]: row for row in report["symbols"]}
    assert set(symbols) == set(want["per_symbol"])
    for symbol, figures in want["per_symbol"].items():
        assert symbols[symbol]["fills"] == figures["fills"]
        assert symbols[symbol]["realized_pnl"] == pytest.approx(figures["realized"], abs=1e-6)
    assert report["account"]["equity_start"] == pytest.approx(want["equity_start"])
    assert report["account"]["equity_end"] == pytest.approx(want["equity_end"])
    assert report["performance"]["max_drawdown"] == pytest.approx(want["drawdown"], abs=1e-6)
    assert report["performance"]["sharpe"] is not None
    assert ops["cycles"] == want["cycles"] == 1440
    assert ops["ws_reconnects"] == want["reconnects"]
    assert ops["stale_marks"] == want["stale_marks"]
    assert len(report["risk"]["circuit_breaker_trips"]) == want["breaker_trips"] == 1
    assert ops["unfilled_orders"] == want["unfilled_orders"] == 2
    assert ops["api_errors"] == want["api_errors"] == 1
    assert ops["trades_blocked"] == want["trades_blocked"]
    assert report["risk"]["guard_triggers"] == want["guards"]
    assert report["sources"]["unknown_types"] == {}
    assert report["sources"]["events"] == sum(want["types"].values())


def test_head_and_legacy_reports_are_equal(day: tuple[Path, Path, dict[str, Any]]) -> None:
    head, legacy, _ = day
    one = _report(head / "events.db", head / "metrics.json")
    other = _report(legacy / "events.jsonl", legacy / "metrics.json")
    for section in ("account", "pnl", "performance", "trades", "symbols", "risk"):
        assert one[section] == other[section], section
    ignore = {"incidents", "slowest_cycles", "time_above"}  # clock readings differ by µs
    assert {k: v for k, v in one["operations"].items() if k not in ignore} == {
        k: v for k, v in other["operations"].items() if k not in ignore
    }


def test_cli_reads_events_db_and_recognises_sqlite_given_as_events_file(
    day: tuple[Path, Path, dict[str, Any]],
) -> None:
    head, _, want = day
    outputs = []
    for flag in ("--events-db", "--events-file"):
        done = run_cli(
            "report", "daily", "--date", "2026-11-30", flag, str(head / "events.db"),
            "--metrics-file", str(head / "metrics.json"), "--format", "json", "--no-save",
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(json.loads(done.stdout))
    for report in outputs:
        assert report["no_data"] is False
        assert report["trades"]["total"] == want["fills"]
        assert report["operations"]["cycles"] == want["cycles"]


def test_a_data_dir_with_events_db_reads_it(day: tuple[Path, Path, dict[str, Any]]) -> None:
    from trader_telemetry.cli.report import default_events_files

    head, legacy, _ = day
    assert default_events_files(head) == [head / "events.db"]
    assert default_events_files(legacy) == [legacy / "events.jsonl"]


def _event(kind: str, second: int, **fields: Any) -> Event:
    return Event(datetime(2026, 11, 30, 0, 0, second, tzinfo=UTC), kind, fields)


def test_trades_are_fills_only_when_executed_and_not_described_by_a_fill() -> None:
    tally = Tally(Thresholds())
    tally.fold(
        [
            _event("trade", 1, order_id="a", symbol="BTC-PERP", side="buy", status="filled"),
            _event("fill", 1, order_id="a", symbol="BTC-PERP", side="buy", pnl=2.0, fee=0.1),
            _event("trade", 2, order_id="b", symbol="BTC-PERP", side="buy", status="open"),
            _event("trade", 3, order_id="c", symbol="BTC-PERP", side="buy", status="rejected"),
            _event("trade", 4, order_id="d", symbol="BTC-PERP", side="buy", status="cancelled"),
            _event("trade", 5, order_id="e", symbol="ETH-PERP", side="sell", status="FILLED"),
        ]
    )
    tally.close(datetime(2026, 12, 1, tzinfo=UTC))
    assert tally.fills == 2  # a (its fill event) and e (an executed trade without a fill)
    assert tally.orders == 5
    assert tally.realized == 2.0


def test_pnl_update_is_cumulative_per_symbol() -> None:
    tally = Tally(Thresholds())
    tally.fold(
        [
            _event("pnl_update", 1, symbol="BTC-PERP", realized_pnl=1.0, unrealized_pnl=5.0),
            _event("pnl_update", 2, symbol="BTC-PERP", realized_pnl=3.0, unrealized_pnl=4.0),
            _event("pnl_update", 3, symbol="ETH-PERP", realized_pnl=-1.0, unrealized_pnl=2.0),
        ]
    )
    assert tally.unrealized() == 6.0  # 4 (BTC's latest) + 2, not the last of any symbol


@pytest.mark.parametrize("workers", [1, 2])
def test_report_skips_an_oversized_line_and_reads_the_rest(tmp_path: Path, workers: int) -> None:
    good = '{"timestamp": "2026-11-30T12:00:00Z", "event_type": "fill", "symbol": "BTC-PERP", "side": "buy", "fee": 1.0}\n'  # noqa: E501
    events = tmp_path / "events.jsonl"
    with events.open("w") as out:
        out.write(good * 2000)
        out.write("x" * (3 * 1024 * 1024) + "\n")  # a 3 MiB line: over the 1 MiB maximum
        out.write(good * 2000)
    report = compute_daily_report(
        events_files=[events], metrics_file=None, day=DAY, now=NOW, workers=workers,
        parallel_min_bytes=1,
    )  # fmt: skip
    assert report["trades"]["total"] == 4000
    assert report["sources"]["skipped"]["oversized_line"] == 1
    assert report["sources"]["lines"] == 4001


def _numbers_day(path: Path, *, as_text: bool) -> None:
    """A GPT-Trader-shaped day whose numbers are JSON numbers or, as the old store wrote some,
    strings; non-finite and unreadable strings are the same in both."""
    n = str if as_text else float
    lines: list[dict[str, Any]] = []
    for i in range(60):
        stamp = f"2026-11-30T{i // 6:02d}:{i % 6 * 7:02d}:00.250000+00:00"
        symbol = ("BTC-PERP", "ETH-PERP")[i % 2]
        lines += [
            {"type": "trade", "order_id": f"t{i}", "symbol": symbol, "status": "filled",
             "quantity": n(0.1), "price": n(100 + i), "realized_pnl": n(i % 7 - 3),
             "fee": n(0.01 * i), "time": stamp},
            {"type": "fill", "symbol": symbol, "quantity": n(0.1), "price": n(99.5),
             "pnl": n(1.25 * (i % 5 - 2)), "fee": n(0.04), "time": stamp},
            {"type": "pnl_update", "symbol": symbol, "realized_pnl": n(0.5 * i),
             "unrealized_pnl": n(2.0 - i / 8), "time": stamp},
            {"type": "cycle_metrics", "duration_seconds": n(0.01 * (i % 9 + 1)),
             "equity": n(10_000 + 3.5 * i), "time": stamp},
            {"type": "funding_payment", "symbol": symbol, "amount": n(-0.02 * i), "time": stamp},
            {"type": "daily_loss", "loss": n(i * 1.5), "limit": n(100), "time": stamp},
            {"type": "position", "symbol": symbol, "mark_price": n(100.5), "quantity": n(1.5),
             "entry": n(100), "time": stamp},
        ]  # fmt: skip
    lines += [  # the same strings in both days: never numbers
        {"type": "fill", "symbol": "BTC-PERP", "pnl": "NaN", "realized_pnl": "1e400",
         "fee": "inf", "time": "2026-11-30T20:00:00+00:00"},
        {"type": "trade", "order_id": "x", "symbol": "ETH-PERP", "status": "FILLED",
         "pnl": "-Infinity", "fee": "n/a", "time": "2026-11-30T20:00:01+00:00"},
        {"type": "funding_payment", "amount": "nan", "time": "2026-11-30T20:00:02+00:00"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def test_string_numbers_read_as_the_same_numbers(tmp_path: Path) -> None:
    """The reader leaves the report's string numbers as written (it reads them itself, only
    those it uses): a day written with string numbers reports what the same day with JSON
    numbers does."""
    reports = []
    for as_text in (False, True):
        events = tmp_path / f"events-{as_text}.jsonl"
        _numbers_day(events, as_text=as_text)
        report = compute_daily_report(
            events_files=[events], metrics_file=None, day=DAY, now=NOW, workers=1
        )
        report["sources"]["events_files"] = []
        reports.append(report)
    numbers, strings = reports
    assert strings == numbers
    assert numbers["trades"]["total"] == 122  # 61 trades without a fill event, 61 fills
    assert numbers["operations"]["cycles"] == 60
    assert numbers["pnl"]["funding"] == round(sum(-0.02 * i for i in range(60)), 2)
