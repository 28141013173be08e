"""The pluggable Prometheus reader: one small interface between the OTel SDK and ``/metrics``.

A reader is an OTel :class:`~opentelemetry.sdk.metrics.export.MetricReader` (added to the meter
provider) plus a ``render(accept)`` that turns one collection into Prometheus text or
OpenMetrics. The recording code never sees which implementation is in use.

Implementations (``TelemetryConfig.reader``):

* ``native`` (default): :class:`~trader_telemetry.readers.native.NativePrometheusReader` renders
  the exposition straight from the collected OTel data, with exemplars in OpenMetrics.
* ``otel-prometheus``: the upstream ``opentelemetry-exporter-prometheus`` reader on a registry of
  its own (:class:`~trader_telemetry.readers.upstream.OtelPrometheusReader`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from opentelemetry.sdk.metrics.export import MetricReader

from ..instruments import ScrapeTimeMetrics
from .native import NativePrometheusReader
from .negotiation import Exposition

# Public (docs/api.md): the interface and what it renders. The implementations are imported from
# their modules (``readers.native``, ``readers.upstream``); ``create_reader`` is Telemetry's.
__all__ = ["Exposition", "PrometheusReader"]


class PrometheusReader(Protocol):
    """What :class:`~trader_telemetry.Telemetry` needs from a Prometheus reader."""

    name: str

    @property
    def metric_reader(self) -> MetricReader:
        """The OTel reader to add to the meter provider."""
        ...

    def attach_direct(self, source: ScrapeTimeMetrics, scope: tuple[str, str]) -> None:
        """Offered the catalogue's scrape-time metrics to read without OTel's aggregation;
        a reader may ignore it (then OTel's callbacks deliver the same values)."""
        ...

    def render(self, accept: str | None = None) -> Exposition:
        """Collect now and render the exposition the ``Accept`` header asks for."""
        ...

    def shutdown(self) -> None:
        """Release what the reader holds; idempotent."""
        ...


def create_reader(
    name: str,
    *,
    target_info: bool = False,
    scope_labels: bool = False,
    max_label_values: int = 200,
    on_overflow: Callable[[str], None] | None = None,
    on_unencodable: Callable[[], None] | None = None,
) -> PrometheusReader:
    """Build the reader named by ``TelemetryConfig.reader``."""
    if name == "native":
        return NativePrometheusReader(
            target_info=target_info,
            scope_labels=scope_labels,
            max_label_values=max_label_values,
            on_overflow=on_overflow,
            on_unencodable=on_unencodable,
        )
    if name == "otel-prometheus":
        from .upstream import OtelPrometheusReader  # noqa: PLC0415 - the optional upstream reader

        return OtelPrometheusReader(
            target_info=target_info,
            scope_labels=scope_labels,
            max_label_values=max_label_values,
        )
    raise ValueError(f"unknown reader {name!r}")  # config validation makes this unreachable
