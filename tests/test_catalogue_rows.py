"""Every catalogue row is complete: it names where its value comes from (and that resolves), the
docs table lists it, the dashboard shows it or the row says why not, and a scrape-time row says
where its value is kept (a path that exists) or how it is computed. The reverse holds too: every
recording call of ``Telemetry`` feeds some row."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

import trader_telemetry as tt
from trader_telemetry.catalogue import CATALOGUE, Component, Computed, MetricKind, MetricSpec
from trader_telemetry.compat import FileExporter
from trader_telemetry.compat.legacy_names import LEGACY_SPECS, LegacyFigures
from trader_telemetry.errors import ConfigurationError
from trader_telemetry.instruments import ComputedValues, ScrapeTimeMetrics
from trader_telemetry.ops import OpsOptions
from trader_telemetry.ops.dashboard import dashboard
from trader_telemetry.row_values import json_at, reading, samples
from trader_telemetry.selfmonitor import SelfMonitor
from trader_telemetry.state import RecordedState

ROOT = Path(__file__).resolve().parent.parent
NS = "trader"
#: The rows the core produces at scrape time (an exporter's rows come from its own producers).
SCRAPE_TIME = (Component.CORE, Component.HEALTH, Component.TRACING, Component.EVENTS)


def resolve(source: str) -> object:
    """``record_account`` -> ``Telemetry.record_account``; ``cycle.CycleTimer`` ->
    ``trader_telemetry.cycle.CycleTimer`` (the longest importable module prefix, then
    attributes)."""
    if "." not in source:
        return getattr(tt.Telemetry, source)
    parts = source.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            target: object = importlib.import_module("trader_telemetry." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise LookupError(source)


def dashboard_text() -> str:
    return json.dumps(dashboard(OpsOptions(namespace=NS)))


def on_dashboard(spec: MetricSpec, text: str) -> bool:
    return (
        re.search(rf"\b{re.escape(spec.full_name(NS))}(_bucket|_count|_sum)?\{{", text) is not None
    )


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda spec: spec.name)
def test_a_row_names_a_source_that_exists(spec: MetricSpec) -> None:
    assert spec.source, f"{spec.name}: no source (which call or part sets it?)"
    for source in spec.source:
        target = resolve(source)  # AttributeError / LookupError: a source that does not exist
        if "." not in source:
            assert not source.startswith("_"), source
            assert inspect.isfunction(target), source


def test_every_recording_call_feeds_a_row() -> None:
    calls = {
        name
        for name, member in inspect.getmembers(tt.Telemetry, inspect.isfunction)
        if re.match(r"(record|set)_", name)
    }
    fed = {source for spec in CATALOGUE for source in spec.source if "." not in source}
    assert calls == fed, (sorted(calls - fed), sorted(fed - calls))


def test_every_row_is_in_the_metrics_page() -> None:
    page = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    missing = [s.name for s in CATALOGUE if f"`{{ns}}_{s.name}`" not in page]
    assert missing == []


def test_every_row_has_a_panel_or_says_why_not() -> None:
    text = dashboard_text()
    for spec in CATALOGUE:
        if spec.no_panel is None:
            assert on_dashboard(spec, text), f"{spec.name}: no panel and no no_panel reason"
        else:
            assert spec.no_panel.strip(), spec.name
            assert not on_dashboard(spec, text), f"{spec.name}: on the dashboard yet no_panel"


def core_readings() -> tuple[RecordedState, ComputedValues]:
    clock = tt.ManualClock()
    state = RecordedState(started_monotonic=0.0)
    return state, ComputedValues(state, clock, SelfMonitor(clock.monotonic, 60.0), "0", dict)


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda spec: spec.name)
def test_a_scrape_time_row_says_where_its_value_is_kept_or_how_it_is_computed(
    spec: MetricSpec, tmp_path: Path
) -> None:
    if not spec.observable:  # a histogram: recorded on the hot path, read by no one
        assert spec.read is spec.computed is spec.json is None, spec.name
        return
    assert (spec.read is None) != (spec.computed is None), f"{spec.name}: read= or computed="
    if spec.component in SCRAPE_TIME:
        state, computed = core_readings()
        read = reading(spec, state, computed)  # ConfigurationError: a path that does not exist
    else:
        events = tmp_path / "events.jsonl"
        events.write_text("")
        with FileExporter(events_file=events, serve=False) as exporter:
            read = reading(spec, exporter)
            samples(spec, read())
        return
    samples(spec, read())  # the value as kept has the shape the labels say
    if spec.read is not None and spec.read.startswith("gauges."):
        assert spec.read == f"gauges.{spec.name}", "a plain gauge is kept under its row's name"


def test_every_computed_value_is_some_rows() -> None:
    assert {spec.computed for spec in CATALOGUE if spec.computed} == set(Computed)


@pytest.mark.parametrize("spec", LEGACY_SPECS, ids=lambda spec: spec.name)
def test_a_compatibility_row_is_read_from_the_legacy_figures(spec: MetricSpec) -> None:
    figures = LegacyFigures()
    figures.document({"open_orders": 2, "system": {"cpu_percent": 4.8}}, at=60.0)
    got = samples(spec, reading(spec, figures)())
    if spec.kind is MetricKind.COUNTER:
        assert got == [((), 0)]  # nothing counted yet reads 0
    if spec.json is not None and spec.name in ("open_orders", "cpu_percent"):
        assert got == [((), {"open_orders": 2.0, "cpu_percent": 4.8}[spec.name])]


def test_every_row_with_a_json_key_is_in_the_document() -> None:
    telemetry = tt.Telemetry(serve=False, clock=tt.ManualClock())
    try:
        telemetry.record_account(equity=10.0, realized_pnl=1.0)
        telemetry.record_daily_loss(5.0, limit=50.0)
        telemetry.set_circuit_breaker(True, reason="daily_loss")
        telemetry.record_mark("BTC-PERP")
        document = telemetry.snapshot()
        placed = [spec for spec in CATALOGUE if spec.json is not None]
        assert placed
        for spec in placed:
            assert spec.json is not None
            section, _, key = spec.json.rpartition(".")
            assert key in document[section], spec.name
        assert json_at(document, "account_snapshot.equity") == 10.0
        assert json_at(document, "risk.circuit_breaker_triggered") is True  # as kept, not 1
        assert json_at(document, "risk.circuit_breaker_trips") == {"daily_loss": 1}
        assert json_at(document, "market_data.staleness_seconds") == {"BTC-PERP": 0.0}
    finally:
        telemetry.shutdown()


def test_a_row_that_says_nothing_or_names_nothing_is_a_clear_error() -> None:
    state, computed = core_readings()
    silent = MetricSpec("silent", MetricKind.GAUGE, "1", "Says nothing.")
    with pytest.raises(ConfigurationError, match=r"'silent': no read= .* and no computed="):
        reading(silent, state, computed)
    typo = MetricSpec("typo", MetricKind.GAUGE, "1", "A typo.", read="acount.equity")
    with pytest.raises(ConfigurationError, match=re.escape("'typo': read='acount.equity'")):
        reading(typo, state, computed)
    # Without a producer: an error naming the row, not a KeyError.
    with pytest.raises(ConfigurationError, match=r"\['silent'\] have no producer"):
        ScrapeTimeMetrics(
            "trader", SelfMonitor(tt.ManualClock().monotonic, 60.0), {}, specs=[silent]
        )


def test_a_row_without_a_source_or_a_panel_is_caught() -> None:
    """The checks above can fail: a made-up row has neither."""
    made_up = MetricSpec("made_up_total", CATALOGUE[0].kind, "1", "Made up.")
    assert made_up.source == ()
    assert not on_dashboard(made_up, dashboard_text())
    with pytest.raises(AttributeError):
        resolve("record_made_up")
    with pytest.raises(AttributeError):
        resolve("cycle.NoSuchTimer")
