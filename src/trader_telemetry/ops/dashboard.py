"""The Grafana dashboard, rendered from the catalogue's names and the thresholds.

:func:`dashboard` returns the JSON model Grafana 11 saves (``schemaVersion`` 41): time series,
stat, state timeline and table panels in rows, a ``datasource`` variable and ``job`` /
``instance`` variables so one dashboard serves a fleet. Every query is filtered by
``job=~"$job", instance=~"$instance"``; warning and critical levels come from the options'
thresholds, so the lines drawn on the latency, heartbeat and staleness panels move when the
alert rules do. The output is a pure function of the options: ids follow the layout and the
uid is a digest of namespace and job, so a re-render gives the same bytes.

Example:
    >>> from trader_telemetry.ops import OpsOptions
    >>> model = dashboard(OpsOptions(namespace="coinbase_trader"))
    >>> model["schemaVersion"], [v["name"] for v in model["templating"]["list"]]
    (41, ['datasource', 'job', 'instance'])
"""

from __future__ import annotations

import hashlib
from typing import Any

from .options import OpsOptions
from .panels import (
    DATASOURCE,
    Level,
    Row,
    State,
    layout,
    stat,
    state_timeline,
    table,
    timeseries,
)

__all__ = [
    "DATASOURCE_NAME",
    "DATASOURCE_UID",
    "SCHEMA_VERSION",
    "SELECTOR",
    "dashboard",
    "dashboard_uid",
]

#: Grafana 11.6's dashboard schema version (``defaultDashboard`` of ``@grafana/schema`` 11.6).
SCHEMA_VERSION = 41
#: The provisioned Prometheus datasource the ``datasource`` variable selects by default.
DATASOURCE_NAME = "Prometheus"
DATASOURCE_UID = "prometheus"
#: The label filter every query carries.
SELECTOR = 'job=~"$job", instance=~"$instance"'

_WARN, _CRIT, _OK = "orange", "red", "green"
_BREAKER = (State(0, "normal", _OK), State(1, "TRIGGERED", _CRIT))
_HEALTH = (State(0, "healthy", _OK), State(1, "degraded", _WARN), State(2, "unhealthy", _CRIT))
_UP = (State(0, "DOWN", _CRIT), State(1, "up", _OK))
_INSTANCE = "{{instance}}"


def _window(seconds: float) -> str:
    """A PromQL duration for ``seconds`` (``300.0`` -> ``5m``)."""
    millis = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


def _levels(warning: float, critical: float) -> tuple[Level, Level]:
    return Level(warning, _WARN), Level(critical, _CRIT)


class _PromQL:
    """Queries in one namespace, every selector filtered by the fleet variables."""

    def __init__(self, options: OpsOptions) -> None:
        self._options = options

    def __call__(self, name: str) -> str:
        """``{ns}_{name}{job=~"$job", instance=~"$instance"}``; ``process_*`` names as they are."""
        full = name if name.startswith("process_") else self._options.metric(name)
        return f"{full}{{{SELECTOR}}}"

    def increase(self, name: str, by: str, window: str = "$__rate_interval") -> str:
        return f"sum by (instance, {by}) (increase({self(name)}[{window}]))"

    def rate(self, name: str, by: str) -> str:
        return f"sum by (instance, {by}) (rate({self(name)}[$__rate_interval]))"

    def quantile(self, q: float, histogram: str, by: str = "") -> str:
        labels = ", ".join(label for label in ("instance", by, "le") if label)
        buckets = f"rate({self(histogram + '_bucket')}[$__rate_interval])"
        return f"histogram_quantile({q}, sum by ({labels}) ({buckets}))"


def _overview(m: _PromQL, options: OpsOptions) -> Row:
    t = options.thresholds
    loss_ratio = f"{m('risk_daily_loss')} / {m('risk_daily_loss_limit')}"
    return Row(
        "Overview",
        (
            stat("Bot up", [(f"up{{{SELECTOR}}}", _INSTANCE)], states=_UP,
                 description="Whether Prometheus could scrape the bot's /metrics."),
            stat("Account equity", [(m("equity"), _INSTANCE)], unit="currencyUSD",
                 description="Account equity in USD, as last recorded by the bot."),
            stat("Total PnL", [(m("total_pnl_usd"), _INSTANCE)], unit="currencyUSD",
                 levels=[Level(0, _OK)], base_color=_CRIT,
                 description="Realized + unrealized + funding PnL in USD."),
            stat("Daily loss / limit", [(loss_ratio, _INSTANCE)], unit="percentunit",
                 levels=_levels(t.daily_loss_warning_ratio, t.daily_loss_critical_ratio),
                 description="Today's loss as a share of the daily-loss guard's limit; "
                 "coloured at the alert rules' warning and critical ratios."),
            stat("Circuit breaker", [(m("circuit_breaker_triggered"), _INSTANCE)],
                 states=_BREAKER, description="0 normal, 1 triggered (trading halted)."),
            stat("Health", [(f"max by (instance) ({m('health_status')})", _INSTANCE)],
                 states=_HEALTH,
                 description="The worst health check: 0 healthy, 1 degraded, 2 unhealthy."),
        ),
    )  # fmt: skip


