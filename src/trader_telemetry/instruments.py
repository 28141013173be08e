"""OTel instruments created from the catalogue, and the scrape-time values behind them.

Only the three histograms are synchronous (recorded on the hot path). Everything else is read
from :class:`~trader_telemetry.state.RecordedState` when a reader collects: through OTel
observable callbacks for any reader, or, for our native Prometheus reader, directly
(:class:`ScrapeTimeMetrics`), which skips the SDK's per-series aggregation (about 8 µs a series,
most of a scrape's cost) while the values and names stay the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation

from .catalogue import CATALOGUE, Component, MetricKind, MetricSpec
from .clock import Clock
from .selfmonitor import SelfMonitor
from .state import RecordedState

__all__ = [
    "DirectFamily",
    "Instruments",
    "Producer",
    "ScrapeTimeMetrics",
    "create_instruments",
    "register_observables",
]

#: One series: its label values (in the spec's label order) and its value.
Sample = tuple[tuple[str, ...], float]
Producer = Callable[[], list[Sample]]


# The two records below are plain slotted classes, not dataclasses: a dataclass's generated
# methods cost more to create at import than the whole class (docs/performance.md).


class Instruments:
    """The synchronous instruments the hot path records into, and the scrape-time values."""

    __slots__ = ("cycle_duration", "order_latency", "phase_duration", "scrape_time")

    def __init__(
        self,
        cycle_duration: Histogram,
        phase_duration: Histogram,
        order_latency: Histogram,
        scrape_time: ScrapeTimeMetrics,
    ) -> None:
        self.cycle_duration: Final = cycle_duration
        self.phase_duration: Final = phase_duration
        self.order_latency: Final = order_latency
        self.scrape_time: Final = scrape_time


class DirectFamily:
    """One scrape-time metric's series, ready for a renderer."""

    __slots__ = ("help", "kind", "labels", "name", "samples", "unit")

    def __init__(
        self,
        *,
        name: str,
        kind: MetricKind,
        help: str,
        unit: str,
        labels: tuple[str, ...],
        samples: list[Sample],
    ) -> None:
        self.name: Final = name
        self.kind: Final = kind
        self.help: Final = help
        self.unit: Final = unit
        self.labels: Final = labels
        self.samples: Final = samples


def _one(value: float | None) -> list[Sample]:
    return [] if value is None else [((), value)]


def _by_key(values: dict[str, float] | dict[str, int]) -> list[Sample]:
    return [((key,), value) for key, value in values.copy().items()]


def _by_keys(values: dict[tuple[str, ...], int]) -> list[Sample]:
    return list(values.copy().items())


def _producers(
    state: RecordedState,
    clock: Clock,
    monitor: SelfMonitor,
    version: str,
    health: Producer,
) -> dict[str, Producer]:
    """spec name -> function producing that metric's series now."""
    s = state

    def account_age() -> list[Sample]:
        at = s.account.recorded_monotonic
        return [] if at is None else [((), max(0.0, clock.monotonic() - at))]

    def last_cycle_age() -> list[Sample]:
        since = s.last_cycle_end if s.last_cycle_end is not None else s.started_monotonic
        return [((), max(0.0, clock.monotonic() - since))]

    def in_progress() -> list[Sample]:
        start = s.oldest_running_start()
        return [((), 0.0 if start is None else max(0.0, clock.monotonic() - start))]

    def latency_ms() -> list[Sample]:
        last = s.last_cycle_seconds
        return [] if last is None else [((), last * 1000.0)]

    return {
        "equity": lambda: _one(s.account.equity),
        "total_pnl_usd": lambda: _one(s.account.total),
        "realized_pnl_usd": lambda: _one(s.account.realized_pnl),
        "unrealized_pnl_usd": lambda: _one(s.account.unrealized_pnl),
        "funding_pnl_usd": lambda: _one(s.account.funding_pnl),
        "exposure_usd": lambda: _by_key(s.exposure),
        "telemetry_account_age_seconds": account_age,
        "cycle_latency_ms": latency_ms,
        "cycles_total": lambda: _by_key(s.cycle_counts()),
        "cycle_errors_total": lambda: _by_key(s.cycle_errors),
        "last_cycle_age_seconds": last_cycle_age,
        "cycle_in_progress_seconds": in_progress,
        "risk_daily_loss": lambda: _one(s.daily_loss),
        "risk_daily_loss_limit": lambda: _one(s.daily_loss_limit),
        "circuit_breaker_triggered": lambda: [((), 1 if s.breaker_triggered else 0)],
        "circuit_breaker_trips_total": lambda: _by_key(s.breaker_trips),
        "market_data_staleness_seconds": lambda: _by_key(s.staleness(clock.monotonic())),
        "websocket_reconnects_total": lambda: _by_key(s.ws_reconnects),
        "stale_marks_total": lambda: _by_key(s.stale_marks),
        "orders_submitted_total": lambda: _by_keys(s.orders),
        "fills_total": lambda: _by_keys(s.fills),
        "orders_rejected_total": lambda: _by_keys(s.rejections),
        "telemetry_errors_total": lambda: _by_key(monitor.errors),
        "telemetry_rejected_values_total": lambda: _by_key(monitor.rejected),
        "build_info": lambda: [((version,), 1)],
        "health_status": health,
        "slow_cycle_traces_total": lambda: _by_key(s.kept_traces),
        "telemetry_dropped_spans_total": lambda: _by_key(s.dropped_spans),
        "telemetry_dropped_events_total": lambda: _by_key(s.dropped_events),
    }


# The components whose observable metrics the core itself produces.
_SCRAPE_TIME_COMPONENTS = (Component.CORE, Component.HEALTH, Component.TRACING, Component.EVENTS)


