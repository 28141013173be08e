"""The daily report: figures computed by hand from a small events file, renderers and the CLI."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from trader_telemetry.cli import report as report_cli
from trader_telemetry.report import (
    compute_daily_report,
    render_json,
    render_markdown,
    render_text,
    report_svg,
)
from trader_telemetry.report.render import sparkline

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def _line(stamp: str, kind: str, **fields: Any) -> str:
    """One line as our writer writes it."""
    return json.dumps({"timestamp": stamp, "event_type": kind, **fields}, separators=(",", ":"))


def _fill(stamp: str, symbol: str, side: str, realized: float) -> str:
    return _line(
        stamp,
        "fill",
        symbol=symbol,
        side=side,
        quantity=0.1,
        price=100.0,
        fee=1.0,
        realized_pnl=realized,
    )


def _account(stamp: str, equity: float, funding: float, unrealized: float) -> str:
    return _line(
        stamp,
        "account",
        equity=equity,
        realized_pnl=0.0,
        unrealized_pnl=unrealized,
        funding_pnl=funding,
        total_pnl=0.0,
    )


def _cycle(stamp: str, number: int, seconds: float, error: str | None = None) -> str:
    extra: dict[str, Any] = (
        {"outcome": "error", "error_type": error} if error else {"outcome": "ok"}
    )
    return _line(stamp, "cycle", number=number, duration_seconds=seconds, **extra)


FIXTURES = Path(__file__).parent / "fixtures" / "report"
# The hand-checked day (tests/fixtures/report/README.md walks through every figure): our own
# lines, legacy GPT-Trader lines (type/time keys, string numbers, epoch time), one corrupt line,
# and lines just outside the window on both sides.
EVENTS = FIXTURES / "events.jsonl"
EVENT_LINES = EVENTS.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory holding the hand-made ``events.jsonl``."""
    (tmp_path / "events.jsonl").write_bytes(EVENTS.read_bytes())
    return tmp_path


@pytest.fixture
def report(data_dir: Path) -> dict[str, Any]:
    """The report of the hand-made day."""
    return compute_daily_report(
        events_files=[data_dir / "events.jsonl"],
        metrics_file=None,
        day=DAY,
        profile="test",
        now=NOW,
    )


def test_header_window_and_sources(report: dict[str, Any], data_dir: Path) -> None:
    assert report["date"] == "2026-11-25"
    assert report["profile"] == "test"
    assert report["generated_at"] == "2026-11-26T01:00:00.000Z"
    assert report["window"]["start"] == "2026-11-25T00:00:00.000Z"
    assert report["window"]["end"] == "2026-11-26T00:00:00.000Z"
    sources = report["sources"]
    assert sources["events_files"] == [str(data_dir / "events.jsonl")]
    assert sources["out_of_window"] == 3
    assert sources["skipped"]["corrupt"] == 1
    assert sources["events"] == len(EVENT_LINES) - 4
    assert any("corrupt" in warning for warning in sources["warnings"])
    assert report["no_data"] is False
    assert "message" not in report


def test_account_and_pnl(report: dict[str, Any]) -> None:
    # The opening state is the account event at 23:50 the day before: equity 1000,
    # unrealized 2, funding 0.
    assert report["account"] == {
        "equity_start": 1000.0,
        "equity_start_source": "last account event before the window",
        "equity_end": 1080.0,
        "equity_end_source": "events",
        "equity_change": 80.0,
        "equity_change_pct": 8.0,
    }
    pnl = report["pnl"]
    assert pnl["realized"] == 40.0
    assert pnl["fees"] == 4.0
    assert pnl["fees_included_in_realized"] is False
    assert pnl["funding"] == -2.0  # -2 at 23:00 less 0 at the opening
    assert (pnl["unrealized_start"], pnl["unrealized_end"]) == (2.0, 5.0)
    assert pnl["unrealized_change"] == 3.0
    assert pnl["total"] == 40.0 - 4.0 - 2.0 + 3.0
    assert "realized - fees + funding + unrealized change" in pnl["definition"]
    # Equity rose 80, the events explain 37: 43 unexplained, above the 1 USD tolerance.
    reconciliation = report["reconciliation"]
    assert reconciliation["equity_change"] == 80.0
    assert reconciliation["total_pnl"] == 37.0
    assert reconciliation["unexplained"] == 43.0
    assert reconciliation["tolerance"] == 1.0
    assert reconciliation["flagged"] is True
    assert reconciliation["label"] == "unexplained (deposits, withdrawals or missing events)"


