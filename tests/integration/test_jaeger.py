"""Slow-cycle traces in a real Jaeger v2 (all-in-one on loopback, see tests/jaeger_process.py).

A bot with tracing on runs fast, slow and failing cycles; Jaeger's query API must hold exactly
the kept traces with the right span trees; the exemplar trace ids a real Prometheus (3 and 2.42)
stored must open in Jaeger; and a Jaeger that dies and comes back costs the bot nothing but the
traces of the outage, which are counted.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trader_telemetry as tt

from ..jaeger_process import Jaeger, running_jaeger
from .conftest import Prometheus

FAST, SLOW = 0.2, 4.0


class VenueDownError(Exception):
    pass


@pytest.fixture(scope="module")
def jaeger() -> Iterator[Jaeger]:
    with running_jaeger(Path(tempfile.mkdtemp(prefix="tt-jaeger-"))) as running:
        yield running


def traced_bot(jaeger: Jaeger, namespace: str) -> tt.Telemetry:
    return tt.Telemetry(
        namespace=namespace,
        serve=False,
        clock=tt.ManualClock(wall=time.time()),
        tracing=tt.TracingConfig(
            endpoint=jaeger.traces_endpoint, protocol="http/protobuf", export_timeout_seconds=1.0
        ),
    )


def cycle(bot: tt.Telemetry, seconds: float, *, fail: bool = False) -> None:
    clock = bot.clock
    assert isinstance(clock, tt.ManualClock)
    try:
        with bot.cycle_timer() as running:
            with running.phase("fetch_marks"):
                clock.advance(seconds / 2)
            with running.phase("decide"):
                clock.advance(seconds / 2)
                if fail:
                    raise VenueDownError("venue down")
    except VenueDownError:
        pass


def flush(bot: tt.Telemetry) -> None:
    assert bot._tracing is not None
    bot._tracing.processor.force_flush(10_000)


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def counter(bot: tt.Telemetry, name: str, reason: str) -> float:
    body = bot.render_metrics().body.decode()
    ns = bot.config.namespace
    match = re.search(rf'^{ns}_{name}\{{reason="{reason}"\}} (\S+)$', body, re.MULTILINE)
    return 0.0 if match is None else float(match.group(1))


def test_jaeger_holds_exactly_the_kept_traces_with_their_span_trees(jaeger: Jaeger) -> None:
    bot = traced_bot(jaeger, "jaeger_kept")
    try:
        for _ in range(5):
            cycle(bot, FAST)
        cycle(bot, SLOW)
        cycle(bot, SLOW)
        cycle(bot, FAST, fail=True)
        flush(bot)
        traces = jaeger.wait_for_traces("jaeger_kept", 3)
        # All eight cycles were flushed before the wait: anything more would be there too.
        assert len(jaeger.traces("jaeger_kept")) == 3
    finally:
        bot.shutdown()
    roots = {}
    for found in traces:
        spans = found["spans"]
        assert sorted(s["operationName"] for s in spans) == ["cycle", "decide", "fetch_marks"]
        [root] = [s for s in spans if s["operationName"] == "cycle"]
        assert root["references"] == []
        for phase in (s for s in spans if s is not root):
            assert phase["references"] == [
                {"refType": "CHILD_OF", "traceID": root["traceID"], "spanID": root["spanID"]}
            ]
        assert {s["traceID"] for s in spans} == {found["traceID"]}
        process = found["processes"][root["processID"]]
        assert process["serviceName"] == "jaeger_kept"
        roots[tags(root)["cycle.number"]] = root
    assert sorted(roots) == [6, 7, 8]  # the two slow cycles and the failing one
    for number in (6, 7):
        assert tags(roots[number])["cycle.outcome"] == "ok"
        assert "error" not in tags(roots[number])
    failed = roots[8]
    assert tags(failed)["cycle.outcome"] == "error"
    assert tags(failed)["otel.status_code"] == "ERROR"
    assert tags(failed)["error"] is True
    events = [{f["key"]: f["value"] for f in log["fields"]} for log in failed["logs"]]
    [exception] = [e for e in events if e.get("event") == "exception"]
    assert exception["exception.type"].endswith("VenueDownError")
    assert exception["exception.message"] == "venue down"


@pytest.mark.parametrize("which", ["prometheus-2", "prometheus-3"])
def test_exemplar_trace_ids_stored_by_prometheus_open_in_jaeger(
    jaeger: Jaeger, which: str, request: pytest.FixtureRequest
) -> None:
    fixture = "prometheus" if which == "prometheus-2" else "prometheus3"
    prometheus: Prometheus = request.getfixturevalue(fixture)
    namespace = f"jaeger_exemplar_{which[-1]}"
    bot = traced_bot(jaeger, namespace)
    started = time.time() - 60
    try:
        cycle(bot, FAST)
        cycle(bot, SLOW)
        cycle(bot, FAST, fail=True)
        flush(bot)
        prometheus.install(bot)
        exemplars = prometheus.exemplars(
            f"{namespace}_cycle_duration_seconds_bucket", started, count=2
        )
    finally:
        prometheus.source.current = None
        bot.shutdown()
    trace_ids = {e["labels"]["trace_id"] for e in exemplars}
    assert len(trace_ids) == 2  # the slow cycle and the failing one; the fast one has none
    for trace_id in trace_ids:
        deadline = time.monotonic() + 10
        found: list[dict[str, Any]] = []
        while not found and time.monotonic() < deadline:
            found = jaeger.trace(trace_id)
            time.sleep(0.1)
        assert found, f"exemplar trace {trace_id} is not in Jaeger"
        assert found[0]["traceID"] == trace_id
        [root] = [s for s in found[0]["spans"] if s["operationName"] == "cycle"]
        assert tags(root)["trader.namespace"] == namespace


def test_jaeger_killed_and_restarted_the_bot_cycles_on_and_counts_the_drops(
    jaeger: Jaeger,
) -> None:
    bot = traced_bot(jaeger, "jaeger_restart")
    try:
        cycle(bot, SLOW)
        flush(bot)
        jaeger.wait_for_traces("jaeger_restart", 1)
        jaeger.kill()
        began = time.monotonic()
        for _ in range(3):  # slow cycles while Jaeger is gone: the loop never waits on it
            cycle(bot, SLOW)
        assert time.monotonic() - began < 1.0  # a blocked cycle would wait out the export timeout
        flush(bot)  # the exports fail now, on the exporter's thread
        deadline = time.monotonic() + 15
        while counter(bot, "telemetry_dropped_spans_total", "export_failed") < 9:
            assert time.monotonic() < deadline, "the failed exports were never counted"
            time.sleep(0.1)
        assert counter(bot, "telemetry_dropped_spans_total", "export_failed") == 9  # 3 x 3
        jaeger.start()  # a fresh in-memory store, same ports
        cycle(bot, SLOW, fail=True)
        flush(bot)
        [after] = jaeger.wait_for_traces("jaeger_restart", 1)
        [root] = [s for s in after["spans"] if s["operationName"] == "cycle"]
        assert tags(root)["cycle.number"] == 5
        assert tags(root)["cycle.outcome"] == "error"
        assert counter(bot, "slow_cycle_traces_total", "slow") == 4.0
    finally:
        bot.shutdown()