def _account(m: _PromQL, options: OpsOptions) -> Row:
    t = options.thresholds
    ratio = t.daily_loss_warning_ratio
    return Row(
        "Account and PnL",
        (
            timeseries("Account equity", [(m("equity"), _INSTANCE)], unit="currencyUSD",
                       description="Account equity in USD."),
            timeseries(
                "PnL breakdown",
                [
                    (m("realized_pnl_usd"), "realized {{instance}}"),
                    (m("unrealized_pnl_usd"), "unrealized {{instance}}"),
                    (m("funding_pnl_usd"), "funding {{instance}}"),
                    (m("total_pnl_usd"), "total {{instance}}"),
                ],
                unit="currencyUSD",
                description="Realized, unrealized, funding and total PnL in USD.",
            ),
            timeseries(
                "Exposure per symbol (stacked)",
                [(f"sum by (instance, symbol) ({m('exposure_usd')})", "{{symbol}} {{instance}}")],
                unit="currencyUSD", stacked=True,
                description="Signed notional exposure per symbol in USD, stacked.",
            ),
            timeseries(
                "Daily loss vs limit",
                [
                    (m("risk_daily_loss"), "loss {{instance}}"),
                    (m("risk_daily_loss_limit"), "limit {{instance}}"),
                    (f"{m('risk_daily_loss_limit')} * {ratio:g}",
                     f"warning ({ratio:.0%}) {_INSTANCE}"),
                ],
                size=(6, 8), unit="currencyUSD",
                description="Today's loss counted by the guard, its limit and the warning level "
                "of the DailyLossGuardWarn alert.",
            ),
            timeseries(
                "Account snapshot age",
                [(m("telemetry_account_age_seconds"), _INSTANCE)],
                size=(6, 8), unit="s", min_value=0,
                levels=_levels(t.account_age_warning_seconds, t.account_age_critical_seconds),
                description="Seconds since the bot last recorded an account snapshot.",
            ),
        ),
    )  # fmt: skip


def _risk(m: _PromQL) -> Row:
    return Row(
        "Risk and health",
        (
            state_timeline("Circuit breaker state", [(m("circuit_breaker_triggered"), _INSTANCE)],
                           _BREAKER, size=(12, 6),
                           description="When the circuit breaker was triggered."),
            timeseries("Circuit breaker trips",
                       [(m.increase("circuit_breaker_trips_total", "reason"),
                         "{{reason}} {{instance}}")],
                       size=(12, 6), bars=True, no_value="0",
                       description="Times the breaker tripped, by reason."),
            state_timeline(
                "Health status by check",
                [(f"max by (instance, check) ({m('health_status')})", "{{check}} {{instance}}")],
                _HEALTH, size=(16, 8),
                description="Each health check over time: healthy, degraded or unhealthy.",
            ),
            table("Bots and versions",
                  [(f"max by (job, instance, version) ({m('build_info')})", "")],
                  hide=("Time", "Value"),
                  description="Every bot the variables select, with its trader_telemetry version."),
        ),
    )  # fmt: skip


