"""In-process tail sampling: keep the whole trace of a slow or failed cycle, drop the rest.

OTel Python samples at the head, before anyone knows whether a cycle will be slow. This span
processor buffers the finished spans of each cycle's trace and decides when the root ``cycle``
span ends: the cycle timer has put its verdict on that span (attribute ``KEEP_ATTRIBUTE``:
``slow``, ``error`` or ``sampled``), and a kept trace goes whole to the next processor (a
``BatchSpanProcessor``, so export never runs on the trading thread). Memory is bounded by a cap on
spans per trace and on open traces; what the caps drop is counted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

__all__ = ["CYCLE_SPAN", "KEEP_ATTRIBUTE", "TailSamplingProcessor"]

#: Name of the root span of every cycle.
CYCLE_SPAN = "cycle"
#: Attribute on the root span: why the trace is kept, or "drop".
KEEP_ATTRIBUTE = "trader_telemetry.sampling"
#: Attribute marking a span as one of our cycle roots.
CYCLE_ATTRIBUTE = "trader_telemetry.cycle"


class TailSamplingProcessor(SpanProcessor):
    """Buffers cycle traces and forwards the kept ones to ``downstream``.

    Spans outside any cycle (the bot's own, before or between cycles) pass straight through.

    Args:
        downstream: Usually a ``BatchSpanProcessor`` around an OTLP exporter.
        max_spans_per_trace: Spans buffered per cycle; later ones are dropped and counted.
        max_open_traces: Cycles buffered at once; the oldest is dropped whole past it.
        on_drop: Called with a reason and a span count when the caps drop spans.
        on_keep: Called with the reason when a trace is forwarded.
    """

    def __init__(
        self,
        downstream: SpanProcessor,
        *,
        max_spans_per_trace: int = 1024,
        max_open_traces: int = 256,
        on_drop: Callable[[str, int], None] | None = None,
        on_keep: Callable[[str], None] | None = None,
    ) -> None:
        self._downstream = downstream
        self._max_spans = max_spans_per_trace
        self._max_traces = max_open_traces
        self._on_drop = on_drop or (lambda reason, count: None)
        self._on_keep = on_keep or (lambda reason: None)
        self._lock = threading.Lock()
        # trace id -> finished spans of that cycle so far (insertion order: oldest first)
        self._open: OrderedDict[int, list[ReadableSpan]] = OrderedDict()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if span.name != CYCLE_SPAN or not (span.attributes or {}).get(CYCLE_ATTRIBUTE):
            return
        self.open_trace(span.context.trace_id)

    def open_trace(self, trace_id: int) -> None:
        """Start buffering the spans of ``trace_id`` (a cycle has begun); no-op if open."""
        evicted = 0
        with self._lock:
            if trace_id in self._open:
                return
            self._open[trace_id] = []
            while len(self._open) > self._max_traces:
                _, spans = self._open.popitem(last=False)
                evicted += len(spans) + 1  # its buffered spans, and its root when it ends
        if evicted:
            self._on_drop("too_many_open_traces", evicted)

    def is_open(self, trace_id: int) -> bool:
        """True while the spans of ``trace_id`` are being buffered (not evicted by the cap)."""
        with self._lock:
            return trace_id in self._open

    def discard(self, trace_id: int) -> None:
        """Drop a cycle's buffered spans (its verdict was "drop")."""
        with self._lock:
            self._open.pop(trace_id, None)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None:
            return
        trace_id = context.trace_id
        is_root = span.name == CYCLE_SPAN and bool((span.attributes or {}).get(CYCLE_ATTRIBUTE))
        with self._lock:
            buffer = self._open.get(trace_id)
            if buffer is None:
                tracked = False
            elif is_root:
                tracked = True
                del self._open[trace_id]
            else:
                tracked = True
                if len(buffer) < self._max_spans:
                    buffer.append(span)
                    return
        if not tracked:
            if not is_root:
                self._downstream.on_end(span)  # not part of a cycle: the bot's own span
            return
        if not is_root:
            self._on_drop("trace_too_long", 1)
            return
        verdict = str((span.attributes or {}).get(KEEP_ATTRIBUTE, "drop"))
        if verdict == "drop":
            return
        for child in buffer or ():
            self._downstream.on_end(child)
        self._downstream.on_end(span)
        self._on_keep(verdict)

    def shutdown(self) -> None:
        with self._lock:
            self._open.clear()
        self._downstream.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._downstream.force_flush(timeout_millis)
