"""A fresh bot's first scrape already shows every catalogue family (HELP and TYPE, before any
sample), and the counters whose label values are known in advance start at 0, so dashboards
read 0 instead of "No data" and ``increase()`` sees the first event."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families

import trader_telemetry as tt
from trader_telemetry.catalogue import CATALOGUE, Component

from .conftest import require_tool

NS = "coinbase_trader"
BOT_COMPONENTS = (Component.CORE, Component.HEALTH, Component.EVENTS, Component.TRACING)
BOT_FAMILIES = [spec for spec in CATALOGUE if spec.component in BOT_COMPONENTS]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tt.Telemetry]:
    """Every component in use: tracing on, an events log."""
    telemetry = tt.Telemetry(namespace=NS, serve=False, tracing=True, data_dir=tmp_path)
    yield telemetry
    telemetry.shutdown()


def test_every_family_has_help_and_type_before_any_sample(fresh: tt.Telemetry) -> None:
    text = fresh.render_metrics().body.decode()
    for spec in BOT_FAMILIES:
        name = spec.full_name(NS)
        assert f"# HELP {name} {spec.help}\n" in text, name
        assert f"# TYPE {name} {spec.kind}\n" in text, name
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families[f"{NS}_cycle_duration_seconds"].type == "histogram"


def test_openmetrics_first_scrape_names_every_family(fresh: tt.Telemetry) -> None:
    body = fresh.render_metrics("application/openmetrics-text; version=1.0.0").body.decode()
    names = {family.name for family in parse_om(body)}  # type: ignore[no-untyped-call]
    for spec in BOT_FAMILIES:
        base = spec.full_name(NS).removesuffix("_total")
        assert base in names, base


def test_first_scrape_passes_promtool_apart_from_cycle_latency_ms(fresh: tt.Telemetry) -> None:
    promtool = require_tool("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=fresh.render_metrics().body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    findings = [line for line in result.stderr.decode().splitlines() if line.strip()]
    assert all(f"{NS}_cycle_latency_ms" in line for line in findings), findings


@pytest.mark.parametrize(
    ("family", "values"),
    [
        ("cycles_total", ("ok", "error")),
        ("slow_cycle_traces_total", ("slow", "error", "sampled")),
        ("telemetry_dropped_spans_total",
         ("too_many_open_traces", "trace_too_long", "export_failed")),
        ("telemetry_dropped_events_total",
         ("queue_full", "closed", "io_error", "transform_error", "forked")),
    ],
)  # fmt: skip
def test_counters_with_known_label_values_start_at_zero(
    fresh: tt.Telemetry, family: str, values: tuple[str, ...]
) -> None:
    text = fresh.render_metrics().body.decode()
    samples = {
        sample.labels[next(iter(sample.labels))]: sample.value
        for parsed in text_string_to_metric_families(text)
        for sample in parsed.samples
        if sample.name == f"{NS}_{family}"
    }
    assert samples == dict.fromkeys(values, 0.0)


def test_a_known_counter_counts_up_from_its_zero() -> None:
    with tt.Telemetry(namespace=NS, serve=False, tracing=True) as telemetry:
        with telemetry.cycle_timer():
            pass
        text = telemetry.render_metrics().body.decode()
    assert f'{NS}_cycles_total{{outcome="ok"}} 1' in text
    assert f'{NS}_telemetry_dropped_spans_total{{reason="trace_too_long"}} 0' in text


def test_components_not_in_use_declare_nothing() -> None:
    """Tracing off and no events log: their families stay out until they record something."""
    with tt.Telemetry(namespace=NS, serve=False) as telemetry:
        text = telemetry.render_metrics().body.decode()
    assert "slow_cycle_traces" not in text
    assert "dropped_events" not in text
    assert f"# TYPE {NS}_cycle_errors_total counter" in text
