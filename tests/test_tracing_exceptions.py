"""Exception events and the bot's own spans, through the public API only, against the real
in-process OTLP receiver: the exception event sits inside its span at the time the exception
was seen, with ``exception.escaped`` true (it left the cycle); spans made through the global
``opentelemetry.trace`` API join the cycle's trace once the bot makes our provider the global
one (a subprocess: the global provider can be set once per process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

import trader_telemetry as tt
from tests.otlp_receiver import OtlpHttpReceiver, ReceivedSpan


class VenueDownError(Exception):
    pass


@pytest.fixture
def receiver() -> Iterator[OtlpHttpReceiver]:
    with OtlpHttpReceiver() as running:
        yield running


def exception_event(span: ReceivedSpan) -> tuple[int, dict[str, object]]:
    [(_name, at, attributes)] = [e for e in span.event_records if e[0] == "exception"]
    return at, attributes


def test_exception_event_inside_its_span_and_escaped(receiver: OtlpHttpReceiver) -> None:
    config = tt.TracingConfig(endpoint=receiver.endpoint, protocol="http/protobuf")
    telemetry = tt.Telemetry(namespace="ex", serve=False, tracing=config)
    try:
        with pytest.raises(VenueDownError), telemetry.cycle_timer() as cycle, cycle.phase("fetch"):
            raise VenueDownError("venue down")
    finally:
        telemetry.shutdown()
    spans = {span.name: span for span in receiver.wait_for_spans(2)}
    for name in ("cycle", "fetch"):
        span = spans[name]
        at, attributes = exception_event(span)
        assert span.start_ns <= at <= span.end_ns, (name, span.start_ns, at, span.end_ns)
        assert str(attributes["exception.type"]).endswith("VenueDownError")
        assert attributes["exception.escaped"] is True, attributes


BOT = """
    import sys
    from opentelemetry import trace
    import trader_telemetry as tt

    config = tt.TracingConfig(endpoint=sys.argv[1], protocol="http/protobuf", slow_cycle_seconds=60)
    telemetry = tt.Telemetry(namespace="gl", serve=False, tracing=config)
    trace.set_tracer_provider(telemetry.tracer_provider)  # as docs/tracing.md says
    tracer = trace.get_tracer("my_bot")
    for fail in (False, True):  # a fast cycle (dropped), then a failing one (kept)
        try:
            with telemetry.cycle_timer() as cycle, cycle.phase("fetch"):
                with tracer.start_as_current_span("GET /marks" if fail else "GET /fast"):
                    if fail:
                        raise RuntimeError("venue down")
        except RuntimeError:
            pass
    telemetry.shutdown()
"""


def test_spans_of_the_global_api_join_the_cycles_trace(receiver: OtlpHttpReceiver) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(BOT), receiver.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    spans = {span.name: span for span in receiver.wait_for_spans(3)}
    assert set(spans) == {"cycle", "fetch", "GET /marks"}  # the fast cycle's went with it
    own, phase, root = spans["GET /marks"], spans["fetch"], spans["cycle"]
    assert own.trace_id == phase.trace_id == root.trace_id
    assert own.parent_span_id == phase.span_id
    assert phase.parent_span_id == root.span_id
