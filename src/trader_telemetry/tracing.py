"""Slow-cycle traces: each cycle is a root span, phases are children, the bot's own spans inside
a cycle join its trace; tail sampling keeps the slow and failed cycles and exports them over
OTLP (HTTP/protobuf by default, or gRPC) from a background thread.

Enable with ``configure(tracing=True)`` or ``configure(tracing=TracingConfig(...))``. The OTLP
exporters are the ``otlp`` extra: ``pip install 'trader_telemetry[otlp]'``.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, Status, StatusCode, TraceFlags

from .errors import ConfigurationError
from .resource import service_resource
from .tail_sampling import CYCLE_ATTRIBUTE, CYCLE_SPAN, KEEP_ATTRIBUTE, TailSamplingProcessor
from .version import __version__

__all__ = ["CycleTracing", "TracingConfig"]

_PROTOCOLS = ("http/protobuf", "grpc")


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """The details of slow-cycle tracing; the endpoint normally comes from ``OTEL_*`` variables.

    Args:
        slow_cycle_seconds: Keep the trace of a cycle at least this slow (default: the cycle
            duration warning threshold, 3 s).
        sample_ratio: Also keep this fraction of normal cycles, as a baseline (0 to 1).
        protocol: ``http/protobuf`` (port 4318, ``/v1/traces``) or ``grpc`` (port 4317); default
            from ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL``.
        endpoint: Full OTLP endpoint; default from ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
            ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the exporters read them).
        tracer_provider: The bot's own SDK ``TracerProvider``; our processor is added to it.
        exporter: A ready ``SpanExporter`` instead of an OTLP one (tests, custom back ends).
        max_spans_per_trace: Spans buffered per cycle before the rest are dropped and counted.
        max_open_traces: Cycles buffered at once before the oldest is dropped and counted.
        export_timeout_seconds: Timeout of one export call (on the background thread).

    Example:
        >>> TracingConfig(slow_cycle_seconds=2.0, sample_ratio=0.01).sample_ratio
        0.01
    """

    slow_cycle_seconds: float | None = None
    sample_ratio: float = 0.0
    protocol: str | None = None
    endpoint: str | None = None
    tracer_provider: Any = None
    exporter: SpanExporter | None = None
    max_spans_per_trace: int = 1024
    max_open_traces: int = 256
    export_timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        owner = "TracingConfig"
        slow = self.slow_cycle_seconds
        if slow is not None and (
            not isinstance(slow, int | float) or not math.isfinite(slow) or slow <= 0
        ):
            raise ConfigurationError(
                f"{owner}.slow_cycle_seconds must be a number > 0, got {slow!r}"
            )
        ratio = self.sample_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
            raise ConfigurationError(f"{owner}.sample_ratio must be between 0 and 1, got {ratio!r}")
        if self.protocol is not None and self.protocol not in _PROTOCOLS:
            raise ConfigurationError(
                f"{owner}.protocol must be one of {', '.join(_PROTOCOLS)}, got {self.protocol!r}"
            )
        for name in ("max_spans_per_trace", "max_open_traces"):
            cap = getattr(self, name)
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise ConfigurationError(f"{owner}.{name} must be an integer >= 1, got {cap!r}")
        if self.tracer_provider is not None and not isinstance(
            self.tracer_provider, TracerProvider
        ):
            raise ConfigurationError(
                f"{owner}.tracer_provider must be an opentelemetry.sdk.trace.TracerProvider, "
                f"got {type(self.tracer_provider).__name__}"
            )


def _protocol(config: TracingConfig) -> str:
    if config.protocol is not None:
        return config.protocol
    for var in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = os.environ.get(var, "").strip()
        if value:
            if value not in _PROTOCOLS:
                raise ConfigurationError(
                    f"{var} must be one of {', '.join(_PROTOCOLS)}, got {value!r}"
                )
            return value
    return "http/protobuf"


class _CountingExporter(SpanExporter):
    """Passes spans to the real exporter and counts those it failed to send (collector down,
    a 4xx answer, a timeout) as dropped, so a lost trace never reads as exported."""

    def __init__(
        self,
        inner: SpanExporter,
        on_drop: Callable[[str, int], None],
        on_failed_traces: Callable[[set[int]], None] | None = None,
    ) -> None:
        self._inner = inner
        self._on_drop = on_drop
        # Told the trace ids of a failed batch: their exemplars must go (they would point at
        # traces the back end never got).
        self._on_failed_traces = on_failed_traces

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
        except Exception:  # noqa: BLE001 - an exporter bug must not kill the export thread
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._on_drop("export_failed", len(spans))
            if self._on_failed_traces is not None:
                ids = {span.context.trace_id for span in spans if span.context is not None}
                with contextlib.suppress(Exception):
                    self._on_failed_traces(ids)
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _otlp_exporter(config: TracingConfig) -> SpanExporter:
    protocol = _protocol(config)
    kwargs: dict[str, Any] = {"timeout": config.export_timeout_seconds}
    if config.endpoint:
        kwargs["endpoint"] = config.endpoint
    try:
        if protocol == "grpc":
            # The otlp extra is optional: imported only when tracing is asked for.
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter as Grpc,
            )

            if config.endpoint and config.endpoint.startswith("http://"):
                kwargs["insecure"] = True
            return Grpc(**kwargs)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter as Http,
        )

        return Http(**kwargs)
    except ImportError as exc:
        raise ConfigurationError(
            "tracing exports over OTLP, which needs the otlp extra: "
            "pip install 'trader_telemetry[otlp]'"
        ) from exc


_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_bits = random.getrandbits  # ids, not secrets: the SDK uses the same generator


class _LazySpan:
    """A cycle or phase that is not an SDK span (yet): ids, times, and a non-recording span
    that carries the ids in the context so spans started inside join the right trace."""

    __slots__ = (
        "carrier",
        "end_ns",
        "error",
        "name",
        "number",
        "parent",
        "phases",
        "span_id",
        "start_ns",
        "trace_id",
    )

    def __init__(self, name: str, trace_id: int, parent: _LazySpan | None, number: int) -> None:
        self.name = name
        self.trace_id = trace_id
        self.span_id = _bits(64) or 1
        self.parent = parent
        self.number = number
        self.carrier = NonRecordingSpan(SpanContext(trace_id, self.span_id, False, _SAMPLED))
        self.start_ns = time.time_ns()
        self.end_ns = self.start_ns
        self.error: BaseException | None = None
        self.phases: list[_LazySpan] = []

    @classmethod
    def root(cls, number: int) -> _LazySpan:
        return cls(CYCLE_SPAN, _bits(128) or 1, None, number)

    @classmethod
    def child(cls, parent: _LazySpan, name: str) -> _LazySpan:
        return cls(name, parent.trace_id, parent, parent.number)


class _ForcedIds(IdGenerator):
    """Random ids, except the next ones a thread asked for (to rebuild a lazy span as itself)."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self._local = threading.local()

    def force(self, trace_id: int | None, span_id: int) -> None:
        self._local.trace_id = trace_id
        self._local.span_id = span_id

    def generate_trace_id(self) -> int:
        forced = getattr(self._local, "trace_id", None)
        if forced is not None:
            self._local.trace_id = None
            return int(forced)
        return self._random.generate_trace_id()

    def generate_span_id(self) -> int:
        forced = getattr(self._local, "span_id", None)
        if forced is not None:
            self._local.span_id = None
            return int(forced)
        return self._random.generate_span_id()


