"""The demo bot's day, written by the events writer and read back by the report: every figure the
report gives agrees with what the same Telemetry counted in its metrics, and with the bot's own
books. Time is a fake clock starting at midnight UTC, so a 2-hour day costs no wall time."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import trader_telemetry as tt
from trader_telemetry.report import compute_daily_report, render_json, render_text
from trader_telemetry.simulation import START_EQUITY, SimulatedBot, run_demo

from .conftest import samples

DAY = date(2026, 11, 25)
MIDNIGHT = datetime(2026, 11, 25, tzinfo=UTC).timestamp()
CYCLES = 600  # every demo behaviour (stale marks, reconnects, errors, slow cycles, the breaker)


class Metrics:
    """What the Telemetry exposed at the end of the day (read before shutdown)."""

    def __init__(self, telemetry: tt.Telemetry) -> None:
        self.namespace = telemetry.config.namespace
        self.samples = samples(telemetry)


def total(metrics: Metrics, name: str, **match: str) -> float:
    """Sum of a counter's samples whose labels include ``match``."""
    full = f"{metrics.namespace}_{name}"
    return sum(
        v
        for (sample, labels), v in metrics.samples.items()
        if sample == full and set(match.items()) <= set(labels)
    )


@pytest.fixture
def demo_day(tmp_path: Path) -> tuple[Metrics, SimulatedBot, dict[str, Any]]:
    clock = tt.ManualClock(wall=MIDNIGHT + 1.0)
    telemetry = tt.Telemetry(
        serve=False, clock=clock, data_dir=str(tmp_path), events_queue_size=1_000_000
    )
    bot = run_demo(telemetry, cycles=CYCLES, interval=2.0, seed=11, sleep=clock.advance)
    metrics = Metrics(telemetry)
    telemetry.shutdown()  # flushes the events log and writes the last metrics.json
    report = compute_daily_report(
        events_files=[tmp_path / "events.jsonl"],
        metrics_file=tmp_path / "metrics.json",
        day=DAY,
        now=datetime.fromtimestamp(clock.time(), UTC),
    )
    return metrics, bot, report


def test_nothing_was_dropped_or_skipped(demo_day: tuple[Metrics, SimulatedBot, Any]) -> None:
    metrics, _, report = demo_day
    assert total(metrics, "telemetry_dropped_events_total") == 0
    sources = report["sources"]
    assert sources["lines"] == sources["events"] > CYCLES
    assert all(count == 0 for count in sources["skipped"].values())
    assert sources["warnings"] == []
    assert sources["metrics_file_read"] is True


def test_operations_match_the_metrics(demo_day: tuple[Metrics, SimulatedBot, Any]) -> None:
    metrics, _, report = demo_day
    ops = report["operations"]
    assert ops["cycles"] == CYCLES == total(metrics, "cycles_total")
    assert ops["errors"] == total(metrics, "cycles_total", outcome="error") > 0
    for error_type, count in ops["errors_by_type"].items():
        assert count == total(metrics, "cycle_errors_total", error_type=error_type)
    assert sum(ops["errors_by_type"].values()) == total(metrics, "cycle_errors_total")
    assert ops["stale_marks"] == total(metrics, "stale_marks_total") > 0
    assert ops["ws_reconnects"] == total(metrics, "websocket_reconnects_total") > 0
    assert ops["rejections"] == total(metrics, "orders_rejected_total") > 0
    slow = [row for row in ops["time_above"] if row["what"] == "cycle duration"]
    # The 3.5 s reconcile cycles, except those that failed (every 25th) before reaching it.
    reconciled = [n for n in range(1, CYCLES + 1) if n % SimulatedBot.SLOW_EVERY == 0]
    assert slow[0]["count"] == len([n for n in reconciled if n % SimulatedBot.ERROR_EVERY])
    assert ops["cycle_seconds"]["max"] == pytest.approx(3.5, abs=0.05)


def test_trades_pnl_and_equity_match_the_bot(
    demo_day: tuple[Metrics, SimulatedBot, Any],
) -> None:
    metrics, bot, report = demo_day
    assert report["trades"]["total"] == total(metrics, "fills_total") > 0
    # The bot books realized - fee per fill; the report states them apart.
    assert report["pnl"]["realized"] - report["pnl"]["fees"] == pytest.approx(
        bot.realized, abs=1e-3
    )
    assert report["account"]["equity_start"] == pytest.approx(START_EQUITY, abs=50)
    last_equity = report["equity_curve"][-1][1]
    assert report["account"]["equity_end"] == pytest.approx(last_equity)
    trips = report["risk"]["circuit_breaker_trips"]
    assert len(trips) == total(metrics, "circuit_breaker_trips_total") > 0
    assert {trip["reason"] for trip in trips} == {"daily_loss"}


def test_the_documents_render(demo_day: tuple[Metrics, SimulatedBot, Any]) -> None:
    _, _, report = demo_day
    assert "Daily report 2026-11-25" in render_text(report)
    assert render_json(report).startswith('{\n  "date": "2026-11-25"')


def test_random_module_state_is_not_used() -> None:
    """The demo draws from its own seeded Random, so the day above is the same on every run."""
    first = SimulatedBot(tt.Telemetry(serve=False), random.Random(3)).marks
    second = SimulatedBot(tt.Telemetry(serve=False), random.Random(3)).marks
    assert first == second
