"""OTLP metric push: a periodic OTLP reader next to the Prometheus one (``otlp_metrics=True``).

For bots that cannot be scraped (behind NAT, short-lived containers) or fleets whose pipeline is
an OpenTelemetry Collector. The reader sits on the same meter provider as the Prometheus reader,
so it exports the same instruments under the catalogue's names, units and help. Collection and
export run on the reader's own daemon thread: a slow, failing or dead collector costs the
trading loop nothing, and each failed export is counted in
``{ns}_telemetry_errors_total{reason="otlp_metrics_export"}``.

The exporters are the ``otlp`` extra (``pip install 'trader_telemetry[otlp]'``); they read the
standard ``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers, timeout, TLS, compression).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import Histogram
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation

from .config import OTLP_PROTOCOLS  # the choices of TelemetryConfig.otlp_metrics_protocol
from .errors import ConfigurationError
from .readers.otel_limits import cardinality_limits

__all__ = [
    "DEFAULT_INTERVAL_SECONDS",
    "EXPORT_FAILURE_REASON",
    "OTLP_PROTOCOLS",
    "PushSettings",
    "create_push_reader",
    "resolve_push_settings",
]

#: OTel's default export interval (``OTEL_METRIC_EXPORT_INTERVAL`` unset).
DEFAULT_INTERVAL_SECONDS = 60.0
#: The ``reason`` label of ``{ns}_telemetry_errors_total`` for a failed push.
EXPORT_FAILURE_REASON = "otlp_metrics_export"

_PROTOCOL_VARS = ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
_INTERVAL_VAR = "OTEL_METRIC_EXPORT_INTERVAL"  # milliseconds, as the OTel spec has it


@dataclass(frozen=True, slots=True)
class PushSettings:
    """Where and how often metrics are pushed, once configuration and environment are merged.

    Args:
        protocol: ``http/protobuf`` or ``grpc``.
        endpoint: Full endpoint URL (with ``/v1/metrics`` for HTTP); None lets the exporter
            read ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``.
        interval_seconds: Seconds between two pushes.

    Example:
        >>> resolve_push_settings(environ={"OTEL_METRIC_EXPORT_INTERVAL": "15000"})
        PushSettings(protocol='http/protobuf', endpoint=None, interval_seconds=15.0)
    """

    protocol: str
    endpoint: str | None
    interval_seconds: float


def resolve_push_settings(
    *,
    protocol: str | None = None,
    endpoint: str | None = None,
    interval_seconds: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> PushSettings:
    """Merge the configured values with OTel's variables; a configured value wins.

    Raises:
        ConfigurationError: a protocol variable names an unknown protocol, or the interval
            variable is not a number of milliseconds > 0 (naming the variable).
    """
    env = os.environ if environ is None else environ
    if protocol is None:
        protocol = "http/protobuf"
        for var in _PROTOCOL_VARS:
            value = env.get(var, "").strip()
            if value:
                if value not in OTLP_PROTOCOLS:
                    raise ConfigurationError(
                        f"{var} must be one of {', '.join(OTLP_PROTOCOLS)}, got {value!r}"
                    )
                protocol = value
                break
    if interval_seconds is None:
        interval_seconds = DEFAULT_INTERVAL_SECONDS
        raw = env.get(_INTERVAL_VAR, "").strip()
        if raw:
            try:
                millis = float(raw)
            except ValueError:
                millis = float("nan")
            if not 0 < millis < float("inf"):
                raise ConfigurationError(
                    f"{_INTERVAL_VAR} must be a number of milliseconds > 0, got {raw!r}"
                )
            interval_seconds = millis / 1000.0
    return PushSettings(protocol, endpoint, interval_seconds)


def _otlp_exporter(settings: PushSettings) -> MetricExporter:
    kwargs: dict[str, Any] = {}
    if settings.endpoint:
        kwargs["endpoint"] = settings.endpoint
    try:
        # The otlp extra is optional: imported only when push is asked for.
        if settings.protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # noqa: PLC0415
                OTLPMetricExporter as Grpc,
            )

            # An http:// endpoint means a plaintext channel (the exporter infers it).
            return Grpc(**kwargs)
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
            OTLPMetricExporter as Http,
        )

        return Http(**kwargs)
    except ImportError as exc:
        raise ConfigurationError(
            "otlp_metrics pushes over OTLP, which needs the otlp extra: "
            "pip install 'trader_telemetry[otlp]'"
        ) from exc


class _CountingExporter(MetricExporter):
    """Delegates to the OTLP exporter; a failed or raising export is counted, never raised.

    The exporter logs the failure itself; this only feeds ``{ns}_telemetry_errors_total``.
    """

    def __init__(
        self,
        inner: MetricExporter,
        on_failure: Callable[[str], None],
        *,
        exponential_histograms: bool = False,
    ) -> None:
        # The reader asks its exporter for these; keep the OTLP exporter's choices (and so
        # OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE and the histogram aggregation),
        # except that exponential_histograms asks for base-2 exponential histograms.
        aggregation = dict(inner._preferred_aggregation or {})
        if exponential_histograms:
            aggregation[Histogram] = ExponentialBucketHistogramAggregation()
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=aggregation,
        )
        self.inner = inner
        self._on_failure = on_failure

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            result = self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception:  # noqa: BLE001 - the reader's thread logs nothing we would add
            result = MetricExportResult.FAILURE
        if result is not MetricExportResult.SUCCESS:
            self._on_failure(EXPORT_FAILURE_REASON)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def create_push_reader(
    settings: PushSettings,
    *,
    on_failure: Callable[[str], None],
    max_label_values: int = 200,
    exponential_histograms: bool = False,
) -> PeriodicExportingMetricReader:
    """A periodic reader pushing over OTLP every ``settings.interval_seconds``.

    Its thread starts here; the meter provider's ``shutdown`` stops it (with a last push)
    within the provider's timeout. With ``exponential_histograms`` the histograms are pushed as
    OTLP exponential histograms (base-2 buckets that follow the data; Prometheus 3 stores them
    as native histograms); the Prometheus reader keeps the catalogue's explicit buckets.
    """
    return PeriodicExportingMetricReader(
        _CountingExporter(
            _otlp_exporter(settings), on_failure, exponential_histograms=exponential_histograms
        ),
        export_interval_millis=settings.interval_seconds * 1000.0,
        cardinality_limits=cardinality_limits(max_label_values),
    )