def test_performance(report: dict[str, Any]) -> None:
    perf = report["performance"]
    assert perf["win_rate"] == pytest.approx(2 / 3)
    assert perf["profit_factor"] == 5.0
    assert perf["max_drawdown"] == 30.0
    assert perf["max_drawdown_pct"] == pytest.approx(30 / 1050 * 100, abs=1e-6)
    returns = [1050 / 1000 - 1, 1020 / 1050 - 1, 1080 / 1020 - 1]
    assert perf["sharpe"] == pytest.approx(
        statistics.mean(returns) / statistics.stdev(returns), abs=1e-6
    )
    downside = (sum(min(r, 0.0) ** 2 for r in returns) / len(returns)) ** 0.5
    assert perf["sortino"] == pytest.approx(statistics.mean(returns) / downside, abs=1e-6)
    assert "unannualised" in perf["definitions"]["sharpe"]
    assert "unannualised" in perf["definitions"]["sortino"]


def test_trades_and_symbols(report: dict[str, Any]) -> None:
    assert report["trades"] == {
        "total": 4,
        "closing": 3,
        "winning": 2,
        "losing": 1,
        "avg_win": 25.0,
        "avg_loss": -10.0,
        "largest_win": 30.0,
        "largest_loss": -10.0,
    }
    assert report["symbols"] == [
        {"symbol": "BTC-PERP", "fills": 2, "realized_pnl": 30.0, "fees": 2.0, "win_rate": 1.0},
        {"symbol": "ETH-PERP", "fills": 2, "realized_pnl": 10.0, "fees": 2.0, "win_rate": 0.5},
    ]


def test_risk_and_operations(report: dict[str, Any]) -> None:
    risk = report["risk"]
    assert risk["guard_triggers"] == {"daily_loss": 2, "max_position": 1}
    assert risk["circuit_breaker_trips"] == [
        {"timestamp": "2026-11-25T05:00:02.000Z", "reason": "daily_loss"}
    ]
    assert risk["daily_loss_max"] == {"loss": 85.0, "limit": 100.0}
    ops = report["operations"]
    assert ops["cycles"] == 5
    assert ops["errors"] == 1
    assert ops["errors_by_type"] == {"TimeoutError": 1}
    assert ops["cycle_seconds"] == {"p50": 0.3, "p95": 4.0, "p99": 4.0, "max": 4.0}
    assert [c["number"] for c in ops["slowest_cycles"]] == [3, 4, 5, 2, 1]
    assert ops["slowest_cycles"][0] == {
        "number": 3,
        "duration_seconds": 4.0,
        "timestamp": "2026-11-25T03:00:00.000Z",
    }
    assert ops["stale_marks"] == 2  # one ours, one legacy
    assert ops["ws_reconnects"] == 2
    assert ops["rejections"] == 1