class ScrapeTimeMetrics:
    """The catalogue's observable metrics, readable through OTel or directly.

    Inside :meth:`direct` (entered by the native reader around its own ``collect()``), the OTel
    callbacks of this thread yield nothing and the reader takes :meth:`families` instead. Other
    readers (the upstream one, an OTLP exporter) collect on other threads or outside the block
    and get the same values through OTel.
    """

    def __init__(
        self,
        namespace: str,
        monitor: SelfMonitor,
        producers: Mapping[str, Producer],
        components: tuple[Component, ...] = _SCRAPE_TIME_COMPONENTS,
        specs: Iterable[MetricSpec] | None = None,
    ) -> None:
        self._namespace = namespace
        self._monitor = monitor
        self._specs = [
            (spec, producers[spec.name])
            for spec in (CATALOGUE if specs is None else specs)
            if spec.component in components and spec.observable
        ]
        # The hot path's histograms: declared (HELP and TYPE) from the first scrape, before
        # their first sample; their samples come through OTel.
        self._declared = [
            DirectFamily(
                name=spec.full_name(namespace),
                kind=spec.kind,
                help=spec.help,
                unit=spec.unit,
                labels=spec.labels,
                samples=[],
            )
            for spec in CATALOGUE
            if spec.component in components and not spec.observable
        ]
        # Components in use: their families are declared (and their known series at 0) from
        # the first scrape. The others (tracing off, no events log) show only what they record.
        self._active = {Component.CORE, Component.HEALTH, Component.EXPORTER}
        self._local = threading.local()

    def activate(self, component: Component) -> None:
        """Declare ``component``'s families from the first scrape (it is in use)."""
        self._active.add(component)

    @contextmanager
    def direct(self) -> Iterator[None]:
        """Within this block, this thread's OTel callbacks for these metrics yield nothing."""
        self._local.direct = True
        try:
            yield
        finally:
            self._local.direct = False

    def families(self) -> list[DirectFamily]:
        """Every metric's series now (a producer that fails is counted and skipped), and the
        synchronous histograms' families, without samples (OTel's collection adds them)."""
        out = list(self._declared)
        for spec, produce in self._specs:
            samples = self._produce(spec, produce)
            if not samples and spec.component not in self._active:
                continue
            out.append(
                DirectFamily(
                    name=spec.full_name(self._namespace),
                    kind=spec.kind,
                    help=spec.help,
                    unit=spec.unit,
                    labels=spec.labels,
                    samples=samples,
                )
            )
        return out

    def _produce(self, spec: MetricSpec, produce: Producer) -> list[Sample]:
        try:
            samples = produce()
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail on one metric
            self._monitor.fault(f"observe_{spec.name}", exc)
            return []
        if spec.known_values and spec.component in self._active:
            seen = {key for key, _ in samples}
            samples += [((v,), 0) for v in spec.known_values if (v,) not in seen]
        return samples

    def callback(
        self, spec: MetricSpec, produce: Producer
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        """The OTel callback of one metric."""
        labels = spec.labels

        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            if getattr(self._local, "direct", False):
                return []
            return [
                Observation(value, dict(zip(labels, key, strict=True)) if key else None)
                for key, value in self._produce(spec, produce)
            ]

        return observe

    def register(self, meter: Meter) -> None:
        """Create the observable instruments on ``meter``."""
        for spec, produce in self._specs:
            name = spec.full_name(self._namespace)
            callback = self.callback(spec, produce)
            if spec.kind is MetricKind.COUNTER:
                meter.create_observable_counter(
                    name, [callback], unit=spec.unit, description=spec.help
                )
            elif spec.kind is MetricKind.GAUGE:
                meter.create_observable_gauge(
                    name, [callback], unit=spec.unit, description=spec.help
                )
            else:
                raise ValueError(f"{spec.name}: a histogram cannot be observable")


def create_instruments(
    meter: Meter,
    *,
    namespace: str,
    state: RecordedState,
    clock: Clock,
    monitor: SelfMonitor,
    version: str,
    health: Producer = list,
) -> Instruments:
    """Create every core instrument of the catalogue on ``meter``."""
    producers = _producers(state, clock, monitor, version, health)
    scrape_time = ScrapeTimeMetrics(namespace, monitor, producers)
    scrape_time.register(meter)
    histograms: dict[str, Histogram] = {}
    for spec in CATALOGUE:
        if spec.component is Component.CORE and not spec.observable:
            histograms[spec.name] = meter.create_histogram(
                spec.full_name(namespace),
                unit=spec.unit,
                description=spec.help,
                explicit_bucket_boundaries_advisory=list(spec.buckets or ()),
            )
    return Instruments(
        cycle_duration=histograms["cycle_duration_seconds"],
        phase_duration=histograms["cycle_phase_duration_seconds"],
        order_latency=histograms["order_latency_seconds"],
        scrape_time=scrape_time,
    )


def register_observables(
    meter: Meter,
    component: Component,
    *,
    namespace: str,
    monitor: SelfMonitor,
    producers: Mapping[str, Producer],
    specs: Iterable[MetricSpec] | None = None,
) -> ScrapeTimeMetrics:
    """Create the observable instruments of one catalogue component outside the core (the file
    exporter's rows); ``producers`` maps each row's name to its value function. Their values
    go through OTel's callbacks for every reader. ``specs``: rows to use instead of the
    catalogue's (compatibility names kept outside the catalogue)."""
    metrics = ScrapeTimeMetrics(namespace, monitor, producers, components=(component,), specs=specs)
    metrics.register(meter)
    return metrics
