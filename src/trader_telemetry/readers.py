"""The pluggable Prometheus reader: one small interface between the OTel SDK and ``/metrics``.

A reader is an OTel :class:`~opentelemetry.sdk.metrics.export.MetricReader` (added to the meter
provider) plus a ``render(accept)`` that turns one collection into Prometheus text or
OpenMetrics. The recording code never sees which implementation is in use.

Implementations:

* ``otel-prometheus``: the upstream ``opentelemetry-exporter-prometheus`` reader on a
  ``CollectorRegistry`` owned by this reader (never the process-global one), with
  prometheus_client's process collector beside it for ``process_*``.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Protocol

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics.export import MetricReader
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics import exposition as openmetrics

__all__ = [
    "Exposition",
    "OtelPrometheusReader",
    "PrometheusReader",
    "create_reader",
    "wants_openmetrics",
]

OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Exposition:
    """One rendered scrape."""

    body: bytes
    content_type: str


def wants_openmetrics(accept: str | None) -> bool:
    """True when the ``Accept`` header asks for OpenMetrics (as Prometheus does by itself).

    Example:
        >>> wants_openmetrics("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
        True
    """
    if not accept:
        return False
    for part in accept.split(","):
        media, _, params = part.partition(";")
        if media.strip().lower() == "application/openmetrics-text":
            q = next(
                (p.split("=", 1)[1] for p in params.split(";") if p.strip().startswith("q=")), "1"
            )
            try:
                if float(q) > 0:
                    return True
            except ValueError:
                return True
    return False


class PrometheusReader(Protocol):
    """What :class:`~trader_telemetry.Telemetry` needs from a Prometheus reader."""

    name: str

    @property
    def metric_reader(self) -> MetricReader:
        """The OTel reader to add to the meter provider."""
        ...

    def render(self, accept: str | None = None) -> Exposition:
        """Collect now and render the exposition the ``Accept`` header asks for."""
        ...

    def shutdown(self) -> None:
        """Release what the reader holds; idempotent."""
        ...


class OtelPrometheusReader:
    """The upstream OTel Prometheus reader, on a registry of its own.

    Example:
        >>> reader = OtelPrometheusReader()
        >>> reader.render().content_type.startswith("text/plain")
        True
    """

    name = "otel-prometheus"

    def __init__(
        self, *, target_info: bool = False, scope_labels: bool = False, process_metrics: bool = True
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._reader = PrometheusMetricReader(
            disable_target_info=not target_info,
            scope_info_enabled=scope_labels,
            registry=self.registry,
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
            return Exposition(generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4)

    def shutdown(self) -> None:
        # Already unregistered when the provider shut the reader down: shutdown is idempotent.
        with contextlib.suppress(KeyError):
            self.registry.unregister(self._reader._collector)


def create_reader(name: str, *, target_info: bool, scope_labels: bool) -> PrometheusReader:
    """Build the reader named by ``TelemetryConfig.reader``."""
    if name == OtelPrometheusReader.name:
        return OtelPrometheusReader(target_info=target_info, scope_labels=scope_labels)
    raise ValueError(f"unknown reader {name!r}")  # config validation makes this unreachable
