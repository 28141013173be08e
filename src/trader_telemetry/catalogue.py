"""The metric catalogue: every metric, defined once (docs/metrics.md).

The OTel instruments, their scrape-time values, the ``/metrics.json`` document's plain values,
the golden test, the docs tables, the dashboard and the alert rules are derived from
:data:`CATALOGUE`. Each row names the calls that set its value (``source``), where that value is
kept (``read``, or ``computed`` for a value worked out when scraped) and where it appears in
``/metrics.json`` (``json``). Names here are exposition names without the namespace:
``metric.full_name("coinbase_trader")`` is what Prometheus sees.

Units are OTel units chosen so the Prometheus name comes out exactly as written: ``s`` for names
ending in ``_seconds``; currency and counts use ``{...}`` annotations, which add no suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CATALOGUE",
    "CYCLE_BUCKETS",
    "ORDER_LATENCY_BUCKETS",
    "PHASE_BUCKETS",
    "Component",
    "Computed",
    "MetricKind",
    "MetricSpec",
    "metric",
]


class MetricKind(StrEnum):
    """Prometheus metric type."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class Component(StrEnum):
    """The part of the library that produces a metric (later features add theirs)."""

    CORE = "core"
    HEALTH = "health"
    EVENTS = "events"
    TRACING = "tracing"
    EXPORTER = "exporter"


class Computed(StrEnum):
    """A value worked out when scraped rather than read as recorded (``instruments.py`` has one
    function for each; the type checker holds it to every member)."""

    #: Seconds since the last account snapshot (none before the first).
    ACCOUNT_AGE = "account_age"
    #: Seconds since a cycle last completed, or since start-up.
    LAST_CYCLE_AGE = "last_cycle_age"
    #: Age of the oldest running cycle, 0 when idle.
    CYCLE_IN_PROGRESS = "cycle_in_progress"
    #: The last cycle's duration in milliseconds.
    LAST_CYCLE_MS = "last_cycle_ms"
    #: Seconds since each symbol's last mark.
    MARK_STALENESS = "mark_staleness"
    #: 1, labelled with the package version.
    BUILD_INFO = "build_info"
    #: Each health check's status (from the health service's cached report).
    HEALTH = "health"
    #: The library's own fault and rejected-value counts.
    TELEMETRY_ERRORS = "telemetry_errors"
    REJECTED_VALUES = "rejected_values"