def _mark_error(
    span: Span, exc: BaseException | None, *, detailed: bool, at_ns: int | None = None
) -> None:
    """Status ERROR and an ``exception`` event, stamped ``at_ns`` (when the exception was seen;
    now by default). Cycles and phases re-raise what they record: ``exception.escaped`` is true
    (a boolean; the SDK's own value is the string "False")."""
    if exc is not None and isinstance(exc, Exception):
        span.record_exception(exc, {"exception.escaped": True}, timestamp=at_ns, escaped=True)
        description = f"{type(exc).__name__}: {exc}" if detailed else type(exc).__name__
        span.set_status(Status(StatusCode.ERROR, description))


class CycleTracing:
    """Spans for cycles and phases, the keep-or-drop verdict, and the export pipeline."""

    def __init__(
        self,
        config: TracingConfig,
        *,
        namespace: str,
        profile: str,
        default_slow_seconds: float,
        on_drop: Any,
        on_keep: Any,
        on_failed_traces: Callable[[set[int]], None] | None = None,
    ) -> None:
        self.config = config
        self.namespace = namespace
        self.profile = profile
        self.slow_seconds = config.slow_cycle_seconds or default_slow_seconds
        self._ratio = config.sample_ratio
        self._random = random.Random()
        self._random_lock = threading.Lock()
        exporter = config.exporter if config.exporter is not None else _otlp_exporter(config)
        self._batch = BatchSpanProcessor(_CountingExporter(exporter, on_drop, on_failed_traces))
        self.processor = TailSamplingProcessor(
            self._batch,
            max_spans_per_trace=config.max_spans_per_trace,
            max_open_traces=config.max_open_traces,
            on_drop=on_drop,
            on_keep=on_keep,
        )
        self._own_provider = config.tracer_provider is None
        # With our own provider, cycles and phases are "lazy": while a cycle runs only ids and
        # timestamps exist (a non-recording span carries the ids, so the bot's spans still join
        # the trace), and real spans with those same ids are built after the fact for the cycles
        # that are kept. A fast cycle then costs no SDK span at all. The bot's own provider has
        # its own id generator, so there spans are real from the start.
        self._ids = _ForcedIds()
        self.lazy = self._own_provider
        if config.tracer_provider is None:
            resource = service_resource(namespace)
            # Our exit flush bounds the shutdown; OTel's own exit hook would wait once more
            # on a hung collector, for the whole export timeout (lifecycle/exit_flush.py).
            self.provider = TracerProvider(
                resource=resource, id_generator=self._ids, shutdown_on_exit=False
            )
        else:
            self.provider = config.tracer_provider
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("trader_telemetry", __version__)

    # ---------------------------------------------------------------- cycles
    def start_cycle(self, number: int) -> tuple[Any, object]:
        """Start the root span of a cycle and make it current; returns (span, context token)."""
        if self.lazy:
            lazy = _LazySpan.root(number)
            self.processor.open_trace(lazy.trace_id)
            return lazy, otel_context.attach(trace.set_span_in_context(lazy.carrier))
        span = self.tracer.start_span(
            CYCLE_SPAN,
            context=Context(),  # every cycle is a trace of its own
            attributes={
                CYCLE_ATTRIBUTE: True,
                "cycle.number": number,
                "trader.namespace": self.namespace,
                "trader.profile": self.profile,
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        return span, token

    def verdict(self, duration: float | None, exc: BaseException | None) -> str | None:
        """Why the trace is kept (``error``, ``slow``, ``sampled``), or None to drop it."""
        if exc is not None and isinstance(exc, Exception):
            return "error"
        if exc is not None:
            return None  # interrupted: not the bot's error, not a completed cycle
        if duration is not None and duration >= self.slow_seconds:
            return "slow"
        if self._ratio > 0:
            with self._random_lock:
                if self._random.random() < self._ratio:
                    return "sampled"
        return None

    @staticmethod
    def exemplar_context(span: Any, keep: str | None) -> Context:
        """The context to record the cycle duration in: the cycle's span when its trace is kept
        (the exemplar then links to an exported trace), otherwise one whose span is invalid, so
        no exemplar points at a trace that was dropped. (Not an empty ``Context()``: the SDK
        treats an empty one as "use the current context".)"""
        if not keep:
            return trace.set_span_in_context(trace.INVALID_SPAN)
        return trace.set_span_in_context(span.carrier if isinstance(span, _LazySpan) else span)

    #: For records whose trace may still be dropped (phases): no exemplar.
    NO_EXEMPLAR: Context = trace.set_span_in_context(trace.INVALID_SPAN)

    def end_cycle(
        self, span: Any, token: object, outcome: str, exc: BaseException | None, keep: str | None
    ) -> None:
        """Finish the root span with its outcome and verdict, and restore the context."""
        # Ended in another context than started: nothing to restore there.
        with contextlib.suppress(Exception):
            otel_context.detach(token)  # type: ignore[arg-type]
        if isinstance(span, _LazySpan):
            span.end_ns = time.time_ns()
            # A cycle evicted by the open-traces cap was counted as dropped: do not rebuild it.
            if keep and self.processor.is_open(span.trace_id):
                self._materialize(span, outcome, exc, keep)
            else:
                self.processor.discard(span.trace_id)
            return
        span.set_attribute("cycle.outcome", outcome)
        span.set_attribute(KEEP_ATTRIBUTE, keep or "drop")
        _mark_error(span, exc, detailed=True)
        span.end()

    def _materialize(
        self, root: _LazySpan, outcome: str, exc: BaseException | None, keep: str
    ) -> None:
        """Build the real spans of a kept lazy cycle, with the ids the bot's spans already used."""
        ids = self._ids
        ids.force(root.trace_id, root.span_id)
        span = self.tracer.start_span(
            CYCLE_SPAN,
            context=Context(),
            attributes={
                CYCLE_ATTRIBUTE: True,
                "cycle.number": root.number,
                "trader.namespace": self.namespace,
                "trader.profile": self.profile,
                "cycle.outcome": outcome,
                KEEP_ATTRIBUTE: keep,
            },
            start_time=root.start_ns,
        )
        parent = trace.set_span_in_context(root.carrier)
        for phase in root.phases:
            ids.force(None, phase.span_id)
            child = self.tracer.start_span(phase.name, context=parent, start_time=phase.start_ns)
            # Built after the fact: the event gets the time the phase ended with the exception.
            _mark_error(child, phase.error, detailed=False, at_ns=phase.end_ns)
            child.end(end_time=phase.end_ns)
        _mark_error(span, exc, detailed=True, at_ns=root.end_ns)
        span.end(end_time=root.end_ns)

    # ---------------------------------------------------------------- phases
    def start_phase(self, name: str, parent: Any) -> tuple[Any, object]:
        if isinstance(parent, _LazySpan):
            lazy = _LazySpan.child(parent, name)
            return lazy, otel_context.attach(trace.set_span_in_context(lazy.carrier))
        span = self.tracer.start_span(name, context=trace.set_span_in_context(parent))
        token = otel_context.attach(trace.set_span_in_context(span))
        return span, token

    @staticmethod
    def end_phase(span: Any, token: object, exc: BaseException | None) -> None:
        with contextlib.suppress(Exception):
            otel_context.detach(token)  # type: ignore[arg-type]
        if isinstance(span, _LazySpan):
            span.end_ns = time.time_ns()
            span.error = exc if isinstance(exc, Exception) else None
            if span.parent is not None:
                span.parent.phases.append(span)
            return
        _mark_error(span, exc, detailed=False)
        span.end()

    def shutdown(self, timeout: float) -> None:
        """Flush kept traces and stop exporting, within ``timeout`` seconds even when the
        collector hangs (the rest happens on a daemon thread)."""

        def stop() -> None:
            self._batch.force_flush(int(timeout * 1000))
            if self._own_provider:
                self.provider.shutdown()
            else:
                self.processor.shutdown()

        stopper = threading.Thread(target=stop, name="trader-telemetry-trace-shutdown", daemon=True)
        stopper.start()
        stopper.join(timeout)
