"""Exemplars that stay: the latest exemplar of each bucket is in every OpenMetrics scrape until a
newer one replaces it, whatever scrapes of any format come between; one whose trace failed to
export is withdrawn. Real HTTP scrapes of the endpoint, a real OTLP receiver."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator

import pytest

import trader_telemetry as tt
from tests.otlp_receiver import OtlpHttpReceiver

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
BUCKET = 'ex_cycle_duration_seconds_bucket{le="4.0"}'


@pytest.fixture
def receiver() -> Iterator[OtlpHttpReceiver]:
    with OtlpHttpReceiver() as running:
        yield running


def traced(receiver: OtlpHttpReceiver, clock: tt.ManualClock) -> tt.Telemetry:
    config = tt.TracingConfig(endpoint=receiver.endpoint, protocol="http/protobuf")
    return tt.Telemetry(namespace="ex", port=0, clock=clock, tracing=config)


def scrape(telemetry: tt.Telemetry, accept: str | None) -> str:
    assert telemetry.metrics_url is not None
    request = urllib.request.Request(telemetry.metrics_url, headers={"Accept": accept or "*/*"})
    with urllib.request.urlopen(request, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def exemplar_trace(body: str) -> str | None:
    line = next(row for row in body.splitlines() if row.startswith(BUCKET))
    match = re.search(r'trace_id="([0-9a-f]{32})"', line)
    return None if match is None else match.group(1)


def slow_cycle(telemetry: tt.Telemetry, clock: tt.ManualClock) -> None:
    with telemetry.cycle_timer():
        clock.advance(3.5)  # slow: kept, and its exemplar lands in the le="4.0" bucket


def test_text_scrape_between_two_openmetrics_scrapes_leaves_the_exemplar_in_both(
    receiver: OtlpHttpReceiver, clock: tt.ManualClock
) -> None:
    telemetry = traced(receiver, clock)
    try:
        slow_cycle(telemetry, clock)
        first = exemplar_trace(scrape(telemetry, OPENMETRICS))
        assert first is not None
        assert "trace_id" not in scrape(telemetry, None)  # someone's curl, in text
        assert exemplar_trace(scrape(telemetry, OPENMETRICS)) == first
        assert exemplar_trace(scrape(telemetry, OPENMETRICS)) == first  # a second Prometheus
        slow_cycle(telemetry, clock)  # a newer one replaces it
        second = exemplar_trace(scrape(telemetry, OPENMETRICS))
        assert second is not None
        assert second != first
        assert {span.trace_id for span in receiver.wait_for_spans(2)} == {first, second}
    finally:
        telemetry.shutdown()


def test_exemplar_of_a_trace_that_failed_to_export_is_withdrawn(
    receiver: OtlpHttpReceiver, clock: tt.ManualClock
) -> None:
    receiver.mode = "reject"  # 400: the export fails, not retried
    telemetry = traced(receiver, clock)
    try:
        slow_cycle(telemetry, clock)
        provider = telemetry.tracer_provider
        assert provider is not None
        provider.force_flush()
        deadline = time.monotonic() + 10
        while (trace := exemplar_trace(scrape(telemetry, OPENMETRICS))) is not None:
            assert time.monotonic() < deadline, f"exemplar {trace} still shown"
            time.sleep(0.02)
        assert receiver.requests >= 1  # the export was tried, and refused
    finally:
        telemetry.shutdown()