# Seconds. 3 and 6 are the playbook's warning and critical cycle durations (``Thresholds``): a bucket
# edge exactly at each threshold lets alert rules count "slower than 3 s" without interpolation.
CYCLE_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 30.0, 60.0,
)  # fmt: skip
# Phases are parts of a cycle: finer at the bottom, same 3 s / 6 s edges at the top.
PHASE_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 6.0, 10.0, 30.0,
)  # fmt: skip
# Order submit -> acknowledgement: exchange round trips, 5 ms to 10 s.
ORDER_LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One row of the catalogue."""

    name: str
    kind: MetricKind
    unit: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    component: Component = Component.CORE
    #: True when the value is read from in-memory state at scrape time (an observable
    #: instrument); False for the few synchronous instruments recorded on the hot path.
    observable: bool = True
    #: A known ``promtool check metrics`` finding that is kept on purpose.
    lint_exception: str | None = None
    #: The values of the (single) label known in advance: each series is exported from the
    #: first scrape, at 0, so ``increase()`` sees the first event and dashboards read 0.
    known_values: tuple[str, ...] = ()
    #: Where the value comes from: the bot's recording calls (``record_account``: methods of
    #: :class:`~trader_telemetry.Telemetry`) or the library part that sets it (``cycle.CycleTimer``:
    #: a name under ``trader_telemetry``). Every row has one (a test resolves each).
    source: tuple[str, ...] = ()
    #: Why the Grafana dashboard shows no panel for this metric; None: it has one (both are
    #: checked against the rendered dashboard).
    no_panel: str | None = None
    #: Where a scrape-time value is kept, as a dotted path from the producing part's state
    #: (:class:`~trader_telemetry.state.RecordedState` for the core's rows, the
    #: ``FileExporter`` for the exporter's): ``"account.equity"``, ``"cycle_counts()"`` (a method,
    #: called), ``"gauges.margin_ratio"`` (a key of a dict: ``RecordedState.gauges`` keeps plain
    #: gauges that have no field of their own, by row name). The labels give its shape: one
    #: value (None: no series; a bool reads 0 or 1), a dict by the label's value, or a dict by
    #: the tuple of label values. A scrape-time row has ``read`` or ``computed`` (a test and
    #: the start of every ``Telemetry`` check it).
    read: str | None = None
    #: Instead of ``read``: the value is worked out when scraped.
    computed: Computed | None = None
    #: Where the value (as read, before it becomes samples) appears in ``/metrics.json``, as a
    #: dotted path (``"risk.daily_loss"``); None: the document does not carry it as such.
    json: str | None = None

    def full_name(self, namespace: str) -> str:
        """The exposition family name, e.g. ``coinbase_trader_cycles_total``."""
        return f"{namespace}_{self.name}"


_C, _G, _H = MetricKind.COUNTER, MetricKind.GAUGE, MetricKind.HISTOGRAM
_EXPORTER_ONLY = "the file exporter's own state, not the bot's: docs/file-exporter.md alerts on it"
_USD = "{USD}"

CATALOGUE: tuple[MetricSpec, ...] = (
    # Account
    MetricSpec(
        "equity", _G, _USD, "Account equity in USD.", source=("record_account",),
        read="account.equity", json="account_snapshot.equity",
    ),
    MetricSpec(
        "total_pnl_usd", _G, _USD, "Total PnL in USD: realized + unrealized + funding.", source=("record_account",),
        read="account.total", json="account_snapshot.total_pnl",
    ),
    MetricSpec(
        "realized_pnl_usd", _G, _USD, "Realized PnL in USD.", source=("record_account",),
        read="account.realized_pnl", json="account_snapshot.realized_pnl",
    ),
    MetricSpec(
        "unrealized_pnl_usd", _G, _USD, "Unrealized PnL of open positions in USD.", source=("record_account",),
        read="account.unrealized_pnl", json="account_snapshot.unrealized_pnl",
    ),
    MetricSpec(
        "funding_pnl_usd", _G, _USD, "Funding payments received (+) or paid (-) in USD.", source=("record_account",),
        read="account.funding_pnl", json="account_snapshot.funding_pnl",
    ),
    MetricSpec(
        "exposure_usd", _G, _USD, "Signed notional exposure per symbol in USD.", ("symbol",),
        source=("record_exposure", "record_exposures"), read="exposure",
    ),
    MetricSpec(
        "telemetry_account_age_seconds",
        _G,
        "s",
        "Seconds since the last account snapshot was recorded (computed at scrape).",
        source=("record_account",),
        computed=Computed.ACCOUNT_AGE,
        json="account_snapshot.age_seconds",
    ),
    # Control loop
    MetricSpec(
        "cycle_duration_seconds",
        _H,
        "s",
        "Wall time of one control-loop cycle.",
        buckets=CYCLE_BUCKETS,
        observable=False,
        source=("cycle.CycleTimer", "record_cycle"),
    ),
    MetricSpec(
        "cycle_latency_ms",
        _G,
        "{ms}",
        "Duration of the last completed cycle in milliseconds (playbook compatibility; "
        "prefer cycle_duration_seconds).",
        lint_exception="kept for the playbook's dashboards: promtool flags the _ms unit",
        source=("cycle.CycleTimer", "record_cycle"),
        computed=Computed.LAST_CYCLE_MS,
    ),
    MetricSpec(
        "cycles_total", _C, "{cycle}", "Completed control-loop cycles by outcome.", ("outcome",),
        known_values=("ok", "error"),
        source=("cycle.CycleTimer", "record_cycle", "record_counts"), read="cycle_counts()",
    ),
    MetricSpec(
        "cycle_errors_total", _C, "{error}", "Exceptions raised inside cycles by type.", ("error_type",),
        source=("cycle.CycleTimer", "record_cycle"),
        read="cycle_errors", json="cycle_metrics.errors_by_type",
    ),
    MetricSpec(
        "cycle_phase_duration_seconds",
        _H,
        "s",
        "Wall time of a named phase inside a cycle.",
        ("phase",),
        buckets=PHASE_BUCKETS,
        observable=False,
        source=("cycle.Phase", "record_cycle"),
    ),
    MetricSpec(
        "last_cycle_age_seconds",
        _G,
        "s",
        "Seconds since a cycle last completed, or since start-up if none has (hung-loop detector).",
        source=("cycle.CycleTimer", "record_cycle"),
        computed=Computed.LAST_CYCLE_AGE,
        json="cycle_metrics.last_cycle_age_seconds",
    ),
    MetricSpec(
        "cycle_in_progress_seconds",
        _G,
        "s",
        "Age of the oldest cycle still running; 0 when idle.",
        source=("cycle.CycleTimer",),
        computed=Computed.CYCLE_IN_PROGRESS,
        json="cycle_metrics.in_progress_seconds",
    ),
    # Risk
    MetricSpec(
        "risk_daily_loss", _G, _USD, "Today's loss counted by the daily-loss guard in USD (positive = loss).",
        source=("record_daily_loss",), read="daily_loss", json="risk.daily_loss",
    ),
    MetricSpec(
        "risk_daily_loss_limit", _G, _USD, "The daily-loss guard's limit in USD.",
        source=("record_daily_loss",), read="daily_loss_limit", json="risk.daily_loss_limit",
    ),
    MetricSpec(
        "circuit_breaker_triggered", _G, "1", "Circuit breaker state: 0 normal, 1 triggered.",
        source=("set_circuit_breaker",), read="breaker_triggered", json="risk.circuit_breaker_triggered",
    ),
    MetricSpec(
        "circuit_breaker_trips_total", _C, "{trip}", "Times the circuit breaker tripped by reason.", ("reason",),
        source=("set_circuit_breaker",), read="breaker_trips", json="risk.circuit_breaker_trips",
    ),
    # Market data
    MetricSpec(
        "market_data_staleness_seconds",
        _G,
        "s",
        "Seconds since the last mark per symbol (computed at scrape).",
        ("symbol",),
        source=("record_mark", "record_marks", "record_mark_at"),
        computed=Computed.MARK_STALENESS,
        json="market_data.staleness_seconds",
    ),
    MetricSpec(
        "websocket_reconnects_total", _C, "{reconnect}", "Websocket reconnections by stream.", ("stream",),
        source=("record_ws_reconnect", "record_counts"), read="ws_reconnects",
    ),
    MetricSpec(
        "stale_marks_total", _C, "{detection}", "Stale-mark detections by symbol.", ("symbol",),
        source=("record_stale_mark", "record_counts"), read="stale_marks",
    ),
    # Orders
    MetricSpec(
        "orders_submitted_total", _C, "{order}", "Orders submitted by symbol and side.", ("symbol", "side"),
        source=("record_order", "record_counts"), read="orders",
    ),
    MetricSpec(
        "fills_total", _C, "{fill}", "Fills received by symbol and side.", ("symbol", "side"),
        source=("record_fill", "record_counts"), read="fills",
    ),
    MetricSpec(
        "orders_rejected_total", _C, "{order}", "Orders rejected by symbol and reason.", ("symbol", "reason"),
        source=("record_rejection", "record_counts"), read="rejections",
    ),
    MetricSpec(
        "order_latency_seconds",
        _H,
        "s",
        "Seconds from order submission to exchange acknowledgement.",
        buckets=ORDER_LATENCY_BUCKETS,
        observable=False,
        source=("record_order_latency",),
    ),
    # The library watching itself
    MetricSpec(
        "telemetry_errors_total", _C, "{error}", "Internal faults of the telemetry library (never raised into the bot).", ("reason",),
        source=("selfmonitor.SelfMonitor.fault", "selfmonitor.SelfMonitor.count_error"),
        computed=Computed.TELEMETRY_ERRORS, json="telemetry.errors",
    ),
    MetricSpec(
        "telemetry_rejected_values_total",
        _C,
        "{value}",
        "Recorded values rejected as invalid (NaN, negative duration, unknown side, label overflow).",
        ("reason",),
        source=("selfmonitor.SelfMonitor.reject",),
        computed=Computed.REJECTED_VALUES,
        json="telemetry.rejected_values",
    ),
    MetricSpec(
        "build_info", _G, "1", "trader_telemetry build information; always 1.", ("version",),
        source=("version.package_version",), computed=Computed.BUILD_INFO,
    ),
    # Later features
    MetricSpec(
        "health_status", _G, "1", "Health check status: 0 healthy, 1 degraded, 2 unhealthy.", ("check",),
        component=Component.HEALTH,
        source=("health.service.HealthService.gauge_values",), computed=Computed.HEALTH,
    ),
    MetricSpec(
        "telemetry_dropped_events_total", _C, "{event}", "Events dropped by the events writer.", ("reason",),
        component=Component.EVENTS,
        known_values=("queue_full", "closed", "io_error", "transform_error", "forked"),
        source=("events.writer.EventLog",), read="dropped_events",
    ),
    MetricSpec(
        "slow_cycle_traces_total", _C, "{trace}", "Cycle traces kept for export by reason (failed exports count as dropped spans).", ("reason",),
        component=Component.TRACING,
        known_values=("slow", "error", "sampled"),
        source=("tracing.CycleTracing",), read="kept_traces",
    ),
    MetricSpec(
        "telemetry_dropped_spans_total", _C, "{span}", "Spans dropped by the tail sampler's caps or by failed exports (reason export_failed).", ("reason",),
        component=Component.TRACING,
        known_values=("too_many_open_traces", "trace_too_long", "export_failed"),
        source=("tracing.CycleTracing",), read="dropped_spans",
    ),
    MetricSpec(
        "exporter_source_age_seconds", _G, "s", "Seconds since the exporter's source file last changed.", ("file",),
        component=Component.EXPORTER,
        source=("compat.exporter.FileExporter",), read="source_ages()", no_panel=_EXPORTER_ONLY,
    ),
    MetricSpec(
        "exporter_read_errors_total", _C, "{error}", "Errors reading the exporter's source files.", ("file", "reason"),
        component=Component.EXPORTER,
        source=("compat.exporter.FileExporter",), read="read_errors()", no_panel=_EXPORTER_ONLY,
    ),
)  # fmt: skip

_BY_NAME = {spec.name: spec for spec in CATALOGUE}


def metric(name: str) -> MetricSpec:
    """The catalogue row for ``name`` (without namespace).

    Example:
        >>> metric("cycles_total").labels
        ('outcome',)
    """
    return _BY_NAME[name]


def specs_of(component: Component) -> Iterator[MetricSpec]:
    """The rows a component produces."""
    return (spec for spec in CATALOGUE if spec.component is component)


_WHEN: dict[Component, str] = {
    Component.EVENTS: " *(with `data_dir` set)*",
    Component.TRACING: " *(with tracing on)*",
    Component.EXPORTER: " *(from `trader-telemetry serve`)*",
}


def as_markdown() -> str:
    """The catalogue as a Markdown table (README.md and docs/metrics.md embed it; a test keeps
    them equal).

    Example:
        >>> as_markdown().splitlines()[0]
        '| name | type | labels | meaning |'
    """
    lines = ["| name | type | labels | meaning |", "|---|---|---|---|"]
    for spec in CATALOGUE:
        note = _WHEN.get(spec.component, "")
        lines.append(
            f"| `{{ns}}_{spec.name}` | {spec.kind} | {', '.join(spec.labels)} | {spec.help}{note} |"
        )
    lines.append(
        "| `process_*` | (prometheus_client) | | CPU seconds, resident memory, open fds, "
        "start time of the bot's process. |"
    )
    return "\n".join(lines) + "\n"


def _kept(spec: MetricSpec) -> str:
    if spec.computed is not None:
        return f"computed at scrape: `{spec.computed}`"
    if spec.read is not None:
        owner = "FileExporter." if spec.component is Component.EXPORTER else ""
        return f"`{owner}{spec.read}`"
    return "recorded on the hot path (histogram)"


def sources_markdown() -> str:
    """Where each row's value comes from, as a Markdown table (docs/metrics.md embeds it; a test
    keeps them equal).

    Example:
        >>> sources_markdown().splitlines()[2]
        '| `{ns}_equity` | `record_account` | `account.equity` | `account_snapshot.equity` |'
    """
    lines = ["| name | set by | kept in | in /metrics.json |", "|---|---|---|---|"]
    for spec in CATALOGUE:
        calls = ", ".join(f"`{source}`" for source in spec.source)
        place = "" if spec.json is None else f"`{spec.json}`"
        lines.append(f"| `{{ns}}_{spec.name}` | {calls} | {_kept(spec)} | {place} |")
    return "\n".join(lines) + "\n"
