"""OTel instruments created from the catalogue, and the scrape-time values behind them.

Only the three histograms are synchronous (recorded on the hot path). Everything else is read
from :class:`~trader_telemetry.state.RecordedState` where its catalogue row says (a ``read`` path,
or one of the :class:`ComputedValues`; see :mod:`.row_values`) when a reader collects: through
OTel observable callbacks for any reader, or, for our native Prometheus reader, directly
(:class:`ScrapeTimeMetrics`), which skips the SDK's per-series aggregation (about 8 µs a series,
most of a scrape's cost) while the values and names stay the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Final, assert_never

from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation

from .catalogue import CATALOGUE, Component, Computed, MetricKind, MetricSpec
from .clock import Clock
from .errors import ConfigurationError
from .row_values import Producer, Reading, Sample, producer, reading
from .selfmonitor import SelfMonitor
from .state import RecordedState

__all__ = [
    "ComputedValues",
    "DirectFamily",
    "Instruments",
    "Producer",
    "ScrapeTimeMetrics",
    "create_instruments",
    "register_observables",
]


# The two records below are plain slotted classes, not dataclasses: a dataclass's generated
# methods cost more to create at import than the whole class (docs/performance.md).


class Instruments:
    """The synchronous instruments the hot path records into, and the scrape-time values."""

    __slots__ = (
        "cycle_duration",
        "json_readings",
        "order_latency",
        "phase_duration",
        "scrape_time",
    )

    def __init__(
        self,
        *,
        cycle_duration: Histogram,
        phase_duration: Histogram,
        order_latency: Histogram,
        scrape_time: ScrapeTimeMetrics,
        json_readings: tuple[tuple[MetricSpec, Reading], ...],
    ) -> None:
        self.cycle_duration: Final = cycle_duration
        self.phase_duration: Final = phase_duration
        self.order_latency: Final = order_latency
        self.scrape_time: Final = scrape_time
        #: The rows ``/metrics.json`` carries as read (those with ``json``), with their readings.
        self.json_readings: Final = json_readings


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


class ComputedValues:
    """The core's values worked out when scraped (:class:`~trader_telemetry.catalogue.Computed`):
    ages from the clock, the health service's statuses, the build version, the library's own
    counts. A labelled one returns a dict of its own (never one the library keeps writing)."""

    def __init__(
        self,
        state: RecordedState,
        clock: Clock,
        monitor: SelfMonitor,
        version: str,
        health: Callable[[], Mapping[str, float]],
    ) -> None:
        self._state = state
        self._clock = clock
        self._monitor = monitor
        self._version = version
        self._health = health

    def __call__(self, kind: Computed) -> Reading:  # noqa: PLR0911 - one return per kind
        """The reading of ``kind``."""
        s, clock, monitor = self._state, self._clock, self._monitor
        match kind:
            case Computed.ACCOUNT_AGE:
                return self._account_age
            case Computed.LAST_CYCLE_AGE:
                return self._last_cycle_age
            case Computed.CYCLE_IN_PROGRESS:
                return self._in_progress
            case Computed.LAST_CYCLE_MS:
                return self._last_cycle_ms
            case Computed.MARK_STALENESS:
                return lambda: s.staleness(clock.monotonic())
            case Computed.BUILD_INFO:
                return lambda: {self._version: 1}
            case Computed.HEALTH:
                return self._health
            case Computed.TELEMETRY_ERRORS:
                return monitor.errors.copy  # dict.copy is atomic: safe against the counting
            case Computed.REJECTED_VALUES:
                return monitor.rejected.copy
            case _:  # pragma: no cover - the type checker sees every member above
                assert_never(kind)

    def _account_age(self) -> float | None:
        at = self._state.account.recorded_monotonic
        return None if at is None else max(0.0, self._clock.monotonic() - at)

    def _last_cycle_age(self) -> float:
        s = self._state
        since = s.last_cycle_end if s.last_cycle_end is not None else s.started_monotonic
        return max(0.0, self._clock.monotonic() - since)

    def _in_progress(self) -> float:
        start = self._state.oldest_running_start()
        return 0.0 if start is None else max(0.0, self._clock.monotonic() - start)

    def _last_cycle_ms(self) -> float | None:
        last = self._state.last_cycle_seconds
        return None if last is None else last * 1000.0


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
        rows = [
            spec
            for spec in (CATALOGUE if specs is None else specs)
            if spec.component in components and spec.observable
        ]
        missing = [spec.name for spec in rows if spec.name not in producers]
        if missing:
            raise ConfigurationError(
                f"catalogue rows {missing} have no producer: give each a read= or computed= "
                "(or, outside the core, a producer)"
            )
        self._specs = [(spec, producers[spec.name]) for spec in rows]
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
    health: Callable[[], Mapping[str, float]] = dict,
) -> Instruments:
    """Create every core instrument of the catalogue on ``meter``; each scrape-time row is read
    where it says (:mod:`.row_values`).

    Raises:
        ConfigurationError: a row says neither where its value is kept nor how it is computed,
            or names a path the recorded state does not have.
    """
    computed = ComputedValues(state, clock, monitor, version, health)
    readings = {
        spec.name: reading(spec, state, computed)
        for spec in CATALOGUE
        if spec.component in _SCRAPE_TIME_COMPONENTS and spec.observable
    }
    producers = {
        spec.name: producer(spec, readings[spec.name])
        for spec in CATALOGUE
        if spec.name in readings
    }
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
        json_readings=tuple(
            (spec, readings[spec.name])
            for spec in CATALOGUE
            if spec.json is not None and spec.name in readings
        ),
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