def test_time_above_thresholds(report: dict[str, Any]) -> None:
    """Each row worked out by hand from the fixture day, with the default thresholds."""
    rows = {(r["what"], r["level"]): (r["count"], r["seconds"]) for r in
            report["operations"]["time_above"]}  # fmt: skip
    # Cycle 3 took 4.0 s: above 3 s, not above 6 s.
    assert rows["cycle duration", "warning"] == (1, 4.0)
    assert rows["cycle duration", "critical"] == (0, 0.0)
    # Cycles end at 00:00:01, 01:00:01, 03:00:00, 08:00:00 and 10:00:00; the window closes at
    # 24:00:00. Gaps: 3600, 7199, 18000, 7200 and 50400 s (86399 s in all). The heartbeat is
    # 3 x and 10 x the expected 5 s interval: each gap is above 15 s for gap - 15 seconds.
    assert rows["loop heartbeat (last cycle age)", "warning"] == (5, 86399 - 5 * 15)
    assert rows["loop heartbeat (last cycle age)", "critical"] == (5, 86399 - 5 * 50)
    # Account events at 23:50:00 the day before (carried over: 600 s old at 00:00), 02:00:01,
    # 04:00:01, 23:00:00, then the close. The first gap is above 900 s (15 m) from 00:05:00 to
    # 02:00:01 (6901 s) and above 1800 s (30 m) from 00:20:00 (6001 s); the gaps after it,
    # 7200, 68399 and 3600 s, are above a level for gap - level each.
    assert rows["account snapshot age", "warning"] == (4, 6901 + (79199 - 3 * 900))
    assert rows["account snapshot age", "critical"] == (4, 6001 + (79199 - 3 * 1800))
    # Daily loss 30 % at 05:00:01, 85 % at 05:30:00, 10 % at 06:00:01: above 80 % for 1801 s.
    assert rows["daily loss / limit", "warning"] == (1, 1801.0)
    assert rows["daily loss / limit", "critical"] == (0, 0.0)
    # market_data degraded 07:00:05, unhealthy 07:01:05, healthy 07:02:05.
    assert rows["health market_data", "degraded"] == (1, 120.0)
    assert rows["health market_data", "unhealthy"] == (1, 60.0)
    assert report["operations"]["stale_marks_by_symbol"] == {"BTC-PERP": 1, "SOL-PERP": 1}
    assert [(i["kind"], i["key"], i["count"], i["first"]) for i in
            report["operations"]["incidents"]] == [
        ("stale mark", "BTC-PERP", 1, "2026-11-25T09:30:00.000Z"),  # legacy, epoch time
        ("stale mark", "SOL-PERP", 1, "2026-11-25T07:00:01.000Z"),
        ("ws reconnect", "default", 1, "2026-11-25T09:30:00.000Z"),  # legacy: no stream
        ("ws reconnect", "marks", 1, "2026-11-25T07:00:00.000Z"),
    ]  # fmt: skip


def test_thresholds_and_time_zone_move_the_figures(data_dir: Path) -> None:
    from zoneinfo import ZoneInfo

    from trader_telemetry import Thresholds

    report = compute_daily_report(
        events_files=[data_dir / "events.jsonl"],
        metrics_file=None,
        day=DAY,
        now=NOW,
        thresholds=Thresholds(cycle_duration_warning_seconds=0.25, daily_loss_warning_ratio=0.25),
        tz=ZoneInfo("America/New_York"),
    )
    # The New York day of 2026-11-25 runs 05:00Z to 05:00Z the next day (EST, UTC-5).
    assert report["window"]["start"] == "2026-11-25T05:00:00.000Z"
    assert report["window"]["end"] == "2026-11-26T05:00:00.000Z"
    assert report["window"]["timezone"] == "America/New_York"
    rows = {(r["what"], r["level"]): (r["count"], r["seconds"]) for r in
            report["operations"]["time_above"]}  # fmt: skip
    # From 05:00Z only cycles 4 (0.4 s) and 5 (0.3 s) are in the window; both above 0.25 s.
    assert rows["cycle duration", "warning"] == (2, 0.7)
    # 30 % from 05:00:01, 85 % from 05:30:00, 10 % from 06:00:01: above 25 % for 3600 s.
    assert rows["daily loss / limit", "warning"] == (1, 3600.0)


def test_equity_curve(report: dict[str, Any]) -> None:
    assert report["equity_curve"] == [
        ["2026-11-25T00:00:00.000Z", 1000.0],
        ["2026-11-25T02:00:01.000Z", 1050.0],
        ["2026-11-25T04:00:01.000Z", 1020.0],
        ["2026-11-25T23:00:00.000Z", 1080.0],
    ]


