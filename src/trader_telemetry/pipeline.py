"""The OTel side of one Telemetry: the Prometheus reader (and, with ``otlp_metrics``, an OTLP push
reader beside it), the meter provider they join (our own or the bot's), and the instruments
created from the catalogue."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from opentelemetry.metrics import MeterProvider as ApiMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader

from .config import TelemetryConfig
from .errors import ConfigurationError
from .instruments import Instruments, create_instruments
from .readers import PrometheusReader, create_reader
from .resource import service_resource
from .selfmonitor import SelfMonitor
from .state import RecordedState
from .version import package_version

__all__ = ["METER_NAME", "MetricPipeline"]

#: The instrumentation scope of every instrument we create.
METER_NAME = "trader_telemetry"


class MetricPipeline:
    """Reader + provider + instruments, built together and released together.

    With ``meter_provider`` (the bot's own SDK provider) our reader is added to it and our
    instruments are created on it; :meth:`release` then removes our reader and leaves the bot's
    provider running. Without it, a provider of our own is built and shut down on release.
    With ``config.otlp_metrics`` that provider also holds :attr:`push_reader`.
    """

    def __init__(
        self,
        config: TelemetryConfig,
        state: RecordedState,
        monitor: SelfMonitor,
        meter_provider: ApiMeterProvider | None = None,
        *,
        health: Callable[[], Mapping[str, float]] = dict,
    ) -> None:
        if meter_provider is not None and not isinstance(meter_provider, MeterProvider):
            raise ConfigurationError(
                "meter_provider must be an opentelemetry.sdk.metrics.MeterProvider, "
                f"got {type(meter_provider).__name__}"
            )
        if config.otlp_metrics and meter_provider is not None:
            # The bot's provider has readers of its own: one OTLP reader there already pushes
            # our instruments too; adding a second would export everything twice.
            raise ConfigurationError(
                "TelemetryConfig.otlp_metrics cannot be combined with meter_provider: add a "
                "PeriodicExportingMetricReader to your own MeterProvider instead"
            )
        self._monitor = monitor
        self.reader: PrometheusReader = create_reader(
            config.reader,
            target_info=config.target_info,
            scope_labels=config.scope_labels,
            max_label_values=config.max_label_values,
            on_overflow=self._count_overflow,
            on_unencodable=self._count_unencodable,
        )
        #: The OTLP push reader (``otlp_metrics=True``), else None.
        self.push_reader: MetricReader | None = None
        self.owns_provider = meter_provider is None
        if meter_provider is None:
            resource = service_resource(config.namespace, self._count_bad_attributes)
            readers = [self.reader.metric_reader]
            if config.otlp_metrics:
                # Imported here: the OTLP push is optional and not part of the light import.
                from .otlp_metrics import create_push_reader, resolve_push_settings  # noqa: PLC0415

                settings = resolve_push_settings(
                    protocol=config.otlp_metrics_protocol,
                    endpoint=config.otlp_metrics_endpoint,
                    interval_seconds=config.otlp_metrics_interval_seconds,
                )
                # Last in the list: the provider shuts readers down in order, so the instant
                # Prometheus reader goes first and the push gets the rest of the timeout.
                self.push_reader = create_push_reader(
                    settings,
                    on_failure=monitor.count_error,
                    max_label_values=config.max_label_values,
                    exponential_histograms=config.otlp_metrics_exponential_histograms,
                )
                readers.append(self.push_reader)
            # Our exit flush bounds the shutdown; OTel's own exit hook would wait once more
            # on a hung collector, for the whole export timeout (lifecycle/exit_flush.py).
            self.provider = MeterProvider(
                metric_readers=readers, resource=resource, shutdown_on_exit=False
            )
        else:
            self.provider = meter_provider
            self.provider.add_metric_reader(self.reader.metric_reader)
        self.instruments: Instruments = create_instruments(
            self.provider.get_meter(METER_NAME, package_version()),
            namespace=config.namespace,
            state=state,
            clock=config.clock,
            monitor=monitor,
            version=package_version(),
            health=health,
        )
        self.reader.attach_direct(self.instruments.scrape_time, (METER_NAME, package_version()))

    def _count_overflow(self, metric: str) -> None:
        self._monitor.reject(
            "cardinality_overflow",
            "%s: OpenTelemetry folded attribute sets past its cardinality limit into one "
            'series labelled otel_metric_overflow="true"',
            metric,
        )

    def _count_bad_attributes(self, count: int) -> None:
        for _ in range(count):
            self._monitor.reject(
                "invalid_utf8",
                "OTEL_RESOURCE_ATTRIBUTES: an attribute is not valid UTF-8; U+FFFD replaces "
                "the bad characters",
            )

    def _count_unencodable(self) -> None:
        self._monitor.reject(
            "invalid_utf8",
            "the exposition held text UTF-8 cannot encode (a lone surrogate in a label value "
            "or attribute); it was written as '?'",
        )

    def release(self, timeout: float) -> None:
        """Detach from (or shut down) the provider and release the reader; never raises."""
        try:
            if self.owns_provider:
                self.provider.shutdown(timeout_millis=timeout * 1000)
            else:
                self.provider.remove_metric_reader(self.reader.metric_reader)
        except Exception as exc:  # noqa: BLE001 - shutdown must finish whatever the SDK does
            self._monitor.fault("shutdown", exc)
        self.reader.shutdown()
