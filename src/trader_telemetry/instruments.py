"""OTel instruments created from the catalogue, and the scrape-time callbacks over
:class:`~trader_telemetry.state.RecordedState`.

Only the three histograms are synchronous (recorded on the hot path); everything else is an
observable instrument whose callback reads in-memory state when a reader collects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation

from .catalogue import CATALOGUE, Component, MetricKind, MetricSpec
from .clock import Clock
from .selfmonitor import SelfMonitor
from .state import CounterKey, RecordedState

__all__ = ["Instruments", "create_instruments"]

Observations = Callable[[], Iterable[Observation]]


@dataclass(frozen=True, slots=True)
class Instruments:
    """The synchronous instruments the hot path records into."""

    cycle_duration: Histogram
    phase_duration: Histogram
    order_latency: Histogram


def _one(value: float | None) -> list[Observation]:
    return [] if value is None else [Observation(value)]


def _labelled(values: dict[str, float] | dict[str, int], label: str) -> list[Observation]:
    return [Observation(v, {label: k}) for k, v in values.copy().items()]


def _labelled2(values: dict[CounterKey, int], labels: tuple[str, ...]) -> list[Observation]:
    return [Observation(v, dict(zip(labels, key, strict=True))) for key, v in values.copy().items()]


def _observers(
    state: RecordedState, clock: Clock, monitor: SelfMonitor, version: str
) -> dict[str, Observations]:
    """spec name -> function producing that metric's observations now."""
    s = state

    def account_age() -> list[Observation]:
        at = s.account.recorded_monotonic
        return [] if at is None else [Observation(max(0.0, clock.monotonic() - at))]

    def last_cycle_age() -> list[Observation]:
        since = s.last_cycle_end if s.last_cycle_end is not None else s.started_monotonic
        return [Observation(max(0.0, clock.monotonic() - since))]

    def in_progress() -> list[Observation]:
        start = s.oldest_running_start()
        return [Observation(0.0 if start is None else max(0.0, clock.monotonic() - start))]

    def latency_ms() -> list[Observation]:
        last = s.last_cycle_seconds
        return [] if last is None else [Observation(last * 1000.0)]

    return {
        "equity": lambda: _one(s.account.equity),
        "total_pnl_usd": lambda: _one(s.account.total),
        "realized_pnl_usd": lambda: _one(s.account.realized_pnl),
        "unrealized_pnl_usd": lambda: _one(s.account.unrealized_pnl),
        "funding_pnl_usd": lambda: _one(s.account.funding_pnl),
        "exposure_usd": lambda: _labelled(s.exposure, "symbol"),
        "telemetry_account_age_seconds": account_age,
        "cycle_latency_ms": latency_ms,
        "cycles_total": lambda: _labelled(s.cycle_counts(), "outcome"),
        "cycle_errors_total": lambda: _labelled(s.cycle_errors, "error_type"),
        "last_cycle_age_seconds": last_cycle_age,
        "cycle_in_progress_seconds": in_progress,
        "risk_daily_loss": lambda: _one(s.daily_loss),
        "risk_daily_loss_limit": lambda: _one(s.daily_loss_limit),
        "circuit_breaker_triggered": lambda: [Observation(1 if s.breaker_triggered else 0)],
        "circuit_breaker_trips_total": lambda: _labelled(s.breaker_trips, "reason"),
        "market_data_staleness_seconds": lambda: _labelled(
            s.staleness(clock.monotonic()), "symbol"
        ),
        "websocket_reconnects_total": lambda: _labelled(s.ws_reconnects, "stream"),
        "stale_marks_total": lambda: _labelled(s.stale_marks, "symbol"),
        "orders_submitted_total": lambda: _labelled2(s.orders, ("symbol", "side")),
        "fills_total": lambda: _labelled2(s.fills, ("symbol", "side")),
        "orders_rejected_total": lambda: _labelled2(s.rejections, ("symbol", "reason")),
        "telemetry_errors_total": lambda: _labelled(monitor.errors, "reason"),
        "telemetry_rejected_values_total": lambda: _labelled(monitor.rejected, "reason"),
        "build_info": lambda: [Observation(1, {"version": version})],
    }


def _guarded(
    name: str, produce: Observations, monitor: SelfMonitor
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        try:
            return produce()
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail on one metric
            monitor.fault(f"observe_{name}", exc)
            return []

    return callback


def create_instruments(
    meter: Meter,
    *,
    namespace: str,
    state: RecordedState,
    clock: Clock,
    monitor: SelfMonitor,
    version: str,
) -> Instruments:
    """Create every core instrument of the catalogue on ``meter``."""
    observers = _observers(state, clock, monitor, version)
    histograms: dict[str, Histogram] = {}
    for spec in CATALOGUE:
        if spec.component is not Component.CORE:
            continue
        if spec.observable:
            _create_observable(
                meter, namespace, spec, _guarded(spec.name, observers[spec.name], monitor)
            )
        else:
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
    )


def _create_observable(
    meter: Meter,
    namespace: str,
    spec: MetricSpec,
    callback: Callable[[CallbackOptions], Iterable[Observation]],
) -> None:
    name = spec.full_name(namespace)
    if spec.kind is MetricKind.COUNTER:
        meter.create_observable_counter(name, [callback], unit=spec.unit, description=spec.help)
    elif spec.kind is MetricKind.GAUGE:
        meter.create_observable_gauge(name, [callback], unit=spec.unit, description=spec.help)
    else:
        raise ValueError(f"{spec.name}: a histogram cannot be observable")
