"""The upstream ``opentelemetry-exporter-prometheus`` reader, on a registry of its own."""

from __future__ import annotations

import contextlib
import threading

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics.export import MetricReader
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics

from ..instruments import ScrapeTimeMetrics
from .negotiation import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, Exposition, wants_openmetrics
from .otel_limits import cardinality_limits

__all__ = ["OtelPrometheusReader"]


class OtelPrometheusReader:
    """The upstream OTel Prometheus reader, never on the process-global registry.

    Example:
        >>> reader = OtelPrometheusReader()
        >>> reader.render().content_type.startswith("text/plain")
        True
    """

    name = "otel-prometheus"

    def __init__(
        self,
        *,
        target_info: bool = False,
        scope_labels: bool = False,
        process_metrics: bool = True,
        max_label_values: int = 200,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._reader = PrometheusMetricReader(
            disable_target_info=not target_info,
            scope_info_enabled=scope_labels,
            registry=self.registry,
            cardinality_limits=cardinality_limits(max_label_values),
        )
        if process_metrics:
            ProcessCollector(registry=self.registry)
        # The upstream collector hands each collection to the next registry walk through a
        # shared queue: two scrapes at once could take each other's data. Scrapes serialise
        # here; the hot path never takes this lock.
        self._render_lock = threading.Lock()

    @property
    def metric_reader(self) -> MetricReader:
        reader: MetricReader = self._reader
        return reader

    def render(self, accept: str | None = None) -> Exposition:
        with self._render_lock:
            if wants_openmetrics(accept):
                # prometheus_client leaves this one untyped; it returns bytes.
                body: bytes = openmetrics.generate_latest(self.registry)  # type: ignore[no-untyped-call]
                return Exposition(body, OPENMETRICS_CONTENT_TYPE)
            return Exposition(generate_latest(self.registry), TEXT_CONTENT_TYPE)

    def attach_direct(self, source: ScrapeTimeMetrics, scope: tuple[str, str]) -> None:
        """The upstream reader reads everything through OTel: nothing to attach."""

    def shutdown(self) -> None:
        # Already unregistered when the provider shut the reader down: shutdown is idempotent.
        with contextlib.suppress(KeyError):
            self.registry.unregister(self._reader._collector)