def _control_loop(m: _PromQL, options: OpsOptions) -> Row:
    t = options.thresholds
    window = _window(t.cycle_errors_window_seconds)
    hist = "cycle_duration_seconds"
    return Row(
        "Control loop",
        (
            timeseries(
                "Cycle latency",
                [
                    (m.quantile(0.5, hist), "p50 {{instance}}"),
                    (m.quantile(0.95, hist), "p95 {{instance}}"),
                    (m.quantile(0.99, hist), "p99 {{instance}}"),
                    (f"{m('cycle_latency_ms')} / 1000", "last cycle {{instance}}"),
                ],
                unit="s", min_value=0,
                levels=_levels(t.cycle_duration_warning_seconds, t.cycle_duration_critical_seconds),
                description="p50 / p95 / p99 of the cycle duration histogram and the last cycle; "
                "the dashed lines are the warning and critical thresholds.",
            ),
            timeseries(
                "Loop heartbeat",
                [
                    (m("last_cycle_age_seconds"), "since last cycle {{instance}}"),
                    (m("cycle_in_progress_seconds"), "running cycle {{instance}}"),
                ],
                unit="s", min_value=0,
                levels=_levels(t.heartbeat_warning_seconds, t.heartbeat_critical_seconds),
                description="Seconds since a cycle last completed (hung-loop detector) and the "
                "age of the cycle still running.",
            ),
            timeseries(
                "Cycle phases (p95)",
                [(m.quantile(0.95, "cycle_phase_duration_seconds", "phase"),
                  "{{phase}} {{instance}}")],
                size=(8, 8), unit="s", min_value=0,
                description="95th percentile of each named phase inside a cycle.",
            ),
            timeseries("Cycles by outcome",
                       [(m.rate("cycles_total", "outcome"), "{{outcome}} {{instance}}")],
                       size=(8, 8), unit="ops", no_value="0",
                       description="Completed cycles per second, ok and error."),
            timeseries(
                f"Cycle errors in {window}",
                [(m.increase("cycle_errors_total", "error_type", window),
                  "{{error_type}} {{instance}}")],
                size=(8, 8), no_value="0", min_value=0,
                levels=_levels(t.cycle_errors_warning, t.cycle_errors_critical),
                description="Exceptions raised in cycles, by type, over the alert rules' window.",
            ),
        ),
    )  # fmt: skip


def _market_data(m: _PromQL, options: OpsOptions) -> Row:
    t = options.thresholds
    window = _window(t.ws_reconnects_window_seconds)
    staleness = f"max by (instance, symbol) ({m('market_data_staleness_seconds')})"
    return Row(
        "Market data",
        (
            timeseries("Market data staleness per symbol", [(staleness, "{{symbol}} {{instance}}")],
                       size=(8, 8), unit="s", min_value=0,
                       levels=_levels(t.staleness_warning_seconds, t.staleness_critical_seconds),
                       description="Seconds since the last mark of each symbol."),
            timeseries(f"Websocket reconnects in {window}",
                       [(m.increase("websocket_reconnects_total", "stream", window),
                         "{{stream}} {{instance}}")],
                       size=(8, 8), no_value="0", min_value=0,
                       levels=[Level(t.ws_reconnects_critical, _CRIT)],
                       description="Websocket reconnections per stream; the line is the "
                       "reconnect-loop alert's level."),
            timeseries("Stale marks",
                       [(m.increase("stale_marks_total", "symbol"), "{{symbol}} {{instance}}")],
                       size=(8, 8), bars=True, no_value="0",
                       description="Stale-mark detections per symbol."),
        ),
    )  # fmt: skip


def _orders(m: _PromQL) -> Row:
    hist = "order_latency_seconds"
    return Row(
        "Orders",
        (
            timeseries(
                "Orders and fills",
                [
                    (m.rate("orders_submitted_total", "symbol, side"),
                     "sent {{symbol}} {{side}} {{instance}}"),
                    (m.rate("fills_total", "symbol, side"),
                     "filled {{symbol}} {{side}} {{instance}}"),
                ],
                size=(8, 8), unit="ops", no_value="0",
                description="Orders submitted and fills received per second.",
            ),
            timeseries("Order rejections",
                       [(m.increase("orders_rejected_total", "symbol, reason"),
                         "{{symbol}} {{reason}} {{instance}}")],
                       size=(8, 8), bars=True, no_value="0",
                       description="Rejected orders by symbol and reason."),
            timeseries(
                "Order latency",
                [
                    (m.quantile(0.5, hist), "p50 {{instance}}"),
                    (m.quantile(0.95, hist), "p95 {{instance}}"),
                    (m.quantile(0.99, hist), "p99 {{instance}}"),
                ],
                size=(8, 8), unit="s", min_value=0,
                description="Order submission to exchange acknowledgement: p50 / p95 / p99.",
            ),
        ),
    )  # fmt: skip


def _resources(m: _PromQL) -> Row:
    return Row(
        "System resources",
        (
            timeseries("CPU",
                       [(f"rate({m('process_cpu_seconds_total')}[$__rate_interval])", _INSTANCE)],
                       size=(8, 8), unit="percentunit", min_value=0,
                       description="CPU time of the bot's process per second (100 % = one core)."),
            timeseries("Memory",
                       [(m("process_resident_memory_bytes"), "resident {{instance}}"),
                        (m("process_virtual_memory_bytes"), "virtual {{instance}}")],
                       size=(8, 8), unit="bytes", min_value=0,
                       description="Resident and virtual memory of the bot's process."),
            timeseries("Open file descriptors", [(m("process_open_fds"), _INSTANCE)],
                       size=(8, 8), min_value=0,
                       description="File descriptors the bot's process holds open."),
        ),
    )  # fmt: skip


