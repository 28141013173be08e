"""Every catalogue row is complete: it names where its value comes from (and that resolves), the
docs table lists it, the dashboard shows it or the row says why not, and a scrape-time row has
its producer. The reverse holds too: every recording call of ``Telemetry`` feeds some row."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

import trader_telemetry as tt
from trader_telemetry.catalogue import CATALOGUE, Component, MetricSpec
from trader_telemetry.instruments import _producers
from trader_telemetry.ops import OpsOptions
from trader_telemetry.ops.dashboard import dashboard
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


def test_every_scrape_time_row_has_its_producer() -> None:
    clock = tt.ManualClock()
    producers = _producers(
        RecordedState(started_monotonic=0.0),
        clock,
        SelfMonitor(clock.monotonic, 60.0),
        "0",
        list,
    )
    rows = {s.name for s in CATALOGUE if s.observable and s.component in SCRAPE_TIME}
    assert set(producers) == rows


def test_a_row_without_a_source_or_a_panel_is_caught() -> None:
    """The checks above can fail: a made-up row has neither."""
    made_up = MetricSpec("made_up_total", CATALOGUE[0].kind, "1", "Made up.")
    assert made_up.source == ()
    assert not on_dashboard(made_up, dashboard_text())
    with pytest.raises(AttributeError):
        resolve("record_made_up")
    with pytest.raises(AttributeError):
        resolve("cycle.NoSuchTimer")
