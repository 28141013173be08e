"""Tracing against real OTLP receivers on 127.0.0.1 (HTTP/protobuf and gRPC), and the bot's loop
when the collector is down, rejects, or hangs."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest

import trader_telemetry as tt
from tests.otlp_receiver import OtlpGrpcReceiver, OtlpHttpReceiver, ReceivedSpan

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class BotError(Exception):
    pass


@pytest.fixture
def http_receiver() -> Iterator[OtlpHttpReceiver]:
    with OtlpHttpReceiver() as receiver:
        yield receiver


def traced(endpoint: str, protocol: str, clock: tt.Clock, **options: float) -> tt.Telemetry:
    config = tt.TracingConfig(endpoint=endpoint, protocol=protocol, **options)  # type: ignore[arg-type]
    return tt.Telemetry(namespace="ot", serve=False, clock=clock, tracing=config)


def play(telemetry: tt.Telemetry, clock: tt.ManualClock) -> None:
    """A fast cycle, a slow one with a bot span, a failing one, and another fast one."""
    assert telemetry._tracing is not None
    bot = telemetry._tracing.provider.get_tracer("bot")
    for seconds in (0.2, 4.0):
        with (
            telemetry.cycle_timer() as cycle,
            cycle.phase("fetch_marks"),
            bot.start_as_current_span("GET /marks"),
        ):
            clock.advance(seconds)
    with pytest.raises(BotError), telemetry.cycle_timer():
        clock.advance(0.1)
        raise BotError("venue down")
    with telemetry.cycle_timer():
        clock.advance(0.1)
    assert telemetry._tracing.processor.force_flush(5_000)


def check_received(spans: list[ReceivedSpan]) -> tuple[str, str]:
    """The slow trace (root, phase, bot span) and the failing root; returns their trace ids."""
    roots = [s for s in spans if s.name == "cycle"]
    assert len(roots) == 2, spans
    slow = next(s for s in roots if s.attributes["cycle.outcome"] == "ok")
    failed = next(s for s in roots if s.attributes["cycle.outcome"] == "error")
    assert slow.parent_span_id == ""
    assert slow.attributes["cycle.number"] == 2
    assert failed.status_code == 2
    assert "exception" in failed.events
    slow_trace = [s for s in spans if s.trace_id == slow.trace_id]
    assert sorted(s.name for s in slow_trace) == ["GET /marks", "cycle", "fetch_marks"]
    phase = next(s for s in slow_trace if s.name == "fetch_marks")
    assert phase.parent_span_id == slow.span_id
    assert len(spans) == 4  # nothing from the two fast cycles
    assert slow.resource.get("service.name") == "ot"
    return slow.trace_id, failed.trace_id


def test_http_receiver_gets_slow_and_failed_traces_and_the_exemplar_matches(
    http_receiver: OtlpHttpReceiver, clock: tt.ManualClock
) -> None:
    telemetry = traced(http_receiver.endpoint, "http/protobuf", clock)
    try:
        play(telemetry, clock)
        spans = http_receiver.wait_for_spans(4)
        slow_trace, _ = check_received(spans)
        body = telemetry.render_metrics(OPENMETRICS).body.decode()
        bucket = next(
            row for row in body.splitlines() if 'ot_cycle_duration_seconds_bucket{le="4.0"}' in row
        )
        match = re.search(r'trace_id="([0-9a-f]{32})"', bucket)
        assert match is not None
        assert match.group(1) == slow_trace
    finally:
        telemetry.shutdown()


def test_grpc_receiver_gets_the_same(clock: tt.ManualClock) -> None:
    with OtlpGrpcReceiver() as receiver:
        telemetry = traced(receiver.endpoint, "grpc", clock)
        try:
            play(telemetry, clock)
            check_received(receiver.wait_for_spans(4))
        finally:
            telemetry.shutdown()


def test_sample_ratio_sends_a_baseline_of_normal_cycles(
    http_receiver: OtlpHttpReceiver, clock: tt.ManualClock
) -> None:
    telemetry = traced(http_receiver.endpoint, "http/protobuf", clock, sample_ratio=0.5)
    try:
        for _ in range(200):
            with telemetry.cycle_timer():
                clock.advance(0.01)
        assert telemetry._tracing is not None
        telemetry._tracing.processor.force_flush(5_000)
        kept = telemetry.render_metrics().body.decode()
        found = re.search(r'ot_slow_cycle_traces_total\{reason="sampled"\} (\d+)', kept)
        assert found is not None, kept
        count = int(found.group(1))
        assert 60 <= count <= 140
        assert len(http_receiver.wait_for_spans(count)) == count
    finally:
        telemetry.shutdown()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def loop_seconds(telemetry: tt.Telemetry, cycles: int = 50) -> float:
    started = time.perf_counter()
    for _ in range(cycles):
        with telemetry.cycle_timer() as cycle:
            for name in ("fetch", "risk", "orders"):
                with cycle.phase(name):
                    pass
    return time.perf_counter() - started


@pytest.mark.parametrize("fault", ["down", "reject", "slow"])
def test_a_failing_collector_never_slows_or_breaks_the_loop(fault: str) -> None:
    plain = tt.Telemetry(serve=False)
    baseline = loop_seconds(plain)
    plain.shutdown()
    receiver = None
    if fault == "down":
        endpoint = f"http://127.0.0.1:{free_port()}/v1/traces"
    else:
        receiver = OtlpHttpReceiver(mode="reject" if fault == "reject" else "slow", delay=5.0)
        endpoint = receiver.endpoint
    # Every cycle is "slow" here, so every trace is kept and handed to the exporter.
    telemetry = traced(endpoint, "http/protobuf", tt.SystemClock(), slow_cycle_seconds=1e-9)
    try:
        elapsed = loop_seconds(telemetry)
        # A blocking export would cost about a second per cycle (a dead endpoint's retries, a
        # 5 s sleep); the tracing cost itself is measured by benchmarks/tracing.py. 10 ms a cycle
        # leaves room for a loaded CI machine and still fails on any blocking.
        assert elapsed - baseline < 50 * 0.010, (elapsed, baseline)
    finally:
        started = time.monotonic()
        telemetry.shutdown(timeout=2.0)
        assert time.monotonic() - started < 3.0  # bounded even with a hanging collector
        if receiver is not None:
            receiver.close()


def test_otel_service_name_and_resource_attributes_are_honoured(
    http_receiver: OtlpHttpReceiver, clock: tt.ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "btc-bot-7")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=canary")
    telemetry = traced(http_receiver.endpoint, "http/protobuf", clock)
    try:
        with pytest.raises(BotError), telemetry.cycle_timer():
            raise BotError
        assert telemetry._tracing is not None
        telemetry._tracing.processor.force_flush(5_000)
        (span,) = http_receiver.wait_for_spans(1)
        assert span.resource["service.name"] == "btc-bot-7"
        assert span.resource["deployment.environment"] == "canary"
    finally:
        telemetry.shutdown()
