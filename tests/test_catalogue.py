"""The catalogue is the contract: names, kinds, labels, units and buckets of docs/metrics.md."""

from __future__ import annotations

import pytest

import trader_telemetry as tt
from trader_telemetry.catalogue import CATALOGUE, Component, MetricKind, metric

# The catalogue's contract, written out by hand: dashboards, alert rules and users' queries name
# these, so a rename, a removal or a label change in the catalogue must fail here. A new row is
# not a break and needs no entry (docs/architecture.md: a metric is its row and its recording call).
CONTRACT_METRICS = {
    "equity": ("gauge", ()),
    "total_pnl_usd": ("gauge", ()),
    "realized_pnl_usd": ("gauge", ()),
    "unrealized_pnl_usd": ("gauge", ()),
    "funding_pnl_usd": ("gauge", ()),
    "exposure_usd": ("gauge", ("symbol",)),
    "cycle_duration_seconds": ("histogram", ()),
    "cycle_latency_ms": ("gauge", ()),
    "cycles_total": ("counter", ("outcome",)),
    "cycle_errors_total": ("counter", ("error_type",)),
    "cycle_phase_duration_seconds": ("histogram", ("phase",)),
    "last_cycle_age_seconds": ("gauge", ()),
    "cycle_in_progress_seconds": ("gauge", ()),
    "risk_daily_loss": ("gauge", ()),
    "risk_daily_loss_limit": ("gauge", ()),
    "circuit_breaker_triggered": ("gauge", ()),
    "circuit_breaker_trips_total": ("counter", ("reason",)),
    "market_data_staleness_seconds": ("gauge", ("symbol",)),
    "telemetry_account_age_seconds": ("gauge", ()),
    "websocket_reconnects_total": ("counter", ("stream",)),
    "stale_marks_total": ("counter", ("symbol",)),
    "orders_submitted_total": ("counter", ("symbol", "side")),
    "fills_total": ("counter", ("symbol", "side")),
    "orders_rejected_total": ("counter", ("symbol", "reason")),
    "order_latency_seconds": ("histogram", ()),
    "health_status": ("gauge", ("check",)),
    "telemetry_errors_total": ("counter", ("reason",)),
    "telemetry_rejected_values_total": ("counter", ("reason",)),
    "telemetry_dropped_events_total": ("counter", ("reason",)),
    "slow_cycle_traces_total": ("counter", ("reason",)),
    "telemetry_dropped_spans_total": ("counter", ("reason",)),
    "exporter_source_age_seconds": ("gauge", ("file",)),
    "exporter_read_errors_total": ("counter", ("file", "reason")),
    "build_info": ("gauge", ("version",)),
}


def test_no_contract_metric_is_renamed_removed_or_relabelled() -> None:
    rows = {spec.name: (spec.kind.value, spec.labels) for spec in CATALOGUE}
    broken = {
        name: rows.get(name) for name, kept in CONTRACT_METRICS.items() if rows.get(name) != kept
    }
    assert broken == {}


def test_no_two_rows_share_a_name() -> None:
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))


def test_every_metric_has_help_text() -> None:
    for spec in CATALOGUE:
        assert spec.help.strip().endswith("."), spec.name


def test_counters_end_in_total_and_seconds_metrics_use_seconds() -> None:
    for spec in CATALOGUE:
        if spec.kind is MetricKind.COUNTER:
            assert spec.name.endswith("_total"), spec.name
        if spec.name.endswith("_seconds"):
            assert spec.unit == "s", spec.name


@pytest.mark.parametrize("name", ["cycle_duration_seconds", "cycle_phase_duration_seconds"])
def test_duration_buckets_have_edges_at_the_thresholds(name: str) -> None:
    buckets = metric(name).buckets
    assert buckets is not None
    thresholds = tt.Thresholds()
    assert thresholds.cycle_duration_warning_seconds in buckets
    assert thresholds.cycle_duration_critical_seconds in buckets
    assert list(buckets) == sorted(buckets)


def test_only_histograms_are_synchronous() -> None:
    for spec in CATALOGUE:
        assert spec.observable is (spec.kind is not MetricKind.HISTOGRAM), spec.name
        assert (spec.buckets is not None) is (spec.kind is MetricKind.HISTOGRAM), spec.name


def test_only_cycle_latency_ms_has_a_lint_exception() -> None:
    assert [s.name for s in CATALOGUE if s.lint_exception] == ["cycle_latency_ms"]


def test_full_name_uses_the_namespace() -> None:
    assert metric("cycles_total").full_name("coinbase_trader") == "coinbase_trader_cycles_total"
    assert metric("health_status").component is Component.HEALTH
