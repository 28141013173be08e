"""Our own reader against the upstream one: same families, labels and values; plus what only
ours does (exemplars, shared renders, visible OTel overflow)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

import trader_telemetry as tt
from tests.conftest import samples, value
from trader_telemetry.readers.native import NativePrometheusReader
from trader_telemetry.readers.negotiation import wants_openmetrics
from trader_telemetry.simulation import run_demo

OPENMETRICS = "application/openmetrics-text; version=1.0.0"

Parsed = dict[tuple[str, str], set[tuple[str, frozenset[tuple[str, str]], float]]]


def parse(body: bytes, *, openmetrics: bool) -> Parsed:
    """family (name, type) -> samples, with empty labels dropped (the same series either way)."""
    parser = parse_openmetrics if openmetrics else parse_text
    out: Parsed = {}
    for family in parser(body.decode()):
        samples = set()
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            labels = frozenset((k, v) for k, v in s.labels.items() if v != "")
            samples.add((s.name, labels, float(s.value)))
        out[(family.name, family.type)] = samples
    return out


def recorded(reader: str) -> tt.Telemetry:
    clock = tt.ManualClock()
    telemetry = tt.Telemetry(namespace="coinbase_trader", serve=False, clock=clock, reader=reader)
    run_demo(telemetry, cycles=60, interval=2.0, seed=5, sleep=clock.sleep)
    telemetry.record_account(equity=float("nan"))
    telemetry.record_exposure('we"ird\\sym\nbol', 1.5)  # escaping
    return telemetry


@pytest.fixture
def both() -> Iterator[tuple[tt.Telemetry, tt.Telemetry]]:
    ours, upstream = recorded("native"), recorded("otel-prometheus")
    yield ours, upstream
    ours.shutdown()
    upstream.shutdown()


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
def test_native_and_upstream_expose_identical_families_labels_and_values(
    both: tuple[tt.Telemetry, tt.Telemetry], openmetrics: bool
) -> None:
    accept = OPENMETRICS if openmetrics else None
    ours_body = both[0].render_metrics(accept).body
    upstream_body = both[1].render_metrics(accept).body
    ours = {
        k: v for k, v in parse(ours_body, openmetrics=openmetrics).items() if "process" not in k[0]
    }
    upstream = {
        k: v
        for k, v in parse(upstream_body, openmetrics=openmetrics).items()
        if "process" not in k[0]
    }
    # Ours also declares the catalogue's families that have no sample yet (HELP and TYPE from
    # the first scrape); the upstream reader leaves them out. The rest is identical.
    ours = {family: series for family, series in ours.items() if series or family in upstream}
    assert set(ours) == set(upstream)
    for family, series in ours.items():
        assert series == upstream[family], family
    assert ("coinbase_trader_exposure_usd", "gauge") in ours


def test_openmetrics_ends_with_eof_and_declares_units(
    both: tuple[tt.Telemetry, tt.Telemetry],
) -> None:
    body = both[0].render_metrics(OPENMETRICS).body.decode()
    assert body.endswith("# EOF\n")
    assert body.count("# EOF") == 1
    assert "# UNIT coinbase_trader_cycle_duration_seconds seconds" in body
    assert "# TYPE coinbase_trader_cycles counter" in body
    assert 'coinbase_trader_cycles_total{outcome="ok"}' in body


def test_label_values_and_help_are_escaped(both: tuple[tt.Telemetry, tt.Telemetry]) -> None:
    text = both[0].render_metrics().body.decode()
    assert 'symbol="we\\"ird\\\\sym\\nbol"' in text
    families = parse(text.encode(), openmetrics=False)
    series = families[("coinbase_trader_exposure_usd", "gauge")]
    assert (
        "coinbase_trader_exposure_usd",
        frozenset({("symbol", 'we"ird\\sym\nbol')}),
        1.5,
    ) in series


def test_exemplars_carry_the_trace_of_the_cycle() -> None:
    tracer = TracerProvider().get_tracer("bot")
    clock = tt.ManualClock()
    telemetry = tt.Telemetry(namespace="ex", serve=False, clock=clock)
    try:
        with tracer.start_as_current_span("cycle") as span, telemetry.cycle_timer():
            clock.advance(3.5)
        context = span.get_span_context()
        body = telemetry.render_metrics(OPENMETRICS).body.decode()
        bucket = next(
            s
            for f in parse_openmetrics(body)  # type: ignore[no-untyped-call]
            if f.name == "ex_cycle_duration_seconds"
            for s in f.samples
            if s.name.endswith("_bucket") and s.labels["le"] == "4.0"
        )
        assert bucket.exemplar is not None
        assert bucket.exemplar.labels == {
            "trace_id": f"{context.trace_id:032x}",
            "span_id": f"{context.span_id:016x}",
        }
        assert bucket.exemplar.value == 3.5
        assert bucket.exemplar.timestamp is not None
        # Plain text has no exemplars (the format cannot carry them).
        assert "trace_id" not in telemetry.render_metrics().body.decode()
    finally:
        telemetry.shutdown()


def test_concurrent_scrapes_share_one_render() -> None:
    entered, release = threading.Event(), threading.Event()
    calls = 0

    def slow_callback(_options: CallbackOptions) -> list[Observation]:
        nonlocal calls
        calls += 1
        entered.set()
        release.wait(5)
        return [Observation(1.0)]

    reader = NativePrometheusReader(process_metrics=False)
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("bot").create_observable_gauge("slow", [slow_callback], description="Slow.")
    results: list[bytes] = []
    first = threading.Thread(target=lambda: results.append(reader.render().body))
    first.start()
    assert entered.wait(5)
    second = threading.Thread(target=lambda: results.append(reader.render().body))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    provider.shutdown()
    assert calls == 1
    assert len(results) == 2
    assert results[0] == results[1]


def test_removed_series_leave_the_label_cache(telemetry: tt.Telemetry) -> None:
    telemetry.record_exposures({f"S{i}": 1.0 for i in range(50)})
    telemetry.render_metrics()
    telemetry.record_exposures({"S0": 2.0})
    telemetry.render_metrics()
    assert value(telemetry, "exposure_usd", symbol="S1") is None
    assert value(telemetry, "exposure_usd", symbol="S0") == 2.0
    renderer = telemetry.reader._renderers[False]  # type: ignore[attr-defined]
    assert len(renderer._labels) < 20


def test_otel_cardinality_overflow_is_counted_and_visible() -> None:
    provider = MeterProvider()
    telemetry = tt.Telemetry(
        namespace="ov", serve=False, max_label_values=1, meter_provider=provider
    )
    try:
        counter = provider.get_meter("bot").create_counter("bot_events", description="Events.")
        for i in range(20):  # the bot's own unbounded instrument on the shared provider
            counter.add(1, {"id": str(i)})
        text = telemetry.render_metrics().body.decode()
        assert 'bot_events_total{otel_metric_overflow="true"}' in text
        telemetry.render_metrics(OPENMETRICS)  # the other format sees the same fold
        telemetry.render_metrics()
        assert (
            value(telemetry, "telemetry_rejected_values_total", reason="cardinality_overflow") == 1
        )
    finally:
        telemetry.shutdown()
        provider.shutdown()


def test_both_readers_are_selectable() -> None:
    for name, cls in (
        ("native", "NativePrometheusReader"),
        ("otel-prometheus", "OtelPrometheusReader"),
    ):
        telemetry = tt.Telemetry(serve=False, reader=name)
        try:
            assert type(telemetry.reader).__name__ == cls
            assert telemetry.reader.name == name
        finally:
            telemetry.shutdown()
    assert tt.TelemetryConfig().reader == "native"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("text/plain;version=0.0.4", False),
        ("application/openmetrics-text;version=1.0.0;q=0.9,text/plain;q=0.1", True),
        ("application/openmetrics-text;q=0", False),
    ],
)
def test_content_negotiation(accept: str | None, expected: bool) -> None:
    assert wants_openmetrics(accept) is expected


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
def test_readers_agree_with_target_info_and_scope_labels_on(openmetrics: bool) -> None:
    bodies = []
    for reader in ("native", "otel-prometheus"):
        clock = tt.ManualClock()
        telemetry = tt.Telemetry(
            namespace="sw",
            serve=False,
            reader=reader,
            target_info=True,
            scope_labels=True,
            clock=clock,
        )
        try:
            with telemetry.cycle_timer():
                clock.advance(0.5)
                telemetry.record_exposure("BTC-PERP", 3.0)
            bodies.append(telemetry.render_metrics(OPENMETRICS if openmetrics else None).body)
        finally:
            telemetry.shutdown()
    ours, upstream = (
        {k: v for k, v in parse(b, openmetrics=openmetrics).items() if "process" not in k[0]}
        for b in bodies
    )
    # Ours also declares the families without samples yet; the upstream reader does not.
    assert {k: v for k, v in ours.items() if v or k in upstream} == upstream
    assert any(name.startswith("target") for name, _ in ours)


def test_cardinality_limit_covers_a_bots_sync_gauges() -> None:
    provider = MeterProvider()
    telemetry = tt.Telemetry(serve=False, max_label_values=60, meter_provider=provider)
    try:
        gauge = provider.get_meter("bot").create_gauge("bot_level", description="Level.")
        for i in range(2_500):  # past OTel's default 2,000, within (60+1)^2+1
            gauge.set(1.0, {"id": str(i)})
        text = telemetry.render_metrics().body.decode()
        assert text.count("bot_level{") == 2_500
        assert "otel_metric_overflow" not in text
    finally:
        telemetry.shutdown()
        provider.shutdown()


def test_scrape_time_metrics_skip_otel_aggregation_for_ours_only() -> None:
    bot_reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[bot_reader])
    telemetry = tt.Telemetry(namespace="dx", serve=False, meter_provider=provider)
    try:
        telemetry.record_exposure("BTC-PERP", 42.0)
        assert value(telemetry, "exposure_usd", symbol="BTC-PERP") == 42.0  # native, direct
        # The bot's own reader, on the same provider, still gets it through OTel.
        data = bot_reader.get_metrics_data()
        assert data is not None
        points = [
            point
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.name == "dx_exposure_usd"
            for point in metric.data.data_points
            if isinstance(point, NumberDataPoint)
        ]
        assert [(dict(p.attributes or {}), p.value) for p in points] == [
            ({"symbol": "BTC-PERP"}, 42.0)
        ]
    finally:
        telemetry.shutdown()
        provider.shutdown()


def test_a_failing_producer_is_counted_and_the_rest_still_renders(
    telemetry: tt.Telemetry,
) -> None:
    telemetry.record_account(equity=9.0)
    telemetry._state.stale_marks = None  # type: ignore[assignment]  # break one producer
    scraped = samples(telemetry)  # one scrape: each failing scrape counts once
    assert scraped[("test_equity", frozenset())] == 9.0
    fault = frozenset({("reason", "observe_stale_marks_total")})
    assert scraped[("test_telemetry_errors_total", fault)] == 1