def _library(m: _PromQL) -> Row:
    return Row(
        "trader_telemetry itself",
        (
            timeseries(
                "Library faults and rejected values",
                [
                    (m.increase("telemetry_errors_total", "reason"),
                     "fault {{reason}} {{instance}}"),
                    (m.increase("telemetry_rejected_values_total", "reason"),
                     "rejected {{reason}} {{instance}}"),
                ],
                bars=True, no_value="0",
                description="Internal faults (logged, never raised into the bot) and recorded "
                "values rejected as invalid; reason label_overflow means a label reached "
                "max_label_values and new values fold into __overflow__.",
            ),
            timeseries(
                "Events and traces",
                [
                    (m.increase("telemetry_dropped_events_total", "reason"),
                     "dropped events {{reason}} {{instance}}"),
                    (m.increase("telemetry_dropped_spans_total", "reason"),
                     "dropped spans {{reason}} {{instance}}"),
                    (m.increase("slow_cycle_traces_total", "reason"),
                     "kept traces {{reason}} {{instance}}"),
                ],
                bars=True, no_value="0",
                description="Events and spans dropped by the bounded queues and caps, and the "
                "cycle traces kept (slow, error, sampled).",
            ),
        ),
    )  # fmt: skip


def _variables(options: OpsOptions) -> list[dict[str, Any]]:
    build_info = options.metric("build_info")

    def query_variable(name: str, query: str, text: str, value: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": name.capitalize(),
            "type": "query",
            "datasource": dict(DATASOURCE),
            "query": {
                "qryType": 1,
                "query": query,
                "refId": "PrometheusVariableQueryEditor-VariableQuery",
            },
            "refresh": 2,
            "regex": "",
            "sort": 1,
            "multi": True,
            "includeAll": True,
            "allValue": ".+",
            "current": {"selected": True, "text": [text], "value": [value]},
            "options": [],
            "hide": 0,
        }

    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {"selected": True, "text": DATASOURCE_NAME, "value": DATASOURCE_UID},
            "options": [],
            "refresh": 1,
            "regex": "",
            "hide": 0,
        },
        query_variable("job", f"label_values({build_info}, job)", options.job, options.job),
        query_variable(
            "instance", f'label_values({build_info}{{job=~"$job"}}, instance)', "All", "$__all"
        ),
    ]


def dashboard_uid(options: OpsOptions) -> str:
    """A stable uid for the namespace and job (Grafana allows up to 40 characters).

    Example:
        >>> from trader_telemetry.ops import OpsOptions
        >>> dashboard_uid(OpsOptions(namespace="coinbase_trader"))[:17]
        'trader-telemetry-'
    """
    digest = hashlib.sha256(f"{options.namespace}\0{options.job}".encode()).hexdigest()
    return f"trader-telemetry-{digest[:16]}"


def dashboard(options: OpsOptions) -> dict[str, Any]:
    """The Grafana dashboard JSON model for ``options``.

    Args:
        options: Namespace (metric prefix), default job and thresholds.

    Returns:
        A dict ready for ``json.dumps``; the same options always give an equal dict.

    Example:
        >>> from trader_telemetry.ops import OpsOptions
        >>> model = dashboard(OpsOptions(namespace="coinbase_trader", job="bots"))
        >>> model["title"], model["panels"][0]["type"]
        ('Trading bot: coinbase_trader (bots)', 'row')
    """
    m = _PromQL(options)
    rows = [
        _overview(m, options),
        _account(m, options),
        _risk(m),
        _control_loop(m, options),
        _market_data(m, options),
        _orders(m),
        _resources(m),
        _library(m),
    ]
    title = f"Trading bot: {options.namespace}"
    if options.job != options.namespace:
        title += f" ({options.job})"
    builtin_annotations = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "annotations": {"list": [builtin_annotations]},
        "description": f"trader_telemetry metrics of the {options.namespace} bot: account, risk, "
        "control loop, market data, orders, resources and the library itself.",
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": layout(rows),
        "refresh": _window(max(10, 2 * options.scrape_interval_seconds)),
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["trader_telemetry", options.namespace],
        "templating": {"list": _variables(options)},
        "time": {"from": "now-3h", "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "title": title,
        "uid": dashboard_uid(options),
        "version": 1,
        "weekStart": "",
    }
