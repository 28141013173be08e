"""Our own Prometheus reader: collects the OTel data and writes the exposition directly.

Faster than rendering through prometheus_client's object model, and it keeps what OTel
collected that the upstream reader drops: histogram exemplars (trace id, span id, value,
timestamp) in OpenMetrics. Concurrent scrapes of the same format share one render, and nothing
here takes a lock the recording hot path needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.metrics.export import MetricReader, MetricsData
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics_exposition

from ..instruments import DirectFamily, ScrapeTimeMetrics
from .exemplars import ExemplarStore
from .negotiation import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, Exposition, wants_openmetrics
from .otel_limits import cardinality_limits
from .text_format import Renderer

__all__ = ["NativePrometheusReader"]


class _Flight:
    """One render in progress; scrapes that arrive meanwhile wait for it."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Exposition | None = None
        self.error: BaseException | None = None


class NativePrometheusReader(MetricReader):
    """A ``MetricReader`` that renders Prometheus text and OpenMetrics itself.

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> reader = NativePrometheusReader(process_metrics=False)
        >>> provider = MeterProvider(metric_readers=[reader])
        >>> counter = provider.get_meter("demo").create_counter("orders", description="Orders.")
        >>> counter.add(2, {"side": "buy"})
        >>> print(reader.render().body.decode(), end="")
        # HELP orders_total Orders.
        # TYPE orders_total counter
        orders_total{side="buy"} 2
        >>> provider.shutdown()
    """

    name = "native"

    def __init__(
        self,
        *,
        target_info: bool = False,
        scope_labels: bool = False,
        process_metrics: bool = True,
        max_label_values: int = 200,
        on_overflow: Callable[[str], None] | None = None,
        on_unencodable: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(cardinality_limits=cardinality_limits(max_label_values))
        self._on_overflow = on_overflow
        self._on_unencodable = on_unencodable
        self._overflowed: set[str] = set()
        self._overflow_lock = threading.Lock()
        #: The latest exemplar per bucket, across scrapes of both formats.
        self.exemplars = ExemplarStore()
        self._renderers = {
            fmt: Renderer(
                scope_labels=scope_labels,
                target_info=target_info,
                on_overflow=self._overflow,
                exemplars=self.exemplars,
            )
            for fmt in (False, True)
        }
        self._process: CollectorRegistry | None = None
        if process_metrics:
            self._process = CollectorRegistry(auto_describe=False)
            ProcessCollector(registry=self._process)
        self._flights: dict[bool, _Flight] = {}
        self._flights_lock = threading.Lock()  # scrapes only
        self._handoff = threading.local()  # collect() hands its data to the thread that asked
        self._closed = False
        self._direct: ScrapeTimeMetrics | None = None
        self._direct_scope = ("", "")

    def attach_direct(self, source: ScrapeTimeMetrics, scope: tuple[str, str]) -> None:
        """Read ``source``'s metrics directly instead of through OTel's aggregation.

        ``scope`` is the (name, version) of the meter they were registered on, for the
        ``otel_scope_*`` labels when those are on.
        """
        self._direct = source
        self._direct_scope = scope

    @property
    def metric_reader(self) -> MetricReader:
        return self

    def _overflow(self, metric: str) -> None:
        # Both formats' renderers see the same fold: report each metric once.
        with self._overflow_lock:
            if metric in self._overflowed:
                return
            self._overflowed.add(metric)
        if self._on_overflow is not None:
            self._on_overflow(metric)

    # ------------------------------------------------------------------ MetricReader
    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._handoff.data = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._closed = True

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True  # nothing buffered: every scrape collects afresh

    # ------------------------------------------------------------------ rendering
    def render(self, accept: str | None = None) -> Exposition:
        """Collect now and render; a scrape arriving during a render of the same format gets
        that render's result instead of starting another."""
        openmetrics = wants_openmetrics(accept)
        with self._flights_lock:
            flight = self._flights.get(openmetrics)
            leader = flight is None
            if flight is None:
                flight = self._flights[openmetrics] = _Flight()
        if leader:
            try:
                result = flight.result = self._render_now(openmetrics=openmetrics)
            except BaseException as exc:
                flight.error = exc
                raise
            finally:
                with self._flights_lock:
                    del self._flights[openmetrics]
                flight.done.set()
            return result
        flight.done.wait()
        if flight.result is None:
            raise RuntimeError("the shared render failed") from flight.error
        return flight.result

    def _render_now(self, *, openmetrics: bool) -> Exposition:
        data: MetricsData | None = None
        direct: list[DirectFamily] = []
        if not self._closed:
            self._handoff.data = None
            if self._direct is None:
                self.collect()
            else:
                with self._direct.direct():
                    self.collect()
                direct = self._direct.families()
            data = self._handoff.data
            self._handoff.data = None
        text = self._renderers[openmetrics].render(
            data, openmetrics=openmetrics, direct=direct, direct_scope=self._direct_scope
        )
        try:
            body = text.encode()
        except UnicodeEncodeError:
            # A lone surrogate that reached the exposition some other way than our recording
            # calls (which replace it): a scrape must still answer, so it becomes "?".
            body = text.encode("utf-8", "replace")
            if self._on_unencodable is not None:
                self._on_unencodable()
        if self._process is not None:
            if openmetrics:
                # prometheus_client leaves this one untyped; it returns bytes.
                generate = openmetrics_exposition.generate_latest
                extra: bytes = generate(self._process)  # type: ignore[no-untyped-call]
                body += extra.removesuffix(b"# EOF\n")
            else:
                body += generate_latest(self._process)
        if openmetrics:
            return Exposition(body + b"# EOF\n", OPENMETRICS_CONTENT_TYPE)
        return Exposition(body, TEXT_CONTENT_TYPE)
