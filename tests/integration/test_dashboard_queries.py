"""Every query of the Grafana dashboard returns data from a real Prometheus scraping the demo bot.

This is the check that catches a wrong suffix (``_total``, ``_seconds``, ``_bucket``) or label
name: a query Grafana would render as "No data" fails here. The demo's SimulatedBot runs two
batches of cycles on a fake clock (one before the first scrape, one after, so rates and
histogram quantiles have two samples to work with); the few self-metrics the demo never
touches are driven through the public API: an internal fault, a rejected NaN, an events queue
of one (drops), tracing with a 2-span cap (drops, kept slow traces).
"""

from __future__ import annotations

import contextlib
import math
import random
import re
from collections.abc import Iterator
from typing import Any, cast

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import trader_telemetry as tt
from trader_telemetry.ops import OpsOptions
from trader_telemetry.ops.dashboard import dashboard
from trader_telemetry.readers import Exposition
from trader_telemetry.simulation import SimulatedBot, SimulatedExchangeError

from ..ops.test_dashboard import panel_queries, substitute
from .conftest import Prometheus

NS = "coinbase_trader"
JOB = "bot"  # the session Prometheus's scrape job (conftest.py)
CYCLES = 60  # the demo's schedule shows every behaviour in 60 cycles


def run_cycles(bot: SimulatedBot, first: int, last: int) -> None:
    """Cycles ``first``..``last`` as ``run_demo`` runs them: errors recorded, not raised."""
    clock = bot.telemetry.clock
    assert isinstance(clock, tt.ManualClock)
    for n in range(first, last + 1):
        with contextlib.suppress(SimulatedExchangeError):
            bot.run_cycle(n)
        clock.advance(2.0)


class TextFormatOnly:
    """Serves a Telemetry in the classic text format, without exemplars.

    Tracing is on here (for the trace counters), so kept cycles carry exemplars; the session
    Prometheus's exemplar store outlives this test and other tests read it."""

    def __init__(self, telemetry: tt.Telemetry) -> None:
        self.config = telemetry.config
        self._telemetry = telemetry

    def render_metrics(self, accept: str | None = None) -> Exposition:
        return self._telemetry.render_metrics(None)

    def snapshot(self) -> dict[str, Any]:
        return self._telemetry.snapshot()


@pytest.fixture(scope="module")
def demo(
    prometheus: Prometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[tt.Telemetry, str]]:
    """A demo bot scraped by the session Prometheus; yields it and its ``instance`` label."""
    clock = tt.ManualClock()
    telemetry = tt.Telemetry(
        namespace=NS,
        serve=False,
        clock=clock,
        data_dir=str(tmp_path_factory.mktemp("demo")),
        events_queue_size=1,  # the demo's burst of events overflows it: dropped events
        tracing=tt.TracingConfig(exporter=InMemorySpanExporter(), max_spans_per_trace=2),
    )
    try:
        bot = SimulatedBot(telemetry, random.Random(7), clock.sleep)
        run_cycles(bot, 1, CYCLES)
        telemetry.record_account(equity=math.nan)  # rejected value
        telemetry.record_mark(["BTC-PERP"])  # type: ignore[arg-type]  # an internal fault
        prometheus.install(cast(tt.Telemetry, TextFormatOnly(telemetry)))
        run_cycles(bot, CYCLES + 1, 2 * CYCLES)
        prometheus.wait_for(
            f'sum({NS}_cycles_total{{job="{JOB}"}})', lambda v: v == 2 * CYCLES, timeout=5
        )
        (target,) = prometheus.api("/api/v1/targets")["activeTargets"]
        yield telemetry, target["labels"]["instance"]
    finally:
        prometheus.source.current = None
        telemetry.shutdown()


def test_every_panel_query_returns_data(
    prometheus: Prometheus, demo: tuple[tt.Telemetry, str]
) -> None:
    _, instance = demo
    model = dashboard(OpsOptions(namespace=NS, job=JOB))
    # Both batches were scraped within the last few seconds; 10s holds them and no more.
    failures: list[str] = []
    checked = 0
    for title, target in panel_queries(model):
        query = substitute(target["expr"], job=JOB, instance=instance, rate_interval="10s")
        result = prometheus.query(query)
        values = [float(series["value"][1]) for series in result]
        # Labels the query groups by or the legend names must be on the result: a misspelt
        # label still "returns data" (one group, empty legend) but not with that label.
        wanted = set(re.findall(r"\{\{(\w+)\}\}", target["legendFormat"]))
        for grouping in re.findall(r"by \(([^)]*)\)", query):
            wanted |= {label.strip() for label in grouping.split(",")} - {"le"}
        missing = {label for label in wanted for series in result if label not in series["metric"]}
        if not any(math.isfinite(v) for v in values) or missing:
            failures.append(f"{title} [{target['refId']}]: {query} -> {values}, missing {missing}")
        checked += 1
    assert failures == [], "queries without data:\n" + "\n".join(failures)
    assert checked >= 40


def test_job_and_instance_variables_list_the_scraped_bot(
    prometheus: Prometheus, demo: tuple[tt.Telemetry, str]
) -> None:
    _, instance = demo
    variables = {v["name"]: v for v in dashboard(OpsOptions(namespace=NS))["templating"]["list"]}
    found: dict[str, list[str]] = {}
    for name in ("job", "instance"):
        query = substitute(variables[name]["query"]["query"], job=JOB, instance="")
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
        assert match, query
        series, label = match.groups()
        found[name] = prometheus.api(f"/api/v1/label/{label}/values", **{"match[]": series})
    assert JOB in found["job"]
    assert instance in found["instance"]