def test_long_equity_curve_is_downsampled_and_files_interleave(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    # Even minutes in one file, odd minutes in the other: the path is ordered by time.
    first.write_text(
        "".join(
            _account(f"2026-11-25T{m // 60:02d}:{m % 60:02d}:00.000Z", 1000.0 + m, 0.0, 0.0) + "\n"
            for m in range(0, 600, 2)
        )
    )
    second.write_text(
        "".join(
            _account(f"2026-11-25T{m // 60:02d}:{m % 60:02d}:00.000Z", 1000.0 + m, 0.0, 0.0) + "\n"
            for m in range(1, 600, 2)
        )
    )
    result = compute_daily_report(events_files=[first, second], metrics_file=None, day=DAY, now=NOW)
    curve = result["equity_curve"]
    assert len(curve) == 200
    assert curve[0][1] == 1000.0
    assert curve[-1][1] == 1599.0
    assert [point[1] for point in curve] == sorted(point[1] for point in curve)
    assert result["performance"]["max_drawdown"] == 0.0
    assert result["account"]["equity_change"] == 599.0


def test_lookback_and_legacy_funding(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        _account("2026-11-25T10:00:00.000Z", 1000.0, 0.0, 0.0)
        + "\n"
        + json.dumps({"type": "funding_payment", "time": "2026-11-25T20:00:00Z", "amount": "-3"})
        + "\n"
        + _account("2026-11-25T21:00:00.000Z", 990.0, -1.0, 0.0)
        + "\n"
    )
    short = compute_daily_report(
        events_files=[path], metrics_file=None, day=DAY, lookback_hours=6, now=NOW
    )
    assert short["window"]["start"] == "2026-11-25T18:00:00.000Z"
    # The 10:00 account event is the state at 18:00: funding -1 - 0, plus the payment of -3.
    assert short["pnl"]["funding"] == -4.0
    full = compute_daily_report(events_files=[path], metrics_file=None, day=DAY, now=NOW)
    assert full["pnl"]["funding"] == -4.0
    with pytest.raises(ValueError, match="lookback_hours"):
        compute_daily_report(
            events_files=[path], metrics_file=None, day=DAY, lookback_hours=0, now=NOW
        )


def test_no_data_names_paths_and_uses_metrics_equity(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"account_snapshot": {"equity": "1234.5"}}))
    missing = tmp_path / "events.jsonl"
    result = compute_daily_report(events_files=[missing], metrics_file=metrics, day=DAY, now=NOW)
    assert result["no_data"] is True
    assert str(missing) in result["message"]
    assert str(metrics) in result["message"]
    assert result["sources"]["missing"] == [str(missing)]
    assert result["account"]["equity_end"] == 1234.5
    assert result["account"]["equity_end_source"] == "metrics_file"
    assert result["account"]["equity_change"] is None
    assert result["performance"]["win_rate"] is None
    assert result["performance"]["profit_factor"] is None
    for render in (render_text, render_markdown, render_json):
        assert render(result)  # every renderer copes with empty sections


def test_profit_factor_is_null_without_losses(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_fill("2026-11-25T10:00:00.000Z", "BTC-PERP", "sell", 5.0) + "\n")
    result = compute_daily_report(events_files=[path], metrics_file=None, day=DAY, now=NOW)
    assert result["performance"]["profit_factor"] is None
    assert result["performance"]["win_rate"] == 1.0
    assert result["performance"]["sharpe"] is None


