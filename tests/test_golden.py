"""Golden names: what a bot with namespace coinbase_trader exposes after the demo has run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

import trader_telemetry as tt
from tests.conftest import value
from trader_telemetry.catalogue import CATALOGUE, Component
from trader_telemetry.simulation import run_demo

# The playbook's own names (coinbase_trader_ prefix): dashboards and alerts written for it must
# keep working. Spelled out by hand so a rename anywhere fails here.
PLAYBOOK_NAMES = {
    "coinbase_trader_equity",
    "coinbase_trader_total_pnl_usd",
    "coinbase_trader_realized_pnl_usd",
    "coinbase_trader_unrealized_pnl_usd",
    "coinbase_trader_funding_pnl_usd",
    "coinbase_trader_exposure_usd",
    "coinbase_trader_cycle_latency_ms",
    "coinbase_trader_cycle_duration_seconds",
    "coinbase_trader_risk_daily_loss",
    "coinbase_trader_risk_daily_loss_limit",
    "coinbase_trader_circuit_breaker_triggered",
    "coinbase_trader_market_data_staleness_seconds",
    "coinbase_trader_telemetry_account_age_seconds",
    "coinbase_trader_websocket_reconnects_total",
    "coinbase_trader_stale_marks_total",
}

# Families exposed today. Those of later features (dropped events and spans, slow-cycle traces,
# the file exporter's) join this set when they land.
CORE_FAMILIES = {
    "coinbase_trader_" + name
    for name in (
        "equity",
        "total_pnl_usd",
        "realized_pnl_usd",
        "unrealized_pnl_usd",
        "funding_pnl_usd",
        "exposure_usd",
        "cycle_duration_seconds",
        "cycle_latency_ms",
        "cycles_total",
        "cycle_errors_total",
        "cycle_phase_duration_seconds",
        "last_cycle_age_seconds",
        "cycle_in_progress_seconds",
        "risk_daily_loss",
        "risk_daily_loss_limit",
        "circuit_breaker_triggered",
        "circuit_breaker_trips_total",
        "market_data_staleness_seconds",
        "telemetry_account_age_seconds",
        "websocket_reconnects_total",
        "stale_marks_total",
        "orders_submitted_total",
        "fills_total",
        "orders_rejected_total",
        "order_latency_seconds",
        "telemetry_errors_total",
        "telemetry_rejected_values_total",
        "build_info",
        "health_status",
    )
}


@pytest.fixture(params=["native", "otel-prometheus"])
def after_demo(request: pytest.FixtureRequest) -> Iterator[tt.Telemetry]:
    clock = tt.ManualClock()
    telemetry = tt.Telemetry(
        namespace="coinbase_trader", serve=False, clock=clock, reader=request.param
    )
    run_demo(telemetry, cycles=60, interval=2.0, seed=3, sleep=clock.sleep)
    # The library watching itself: make one rejection and one fault so those families show.
    telemetry.record_account(equity=float("nan"))
    telemetry.record_mark(["unhashable"])  # type: ignore[arg-type]
    yield telemetry
    telemetry.shutdown()


def exposed_names(telemetry: tt.Telemetry) -> set[str]:
    text = telemetry.render_metrics().body.decode()
    names = set()
    for family in text_string_to_metric_families(text):
        # the text parser reports counters without _total
        names.add(family.name + "_total" if family.type == "counter" else family.name)
    return names


def test_exposed_families_are_exactly_the_core_catalogue(after_demo: tt.Telemetry) -> None:
    names = exposed_names(after_demo)
    ours = {n for n in names if not n.startswith("process_")}
    assert ours == CORE_FAMILIES
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names


def test_core_families_match_the_catalogue_rows() -> None:
    landed = (Component.CORE, Component.HEALTH)
    core = {s.full_name("coinbase_trader") for s in CATALOGUE if s.component in landed}
    assert core == CORE_FAMILIES


def test_every_playbook_name_is_exposed(after_demo: tt.Telemetry) -> None:
    assert exposed_names(after_demo) >= PLAYBOOK_NAMES


def test_demo_exercises_every_behaviour(after_demo: tt.Telemetry) -> None:
    snapshot = after_demo.snapshot()
    assert snapshot["cycle_metrics"]["count"] == 60
    assert snapshot["cycle_metrics"]["errors"] == 2
    assert snapshot["risk"]["circuit_breaker_trips"] == {"daily_loss": 1}
    assert set(snapshot["positions"]) == {"BTC-PERP", "ETH-PERP", "SOL-PERP"}
    assert value(after_demo, "cycle_duration_seconds_bucket", le="3.0") == 58  # 2 slow
    assert value(after_demo, "websocket_reconnects_total", stream="marks") == 3
    assert value(after_demo, "stale_marks_total", symbol="BTC-PERP") == 1
