"""Slow-cycle tracing: whole traces of slow and failed cycles, nothing of fast ones, bounded
buffers, exemplars that point at exported traces."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import trader_telemetry as tt
from tests.conftest import value

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class BotError(Exception):
    pass


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(clock: tt.ManualClock, exporter: InMemorySpanExporter) -> Iterator[tt.Telemetry]:
    telemetry = tt.Telemetry(
        namespace="tr", serve=False, clock=clock, tracing=tt.TracingConfig(exporter=exporter)
    )
    yield telemetry
    telemetry.shutdown()


def exported(telemetry: tt.Telemetry, exporter: InMemorySpanExporter) -> list[tuple[str, str]]:
    assert telemetry._tracing is not None
    telemetry._tracing.processor.force_flush()
    return [(s.name, f"{s.context.trace_id:032x}") for s in exporter.get_finished_spans()]


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def run_cycle(telemetry: tt.Telemetry, clock: tt.ManualClock, seconds: float) -> tt.Cycle:
    assert telemetry._tracing is not None
    bot_tracer = telemetry._tracing.provider.get_tracer("bot")
    with telemetry.cycle_timer() as cycle:
        with cycle.phase("fetch_marks"), bot_tracer.start_as_current_span("GET /marks"):
            clock.advance(seconds / 2)
        with cycle.phase("place_orders"):
            clock.advance(seconds / 2)
    return cycle


def test_slow_cycle_exports_the_whole_trace_and_fast_ones_nothing(
    traced: tt.Telemetry, clock: tt.ManualClock, exporter: InMemorySpanExporter
) -> None:
    run_cycle(traced, clock, 0.5)
    run_cycle(traced, clock, 3.5)
    run_cycle(traced, clock, 0.2)
    spans = exporter_spans = exported(traced, exporter)
    assert sorted(name for name, _ in spans) == [
        "GET /marks",
        "cycle",
        "fetch_marks",
        "place_orders",
    ]
    assert len({trace for _, trace in exporter_spans}) == 1
    root = next(s for s in exporter.get_finished_spans() if s.name == "cycle")
    assert root.parent is None
    assert root.attributes is not None
    assert root.attributes["cycle.number"] == 2
    assert root.attributes["cycle.outcome"] == "ok"
    assert root.attributes["trader.namespace"] == "tr"
    children = [s for s in exporter.get_finished_spans() if s.name != "cycle"]
    by_name = {s.name: s for s in children}
    assert by_name["fetch_marks"].parent is not None
    assert by_name["fetch_marks"].parent.span_id == root.context.span_id
    assert by_name["GET /marks"].parent is not None
    assert by_name["GET /marks"].parent.span_id == by_name["fetch_marks"].context.span_id
    assert value(traced, "slow_cycle_traces_total", reason="slow") == 1


def test_failing_cycle_is_exported_with_error_status_and_exception(
    traced: tt.Telemetry, clock: tt.ManualClock, exporter: InMemorySpanExporter
) -> None:
    original = BotError("venue down")
    with pytest.raises(BotError) as info, traced.cycle_timer():
        clock.advance(0.1)
        raise original
    assert info.value is original
    exported(traced, exporter)
    (root,) = exporter.get_finished_spans()
    assert root.status.status_code.name == "ERROR"
    assert [event.name for event in root.events] == ["exception"]
    assert root.attributes is not None
    assert root.attributes["cycle.outcome"] == "error"
    assert value(traced, "slow_cycle_traces_total", reason="error") == 1


def test_sample_ratio_keeps_a_baseline(
    clock: tt.ManualClock, exporter: InMemorySpanExporter
) -> None:
    telemetry = tt.Telemetry(
        serve=False,
        clock=clock,
        tracing=tt.TracingConfig(exporter=exporter, sample_ratio=0.25),
    )
    try:
        for _ in range(400):
            with telemetry.cycle_timer():
                clock.advance(0.01)
        kept = value(telemetry, "slow_cycle_traces_total", reason="sampled")
        assert kept is not None
        assert 60 <= kept <= 140  # 100 expected
        assert len(exported(telemetry, exporter)) == kept
    finally:
        telemetry.shutdown()


def test_exemplars_point_only_at_exported_traces(
    traced: tt.Telemetry, clock: tt.ManualClock, exporter: InMemorySpanExporter
) -> None:
    for seconds in (0.1, 4.5, 0.2, 0.03):
        run_cycle(traced, clock, seconds)
    kept = {trace for _, trace in exported(traced, exporter)}
    body = traced.render_metrics(OPENMETRICS).body.decode()
    exemplar_traces = set(re.findall(r'trace_id="([0-9a-f]{32})"', body))
    assert exemplar_traces
    assert exemplar_traces <= kept
    slow_bucket = next(
        line for line in body.splitlines() if 'cycle_duration_seconds_bucket{le="6.0"}' in line
    )
    assert re.search(r'trace_id="([0-9a-f]{32})"', slow_bucket).group(1) in kept  # type: ignore[union-attr]


def test_buffer_caps_bound_memory_for_a_cycle_of_100k_spans(
    clock: tt.ManualClock, exporter: InMemorySpanExporter
) -> None:
    telemetry = tt.Telemetry(
        serve=False,
        clock=clock,
        tracing=tt.TracingConfig(exporter=exporter, max_spans_per_trace=100),
    )
    try:
        assert telemetry._tracing is not None
        tracer = telemetry._tracing.provider.get_tracer("bot")
        before = rss_bytes()
        with telemetry.cycle_timer():
            for _ in range(100_000):
                with tracer.start_as_current_span("tiny"):
                    pass
            grown = rss_bytes() - before
            clock.advance(5)
        # 100,000 finished spans kept would take well over 100 MB; 100 buffered ones do not.
        assert grown < 40_000_000
        assert value(telemetry, "telemetry_dropped_spans_total", reason="trace_too_long") == 99_900
        assert len(exported(telemetry, exporter)) == 101  # the capped trace is still exported
    finally:
        telemetry.shutdown()


def test_open_traces_are_capped(clock: tt.ManualClock, exporter: InMemorySpanExporter) -> None:
    telemetry = tt.Telemetry(
        serve=False, clock=clock, tracing=tt.TracingConfig(exporter=exporter, max_open_traces=2)
    )
    try:
        timers = [telemetry.cycle_timer() for _ in range(3)]
        outer = timers[0].__enter__()
        middle = timers[1].__enter__()
        inner = timers[2].__enter__()  # a third open cycle: the oldest is dropped
        for timer in reversed(timers):
            timer.__exit__(None, None, None)
        assert {outer.number, middle.number, inner.number} == {1, 2, 3}
        assert value(telemetry, "telemetry_dropped_spans_total", reason="too_many_open_traces") == 1
    finally:
        telemetry.shutdown()


def test_plugs_into_the_bots_tracer_provider(clock: tt.ManualClock) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    telemetry = tt.Telemetry(
        serve=False,
        clock=clock,
        tracing=tt.TracingConfig(exporter=exporter, tracer_provider=provider),
        slow_cycle_seconds=1.0,
    )
    try:
        with telemetry.cycle_timer(), provider.get_tracer("bot").start_as_current_span("bot work"):
            clock.advance(1.5)
        assert sorted(name for name, _ in exported(telemetry, exporter)) == ["bot work", "cycle"]
    finally:
        telemetry.shutdown()
        provider.shutdown()


def test_tracing_configuration_errors_are_clear() -> None:
    with pytest.raises(tt.ConfigurationError, match="sample_ratio"):
        tt.TracingConfig(sample_ratio=2)
    with pytest.raises(tt.ConfigurationError, match="protocol"):
        tt.TracingConfig(protocol="zipkin")
    with pytest.raises(tt.ConfigurationError, match="slow_cycle_seconds needs tracing"):
        tt.Telemetry(serve=False, slow_cycle_seconds=2.0)
    with pytest.raises(tt.ConfigurationError, match="tracer_provider"):
        tt.TracingConfig(tracer_provider=object())


def test_no_tracing_means_no_spans_and_no_tracing_families(telemetry: tt.Telemetry) -> None:
    with telemetry.cycle_timer() as cycle:
        pass
    assert getattr(cycle, "_span", None) is None
    text = telemetry.render_metrics().body.decode()
    assert "slow_cycle_traces" not in text
    assert "dropped_spans" not in text