def test_render_text(report: dict[str, Any]) -> None:
    text = render_text(report)
    assert text.startswith("Daily report 2026-11-25 (profile test)\n")
    lines = text.splitlines()
    pnl = lines[lines.index("PnL") + 1 : lines.index("PnL") + 8]
    assert [line.split()[-1] for line in pnl] == [
        "40.00", "4.00", "-2.00", "2.00", "5.00", "3.00", "37.00"
    ]  # fmt: skip
    recon = lines[lines.index("Reconciliation") + 1 : lines.index("Reconciliation") + 4]
    assert recon[-1].split()[:6] == ["Unexplained", "(deposits,", "withdrawals", "or", "missing",
                                     "events)"]  # fmt: skip
    assert recon[-1].endswith("43.00  FLAGGED (> 1.00)")
    assert lines[3].startswith("thresholds (defaults): cycle 3 / 6 s, heartbeat 15 / 50 s")
    assert len({len(line) for line in pnl}) == 1  # right-aligned figures
    assert "66.67%" in text
    assert sparkline([1000.0, 1050.0, 1020.0, 1080.0]) in text
    assert "BTC-PERP" in text
    assert "ETH-PERP" in text
    assert "warning: corrupt lines skipped" in text


def test_render_json_and_markdown(report: dict[str, Any]) -> None:
    document = render_json(report)
    assert json.loads(document) == report
    assert document.startswith('{\n  "date": "2026-11-25"')
    markdown = render_markdown(report)
    assert markdown.startswith("# Daily report 2026-11-25")
    assert "| Total | 37.00 |" in markdown
    assert "| BTC-PERP | 2 | 30.00 | 2.00 | 100.00% |" in markdown
    assert "## Equity" in markdown


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html", "svg"])
def test_golden_reports(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture day's whole document, byte for byte (UPDATE_GOLDEN=1 rewrites the files
    after a deliberate change; the diff then shows in review)."""
    monkeypatch.chdir(FIXTURES)  # relative paths, so the documents name no temp directory
    report = compute_daily_report(
        events_files=[Path("events.jsonl")],
        metrics_file=Path("metrics.json"),
        day=DAY,
        profile="test",
        now=NOW,
    )
    if fmt == "svg":
        document, suffix = report_svg(report), "svg"
    elif fmt == "markdown":  # saved, it links the SVG saved beside it
        document, suffix = render_markdown(report, chart="daily_report_2026-11-25.svg"), "md"
    else:
        render, suffix = report_cli.RENDERERS[fmt]
        document = render(report)
    golden = FIXTURES / f"daily_report_2026-11-25.{suffix}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(document, encoding="utf-8")
    assert document == golden.read_text(encoding="utf-8")


def test_sparkline_edges() -> None:
    assert sparkline([]) == ""
    assert sparkline([5.0, 5.0]) == "▄▄"
    line = sparkline([float(i) for i in range(500)], width=60)
    assert len(line) == 60
    assert line[0] == "▁"
    assert line[-1] == "█"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trader-telemetry")
    report_cli.register(parser.add_subparsers(dest="command"))
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    code: int = args.handler(args)
    return code


def test_cli_json_to_stdout_and_saved(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", "daily", "--date", "2026-11-25", "--format", "json"]
    code = _run([*argv, "--data-dir", str(data_dir)])
    assert code == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["pnl"]["realized"] == 40.0
    saved = data_dir / "reports" / "daily_report_2026-11-25.json"
    assert saved.read_text() == captured.out
    assert f"saved {saved}" in captured.err


def test_cli_output_no_save_and_formats(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "report.md"
    base = ["report", "daily", "--date", "2026-11-25", "--data-dir", str(data_dir)]
    assert _run([*base, "--format", "markdown", "--output", str(target)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert out.startswith("# Daily report")
    assert target.read_text() == out
    # The chart is a separate SVG file beside it (GitHub renders a linked SVG, not inline SVG).
    chart = target.with_suffix(".svg")
    assert "![Equity and drawdown over the window](report.svg)" in out
    assert "<svg" not in out
    assert ET.parse(chart).getroot().tag == "{http://www.w3.org/2000/svg}svg"  # noqa: S314
    assert f"saved {target} and {chart}" in captured.err
    assert _run([*base, "--no-save", "--events-file", str(data_dir / "events.jsonl")]) == 0
    assert capsys.readouterr().out.startswith("Daily report 2026-11-25 (profile default)")
    assert not (data_dir / "reports" / "daily_report_2026-11-25.txt").exists()


def test_cli_bad_date_exits_64(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("2026-13-01", "yesterday", "2026-W48-3"):
        code = _run(["report", "daily", "--date", bad, "--data-dir", str(data_dir)])
        assert code == 64
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1
        assert "--date" in captured.err


def test_cli_time_zone(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(["report", "daily", "--date", "2026-11-25", "--tz", "Asia/Tokyo", "--format",
                 "json", "--data-dir", str(data_dir), "--no-save"])  # fmt: skip
    assert code == 0
    window = json.loads(capsys.readouterr().out)["window"]
    # Tokyo (UTC+9) closes 2026-11-25 at 15:00Z.
    assert window == {"start": "2026-11-24T15:00:00.000Z", "end": "2026-11-25T15:00:00.000Z",
                      "lookback_hours": 24.0, "timezone": "Asia/Tokyo"}  # fmt: skip
    code = _run(["report", "daily", "--tz", "Mars/Olympus", "--data-dir", str(data_dir)])
    assert code == 64
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "--tz" in captured.err


def test_progress_only_for_big_files_on_a_terminal() -> None:
    big = report_cli.PROGRESS_MIN_BYTES
    assert report_cli.wants_progress(big, stdout_tty=True, stderr_tty=True)
    assert not report_cli.wants_progress(big - 1, stdout_tty=True, stderr_tty=True)
    assert not report_cli.wants_progress(big, stdout_tty=False, stderr_tty=True)  # | jq
    assert not report_cli.wants_progress(big, stdout_tty=True, stderr_tty=False)


def test_progress_bar_draws_on_a_real_terminal(tmp_path: Path) -> None:
    """Through a pseudo-terminal, a file past the threshold gets rich's bar on stderr, and the
    document still comes out whole."""
    pty = pytest.importorskip("pty")
    events = tmp_path / "events.jsonl"
    line = _fill("2026-11-25T12:00:00.000Z", "BTC-PERP", "sell", 1.0) + "\n"
    count = report_cli.PROGRESS_MIN_BYTES // len(line) + 1000
    events.write_text(line * count, encoding="utf-8")
    output = bytearray()

    def read(fd: int) -> bytes:
        data = os.read(fd, 65536)
        output.extend(data)
        return data

    command = [sys.executable, "-m", "trader_telemetry", "report", "daily", "--date",
               "2026-11-25", "--events-file", str(events), "--no-save"]  # fmt: skip
    status = pty.spawn(command, read)
    text = output.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert "reading events" in text
    assert re.search(rf"\n  Fills +{count}\r?\n", text)


def test_cli_no_data_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An events file without events in the window is a report that says so (exit 0)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "events.jsonl").write_text(_fill("2026-11-20T10:00:00.000Z", "BTC-PERP", "sell", 1.0))
    code = _run(
        ["report", "daily", "--date", "2026-11-25", "--format", "json", "--data-dir", str(data)]
    )
    assert code == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["no_data"] is True
    assert str(data / "events.jsonl") in document["message"]
    assert str(data / "metrics.json") in document["message"]
    assert "no events" in captured.err
    assert document["sources"]["out_of_window"] == 1


def test_cli_default_data_dir_and_rotated_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "var" / "data" / "bot" / "live"
    data.mkdir(parents=True)
    (data / "events-2026-11-25.jsonl").write_text(
        _fill("2026-11-25T10:00:00.000Z", "BTC-PERP", "sell", 5.0) + "\n"
    )
    (data / "events.jsonl.1").write_text(
        _fill("2026-11-25T09:00:00.000Z", "BTC-PERP", "sell", -1.0) + "\n"
    )
    args = ["report", "daily", "--date", "2026-11-25", "--format", "json"]
    assert _run([*args, "--namespace", "bot", "--profile", "live"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["trades"]["total"] == 2
    assert document["profile"] == "live"
    assert (data / "reports" / "daily_report_2026-11-25.json").is_file()
