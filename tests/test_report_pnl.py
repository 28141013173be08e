"""Mark-to-market day PnL, the reconciliation with the equity change, and the states carried
over the window's start, on hand-made days worked out on paper."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from trader_telemetry.report import compute_daily_report

DAY1, DAY2 = date(2026, 11, 24), date(2026, 11, 25)
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _line(stamp: str, kind: str, **fields: Any) -> str:
    return json.dumps({"timestamp": stamp, "event_type": kind, **fields}) + "\n"


def _account(stamp: str, equity: float, unrealized: float, funding: float) -> str:
    return _line(stamp, "account", equity=equity, unrealized_pnl=unrealized, funding_pnl=funding)


def _fill(stamp: str, symbol: str, side: str, realized: float, fee: float) -> str:
    return _line(stamp, "fill", symbol=symbol, side=side, quantity=0.1, price=100.0, fee=fee,
                 realized_pnl=realized)  # fmt: skip


def _two_days(deposit: float = 0.0) -> str:
    """A BTC position opened on day 1 and held over midnight (+25.04 unrealized at 23:59),
    closed on day 2 for +40 before a 3 USD fee; an ETH position opened on day 2 and still open
    at the close (-12.5). Funding -5 on day 2. ``deposit`` lands between 15:00 and 23:00 on
    day 2 without any event saying so."""
    return "".join(
        [
            # Day 1: start 10,000; open BTC (fee 2); at 23:59 unrealized +25.04.
            _account("2026-11-24T10:00:00Z", 10_000.0, 0.0, 0.0),
            _fill("2026-11-24T12:00:00Z", "BTC-PERP", "buy", 0.0, 2.0),
            _account("2026-11-24T12:00:01Z", 9_998.0, 0.0, 0.0),
            _account("2026-11-24T23:59:00Z", 10_023.04, 25.04, 0.0),
            # Day 2: funding -5; close BTC +40 (fee 3); open ETH (fee 1), -12.5 at 23:00.
            _account("2026-11-25T06:00:00Z", 10_018.04, 25.04, -5.0),
            _fill("2026-11-25T14:00:00Z", "BTC-PERP", "sell", 40.0, 3.0),
            _account("2026-11-25T14:00:01Z", 10_030.0, 0.0, -5.0),
            _fill("2026-11-25T15:00:00Z", "ETH-PERP", "buy", 0.0, 1.0),
            _account("2026-11-25T23:00:00Z", 10_016.5 + deposit, -12.5, -5.0),
        ]
    )


def _report(path: Path, day: date) -> dict[str, Any]:
    return compute_daily_report(events_files=[path], metrics_file=None, day=day, now=NOW)


def test_a_position_held_over_midnight_is_marked_to_market(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_two_days())
    day2 = _report(path, DAY2)
    pnl = day2["pnl"]
    # Realized 40 - fees 4 + funding (-5 - 0) + unrealized change (-12.5 - 25.04) = -6.54.
    # The old formula added the closing level (-12.5) instead of the change: +18.50.
    assert (pnl["realized"], pnl["fees"], pnl["funding"]) == (40.0, 4.0, -5.0)
    assert pnl["unrealized_start"] == 25.04  # the 23:59 account event of the day before
    assert pnl["unrealized_end"] == -12.5
    assert pnl["unrealized_change"] == -37.54
    assert pnl["total"] == -6.54
    account = day2["account"]
    assert account["equity_start"] == 10_023.04
    assert account["equity_start_source"] == "last account event before the window"
    assert account["equity_end"] == 10_016.5
    # The equity moved exactly as the events say: nothing unexplained.
    recon = day2["reconciliation"]
    assert recon["equity_change"] == -6.54
    assert recon["total_pnl"] == -6.54
    assert recon["unexplained"] == 0.0
    assert recon["flagged"] is False
    # The equity path starts at the carried equity, at the window's start.
    assert day2["equity_curve"][0] == ["2026-11-25T00:00:00.000Z", 10_023.04]

    # Day 1 has nothing before it: its first account event is the opening state.
    day1 = _report(path, DAY1)
    assert day1["account"]["equity_start_source"] == "first account event in the window"
    assert day1["pnl"]["unrealized_start"] == 0.0
    assert day1["pnl"]["total"] == 0.0 - 2.0 + 0.0 + 25.04
    assert day1["reconciliation"]["unexplained"] == 0.0
    # The two days add up to the equity change over both.
    assert day1["pnl"]["total"] + day2["pnl"]["total"] == pytest.approx(10_016.5 - 10_000.0)


def test_a_deposit_shows_as_unexplained(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_two_days(deposit=500.0))
    recon = _report(path, DAY2)["reconciliation"]
    assert recon["equity_change"] == 493.46
    assert recon["total_pnl"] == -6.54
    assert recon["unexplained"] == 500.0
    assert recon["label"] == "unexplained (deposits, withdrawals or missing events)"
    assert recon["tolerance"] == pytest.approx(10.02304)  # 0.1 % of the starting equity
    assert recon["flagged"] is True


def _carried() -> str:
    """States set before midnight and ended after it (the report day is 2026-11-25)."""
    return "".join(
        [
            _line("2026-11-24T23:00:00Z", "daily_loss", loss=90.0, limit=100.0),
            _line("2026-11-24T23:30:00Z", "circuit_breaker", triggered=True, reason="daily_loss"),
            _line("2026-11-24T23:59:00Z", "cycle", number=1, duration_seconds=0.1, outcome="ok"),
            # The library's staleness events: the last BTC mark at 23:59:40, 10 s warning.
            _line(
                "2026-11-24T23:59:50Z",
                "stale_mark",
                symbol="BTC-PERP",
                last_mark="2026-11-24T23:59:40.000Z",
                since="2026-11-24T23:59:50.000Z",
                threshold_seconds=10.0,
            ),
            _line(
                "2026-11-24T23:59:56Z",
                "health",
                check="stale_marks",
                status="unhealthy",
                previous="healthy",
            ),
            _line(
                "2026-11-25T00:00:21Z",
                "health",
                check="stale_marks",
                status="healthy",
                previous="unhealthy",
            ),
            _line(
                "2026-11-25T00:01:00Z",
                "stale_mark_cleared",
                symbol="BTC-PERP",
                last_mark="2026-11-24T23:59:40.000Z",
                since="2026-11-24T23:59:50.000Z",
                until="2026-11-25T00:01:00.000Z",
                stale_seconds=70.0,
            ),
            _line("2026-11-25T00:02:00Z", "cycle", number=2, duration_seconds=0.1, outcome="ok"),
            _line("2026-11-25T00:30:00Z", "daily_loss", loss=10.0, limit=100.0),
            _line("2026-11-25T01:00:00Z", "circuit_breaker", triggered=False, reason=None),
        ]
    )


def test_states_carried_over_midnight_count_from_midnight(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_carried())
    report = _report(path, DAY2)
    rows = {(r["what"], r["level"]): (r["count"], r["seconds"]) for r in
            report["operations"]["time_above"]}  # fmt: skip
    # Unhealthy from 23:59:56, healthy at 00:00:21: 21 s of the day.
    assert rows["health stale_marks", "unhealthy"] == (1, 21.0)
    assert rows["health stale_marks", "degraded"] == (1, 21.0)
    # Tripped at 23:30, reset at 01:00: the first hour of the day.
    assert rows["circuit breaker", "tripped"] == (1, 3600.0)
    # 90 % of the limit from 23:00, 10 % at 00:30: 1800 s above 80 %, none at 100 %.
    assert rows["daily loss / limit", "warning"] == (1, 1800.0)
    assert rows["daily loss / limit", "critical"] == (0, 0.0)
    # BTC's last mark 23:59:40, a fresh one at 00:01:00: the age is above 10 s all the time
    # from 00:00 (60 s), above 30 s from 00:00:10 (50 s).
    assert rows["mark age BTC-PERP", "warning"] == (1, 60.0)
    assert rows["mark age BTC-PERP", "critical"] == (1, 50.0)
    # The last cycle before midnight ended 23:59:00; the heartbeat (15 s / 50 s) was over
    # 15 s from 23:59:15 and over 50 s from 23:59:50, so from 00:00 until the 00:02 cycle
    # (120 s each), then from 00:02:15 / 00:02:50 to the close.
    rest = 86_400 - 120
    assert rows["loop heartbeat (last cycle age)", "warning"] == (2, 120 + rest - 15)
    assert rows["loop heartbeat (last cycle age)", "critical"] == (2, 120 + rest - 50)
    # The events before midnight set state only: not counted as the day's.
    assert report["sources"]["events"] == 5
    assert report["sources"]["out_of_window"] == 5
    assert report["risk"]["circuit_breaker_trips"] == []
    assert report["operations"]["stale_marks"] == 0  # the incident began the day before


def test_carried_states_survive_a_split_read(tmp_path: Path) -> None:
    """Read in two processes (line-aligned halves), the carried states come out the same."""
    path = tmp_path / "events.jsonl"
    path.write_text(_carried() * 1)
    serial = compute_daily_report(
        events_files=[path], metrics_file=None, day=DAY2, now=NOW, workers=1
    )
    split = compute_daily_report(
        events_files=[path], metrics_file=None, day=DAY2, now=NOW, workers=2,
        parallel_min_bytes=1,
    )  # fmt: skip
    assert split["operations"]["time_above"] == serial["operations"]["time_above"]
    assert split["sources"]["events"] == serial["sources"]["events"]


@pytest.mark.parametrize("via", ["flag", "environment"])
def test_thresholds_file_changes_the_time_above_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], via: str
) -> None:
    """The bot's own levels (a 1 s loop: heartbeat 3 s / 10 s), from the file the bot and
    ``ops render`` read, instead of the defaults (15 s / 50 s)."""
    from trader_telemetry.cli import main

    fixture = Path(__file__).parent / "fixtures" / "report" / "events.jsonl"
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text("[thresholds]\nexpected_cycle_interval_seconds = 1.0\n")
    argv = ["report", "daily", "--date", "2026-11-25", "--events-file", str(fixture),
            "--format", "json", "--no-save"]  # fmt: skip
    if via == "flag":
        argv += ["--thresholds", str(thresholds)]
    else:
        monkeypatch.setenv("TRADER_TELEMETRY_THRESHOLDS", str(thresholds))
    assert main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    rows = {(r["what"], r["level"]): (r["count"], r["seconds"]) for r in
            document["operations"]["time_above"]}  # fmt: skip
    # Five gaps between cycle ends (86399 s in all, see the fixture's README), each above
    # 3 s for gap - 3 seconds and above 10 s for gap - 10.
    assert rows["loop heartbeat (last cycle age)", "warning"] == (5, 86399 - 5 * 3)
    assert rows["loop heartbeat (last cycle age)", "critical"] == (5, 86399 - 5 * 10)
    used = document["thresholds"]
    assert (used["heartbeat_warning_seconds"], used["heartbeat_critical_seconds"]) == (3.0, 10.0)
    assert str(thresholds) in used["source"]
    assert ("TRADER_TELEMETRY_THRESHOLDS" in used["source"]) is (via == "environment")
