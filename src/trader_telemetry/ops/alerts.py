"""The alert rules (``alerts.yml``), built from the catalogue and the thresholds.

Each rule is an :class:`AlertDefinition` whose condition is a :class:`Signal`: a small
description (a gauge against a level, a ratio of two gauges, a counter's increase over a window,
the share of slow cycles in the histogram) from which both the PromQL and the promtool unit
tests (:mod:`.alert_tests`) are derived. So the tests follow the thresholds, and rules rendered
from other numbers fail them.

Rules: the playbook's five (bot down, ``DailyLossGuardWarn``, market data stale, circuit breaker,
websocket reconnect loop) and a warning and a critical rule per row of the thresholds table
(docs/configuration.md). Every rule carries ``severity``, an ``alertgroup`` shared by a warning
and its critical twin (Alertmanager mutes the warning while the critical fires), ``summary``,
``description`` with the value and a ``runbook_url`` to its section of docs/runbooks.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from ..catalogue import CYCLE_BUCKETS
from ..catalogue import metric as catalogue_metric
from ..errors import ConfigurationError
from .options import OpsOptions

__all__ = [
    "ALERT_RUNBOOKS",
    "EXPORTER_DOWN",
    "WS_RECONNECTS_WARNING_WINDOW_SECONDS",
    "AlertDefinition",
    "Signal",
    "alert_definitions",
    "alert_name",
    "alert_rules",
    "format_duration",
    "format_number",
]

SignalKind = Literal["gauge", "ratio", "increase", "slow_share"]
Comparison = Literal[">", ">=", "=="]
Severity = Literal["warning", "critical"]

#: The playbook's name of the "endpoint down" alert: the namespace in CamelCase, then
#: ``ExporterDown`` (``CoinbaseTraderExporterDown`` for ``coinbase_trader``): :func:`alert_name`.
EXPORTER_DOWN = "{Namespace}ExporterDown"

#: Every alert and the docs/runbooks.md section (GitHub heading anchor) its ``runbook_url`` opens.
#: The playbook's names exactly (Alertmanager routes and silences match on ``alertname``), our
#: extra rules beside them.
ALERT_RUNBOOKS: tuple[tuple[str, str], ...] = (
    (EXPORTER_DOWN, "exporter-not-reporting"),
    ("DailyLossGuardWarn", "daily-loss-guard-triggered"),
    ("DailyLossGuardCritical", "daily-loss-guard-triggered"),
    ("MarketDataStale", "market-data-staleness"),
    ("MarketDataStaleCritical", "market-data-staleness"),
    ("CircuitBreakerTriggered", "circuit-breaker-triggered"),
    ("WebSocketReconnectLoop", "websocket-reconnect-loop"),
    ("WebSocketReconnectsWarn", "websocket-reconnect-loop"),
    ("CycleDurationWarn", "cycle-duration"),
    ("CycleDurationCritical", "cycle-duration"),
    ("CycleErrorsWarn", "cycle-errors"),
    ("CycleErrorsCritical", "cycle-errors"),
    ("AccountSnapshotAgeWarn", "account-snapshot-age"),
    ("AccountSnapshotAgeCritical", "account-snapshot-age"),
    ("LoopHeartbeatWarn", "loop-heartbeat"),
    ("LoopHeartbeatCritical", "loop-heartbeat"),
)
_ANCHORS = dict(ALERT_RUNBOOKS)


def alert_name(template: str, namespace: str) -> str:
    """The alert's name for ``namespace`` (only :data:`EXPORTER_DOWN` depends on it).

    Example:
        >>> alert_name(EXPORTER_DOWN, "coinbase_trader"), alert_name(EXPORTER_DOWN, "trader")
        ('CoinbaseTraderExporterDown', 'TraderExporterDown')
    """
    camel = "".join(part[:1].upper() + part[1:] for part in namespace.split("_"))
    return template.replace("{Namespace}", camel)


#: ``ws_reconnects_hourly_warning`` counts over this window (the playbook's health check's hour).
WS_RECONNECTS_WARNING_WINDOW_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Signal:
    """What a rule compares; the PromQL and the unit-test input series are both built from it.

    Attributes:
        kind: ``gauge`` (one series against a level), ``ratio`` (``metric / denominator``),
            ``increase`` (a counter's increase over ``window_ms``, summed per bot and ``by``
            labels) or ``slow_share`` (share of the window's cycles slower than ``bucket``).
        metric: Exposition name (the family name for a histogram).
        op: The comparison with ``threshold``.
        threshold: The level, straight from :class:`~trader_telemetry.Thresholds`.
        job: The scrape job every selector is restricted to.
        matchers: Further equality matchers, e.g. ``(("outcome", "error"),)``.
        by: Labels the series carry beyond ``job`` and ``instance`` that the alert keeps.
        window_ms: Range of ``increase`` (``increase`` and ``slow_share``).
        denominator: The divisor's exposition name (``ratio``); only positive values count.
        bucket: The ``le`` edge slow cycles are counted above (``slow_share``).

    Example:
        >>> Signal("gauge", "trader_last_cycle_age_seconds", ">", 15.0, job="trader").expr()
        'trader_last_cycle_age_seconds{job="trader"} > 15'
    """

    kind: SignalKind
    metric: str
    op: Comparison
    threshold: float
    job: str
    matchers: tuple[tuple[str, str], ...] = ()
    by: tuple[str, ...] = ()
    window_ms: int = 0
    denominator: str = ""
    bucket: float = 0.0

    def selector(self, name: str, *extra: tuple[str, str]) -> str:
        """``name{job="...",...}`` with this signal's matchers."""
        pairs = (("job", self.job), *self.matchers, *extra)
        return name + "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in pairs) + "}"

    def expr(self) -> str:
        """The PromQL expression of the condition."""
        level = f"{self.op} {format_number(self.threshold)}"
        window = format_duration(self.window_ms)
        grouping = ", ".join(("job", "instance", *self.by))
        if self.kind == "gauge":
            return f"{self.selector(self.metric)} {level}"
        if self.kind == "ratio":
            denominator = self.selector(self.denominator)
            return f"{self.selector(self.metric)} / ({denominator} > 0) {level}"
        if self.kind == "increase":
            counted = f"increase({self.selector(self.metric)}[{window}])"
            return f"sum by ({grouping}) ({counted}) {level}"
        # slow_share: (all cycles - cycles at or under the edge) / all cycles, over the window.
        edge = ("le", bucket_label(self.bucket))
        count = self.selector(f"{self.metric}_count")
        at_most = self.selector(f"{self.metric}_bucket", edge)
        total = f"sum by ({grouping}) (increase({count}[{window}]))"
        fast = f"sum by ({grouping}) (increase({at_most}[{window}]))"
        return f"(\n  {total}\n  - {fast}\n)\n/ {total}\n{level}"


@dataclass(frozen=True, slots=True)
class AlertDefinition:
    """One alerting rule: name, condition, hold time, labels and annotation templates.

    ``summary`` and ``description`` are Prometheus templates using only ``{{ $labels.X }}``,
    ``{{ $value }}`` and ``{{ $value | humanize }}`` / ``humanizeDuration`` /
    ``humanizePercentage`` (the unit tests expand them to the exact text).
    """

    name: str
    severity: Severity
    group: str
    hold_ms: int
    signal: Signal
    summary: str
    description: str
    #: The entry of :data:`ALERT_RUNBOOKS` when ``name`` depends on the namespace.
    template: str | None = None

    @property
    def anchor(self) -> str:
        """The docs/runbooks.md section of this alert."""
        return _ANCHORS[self.template or self.name]

    def rule(self, options: OpsOptions) -> dict[str, Any]:
        """The rule as it appears in ``alerts.yml``."""
        return {
            "alert": self.name,
            "expr": self.signal.expr(),
            "for": format_duration(self.hold_ms),
            "labels": {"severity": self.severity, "alertgroup": self.group},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": options.runbook(self.anchor),
            },
        }


def format_number(value: float) -> str:
    """A threshold as PromQL and people write it: ``3`` not ``3.0``, ``0.8`` as is.

    Example:
        >>> format_number(3.0), format_number(0.8), format_number(1800)
        ('3', '0.8', '1800')
    """
    number = float(value)
    if not math.isfinite(number):
        raise ConfigurationError(f"cannot render the non-finite threshold {value!r}")
    return str(int(number)) if number.is_integer() else repr(number)


def format_duration(milliseconds: int) -> str:
    """A Prometheus duration in the largest whole unit: ``5m``, ``1h``, ``90s``, ``1500ms``.

    Example:
        >>> format_duration(300_000), format_duration(90_000), format_duration(1_500)
        ('5m', '90s', '1500ms')
    """
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    return f"{milliseconds}ms"


def bucket_label(edge: float) -> str:
    """The ``le`` label value of a bucket edge as the exposition writes it (``3.0``).

    Prometheus 2.x does not normalise ``le`` values, so the rule must use the exact text the
    readers emit (OpenMetrics' canonical float form, which both readers use in both formats).
    """
    return repr(float(edge))


def _ms(seconds: float, field: str) -> int:
    milliseconds = round(seconds * 1000)
    if milliseconds <= 0 or not math.isclose(milliseconds, seconds * 1000, abs_tol=1e-6):
        raise ConfigurationError(
            f"Thresholds.{field} must be a whole number of milliseconds, got {seconds!r}"
        )
    return milliseconds


def _cycle_edge(options: OpsOptions, field: str) -> float:
    value = float(getattr(options.thresholds, field))
    if value not in CYCLE_BUCKETS:
        edges = ", ".join(format_number(e) for e in CYCLE_BUCKETS)
        raise ConfigurationError(
            f"Thresholds.{field} = {value!r} is not a bucket edge of "
            f"{options.metric('cycle_duration_seconds')} ({edges}): the cycle-duration rules "
            "count slow cycles from the bucket at the threshold, so it must be one of them"
        )
    return value


def _name(options: OpsOptions, name: str) -> str:
    return catalogue_metric(name).full_name(options.namespace)  # KeyError: not in the catalogue


def _text(seconds: float) -> str:
    if float(seconds).is_integer():
        return format_duration(int(seconds) * 1000)
    return f"{format_number(seconds)}s"


def _percent(ratio: float) -> str:
    return f"{format_number(round(ratio * 100, 6))}%"


def _twins(
    group: str,
    summary: str,
    description: str,
    warning: tuple[str, int, Signal],
    critical: tuple[str, int, Signal],
) -> list[AlertDefinition]:
    """A warning rule and its critical twin: (name, ``for`` in ms, signal) each, same texts.

    ``WINDOW`` in ``description`` becomes the rule's own window (e.g. ``1m``).
    """
    levels: tuple[tuple[Severity, tuple[str, int, Signal]], ...] = (
        ("warning", warning),
        ("critical", critical),
    )
    return [
        AlertDefinition(name, severity, group, hold_ms, signal, summary,
                        description.replace("WINDOW", format_duration(signal.window_ms)))
        for severity, (name, hold_ms, signal) in levels
    ]  # fmt: skip


def _availability_and_risk(options: OpsOptions) -> list[AlertDefinition]:
    t, job = options.thresholds, options.job
    loss, limit = _name(options, "risk_daily_loss"), _name(options, "risk_daily_loss_limit")
    breaker = _name(options, "circuit_breaker_triggered")
    warn, crit = t.daily_loss_warning_ratio, t.daily_loss_critical_ratio
    return [
        AlertDefinition(
            alert_name(EXPORTER_DOWN, options.namespace), "critical", "availability", 60_000,
            Signal("gauge", "up", "==", 0, job),
            "Bot metrics endpoint {{ $labels.instance }} is down",
            "Prometheus has failed to scrape job {{ $labels.job }} at {{ $labels.instance }} "
            "for 1m (up = {{ $value }}): the bot or its telemetry endpoint is down or "
            "unreachable, and every other alert for this bot is blind.",
            template=EXPORTER_DOWN,
        ),
        *_twins(
            "daily_loss",
            "Daily loss at {{ $value | humanizePercentage }} of the limit on "
            "{{ $labels.instance }}",
            "Today's loss is {{ $value | humanizePercentage }} of the daily-loss limit "
            f"(warning above {_percent(warn)}, critical at {_percent(crit)}, where the bot's "
            "guard stops opening risk).",
            ("DailyLossGuardWarn", 10_000,
             Signal("ratio", loss, ">", warn, job, denominator=limit)),
            ("DailyLossGuardCritical", 10_000,
             Signal("ratio", loss, ">=", crit, job, denominator=limit)),
        ),
        AlertDefinition(
            "CircuitBreakerTriggered", "critical", "circuit_breaker", 15_000,
            Signal("gauge", breaker, ">", 0, job),
            "Circuit breaker triggered on {{ $labels.instance }}",
            f"{breaker} = {{{{ $value }}}}: the bot has halted trading. The trip reason is in "
            f"{_name(options, 'circuit_breaker_trips_total')}.",
        ),
    ]  # fmt: skip


def _market_data(options: OpsOptions) -> list[AlertDefinition]:
    t, job = options.thresholds, options.job
    staleness = _name(options, "market_data_staleness_seconds")
    reconnects = _name(options, "websocket_reconnects_total")
    window = _ms(t.ws_reconnects_window_seconds, "ws_reconnects_window_seconds")
    hour = WS_RECONNECTS_WARNING_WINDOW_SECONDS * 1000

    def stale(level: float) -> Signal:
        return Signal("gauge", staleness, ">", level, job, by=("symbol",))

    def reconnected(level: float, window_ms: int) -> Signal:
        return Signal("increase", reconnects, ">=", level, job, by=("stream",), window_ms=window_ms)

    return [
        *_twins(
            "market_data",
            "Market data for {{ $labels.symbol }} is stale on {{ $labels.instance }}",
            "The last mark for {{ $labels.symbol }} is {{ $value | humanizeDuration }} old "
            f"(warning above {_text(t.staleness_warning_seconds)}, critical above "
            f"{_text(t.staleness_critical_seconds)}).",
            ("MarketDataStale", 30_000, stale(t.staleness_warning_seconds)),
            ("MarketDataStaleCritical", 15_000, stale(t.staleness_critical_seconds)),
        ),
        *_twins(
            "websocket",
            "Websocket stream {{ $labels.stream }} keeps reconnecting on {{ $labels.instance }}",
            "{{ $value | humanize }} reconnects of stream {{ $labels.stream }} in the last WINDOW "
            f"(warning at {format_number(t.ws_reconnects_hourly_warning)} in "
            f"{format_duration(hour)}, critical, a reconnect loop, at "
            f"{format_number(t.ws_reconnects_critical)} in {format_duration(window)}).",
            ("WebSocketReconnectsWarn", 60_000,
             reconnected(t.ws_reconnects_hourly_warning, hour)),
            ("WebSocketReconnectLoop", 30_000, reconnected(t.ws_reconnects_critical, window)),
        ),
    ]  # fmt: skip


def _control_loop(options: OpsOptions) -> list[AlertDefinition]:
    t, job = options.thresholds, options.job
    histogram, cycles = _name(options, "cycle_duration_seconds"), _name(options, "cycles_total")
    # More than ``cycle_duration_slow_share`` of the window's cycles slower than the level,
    # counted from the bucket at the level: exact, no histogram_quantile interpolation.
    window = _ms(t.cycle_duration_window_seconds, "cycle_duration_window_seconds")
    share = t.cycle_duration_slow_share
    errors_window = _ms(t.cycle_errors_window_seconds, "cycle_errors_window_seconds")
    warn_edge = _cycle_edge(options, "cycle_duration_warning_seconds")
    crit_edge = _cycle_edge(options, "cycle_duration_critical_seconds")

    def slow(edge: float) -> Signal:
        return Signal("slow_share", histogram, ">", share, job, window_ms=window, bucket=edge)

    def failed(level: float) -> Signal:
        # cycles_total{outcome="error"} exists at 0 from start-up, so increase() sees the first
        # error; cycle_errors_total{error_type} series only appear with their first error.
        return Signal(
            "increase",
            cycles,
            ">=",
            level,
            job,
            matchers=(("outcome", "error"),),
            window_ms=errors_window,
        )

    return [
        *_twins(
            "cycle_duration",
            "Cycles are slow on {{ $labels.instance }}",
            "{{ $value | humanizePercentage }} of the cycles in the last "
            f"{format_duration(window)} took longer than the threshold (warning: more than "
            f"{_percent(share)} slower than {_text(warn_edge)}; critical: more than "
            f"{_percent(share)} slower than {_text(crit_edge)}).",
            ("CycleDurationWarn", 120_000, slow(warn_edge)),
            ("CycleDurationCritical", 60_000, slow(crit_edge)),
        ),
        *_twins(
            "cycle_errors",
            "Cycles failing on {{ $labels.instance }}",
            "{{ $value | humanize }} cycles ended with an exception in the last WINDOW "
            f"(warning at {format_number(t.cycle_errors_warning)}, critical at "
            f"{format_number(t.cycle_errors_critical)}).",
            ("CycleErrorsWarn", 60_000, failed(t.cycle_errors_warning)),
            ("CycleErrorsCritical", 30_000, failed(t.cycle_errors_critical)),
        ),
    ]  # fmt: skip


def _ages(options: OpsOptions) -> list[AlertDefinition]:
    t, job = options.thresholds, options.job
    account = _name(options, "telemetry_account_age_seconds")
    heartbeat = _name(options, "last_cycle_age_seconds")
    return [
        *_twins(
            "account_snapshot",
            "Account snapshot is stale on {{ $labels.instance }}",
            "The last account snapshot is {{ $value | humanizeDuration }} old (warning above "
            f"{_text(t.account_age_warning_seconds)}, critical above "
            f"{_text(t.account_age_critical_seconds)}).",
            ("AccountSnapshotAgeWarn", 60_000,
             Signal("gauge", account, ">", t.account_age_warning_seconds, job)),
            ("AccountSnapshotAgeCritical", 60_000,
             Signal("gauge", account, ">", t.account_age_critical_seconds, job)),
        ),
        *_twins(
            "loop_heartbeat",
            "Control loop is not completing cycles on {{ $labels.instance }}",
            "No cycle has completed for {{ $value | humanizeDuration }} (one is expected every "
            f"{_text(t.expected_cycle_interval_seconds)}; warning above "
            f"{_text(t.heartbeat_warning_seconds)}, critical above "
            f"{_text(t.heartbeat_critical_seconds)}).",
            ("LoopHeartbeatWarn", 15_000,
             Signal("gauge", heartbeat, ">", t.heartbeat_warning_seconds, job)),
            ("LoopHeartbeatCritical", 15_000,
             Signal("gauge", heartbeat, ">", t.heartbeat_critical_seconds, job)),
        ),
    ]  # fmt: skip


def alert_definitions(options: OpsOptions) -> tuple[AlertDefinition, ...]:
    """Every alert for ``options``, in the order of :data:`ALERT_RUNBOOKS`.

    Raises:
        ConfigurationError: a cycle-duration threshold is not a bucket edge of the cycle
            histogram, or a window is not a whole number of milliseconds.

    Example:
        >>> [d.name for d in alert_definitions(OpsOptions())][:2]
        ['TraderExporterDown', 'DailyLossGuardWarn']
    """
    found = {
        d.template or d.name: d
        for d in (
            *_availability_and_risk(options),
            *_market_data(options),
            *_control_loop(options),
            *_ages(options),
        )
    }
    return tuple(found[name] for name, _ in ALERT_RUNBOOKS)


def alert_rules(options: OpsOptions) -> dict[str, Any]:
    """The ``alerts.yml`` document: one rule group per alert group, for ``options``' job.

    Example:
        >>> doc = alert_rules(OpsOptions(namespace="coinbase_trader"))
        >>> doc["groups"][0]["rules"][0]["expr"]
        'up{job="coinbase_trader"} == 0'
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for definition in alert_definitions(options):
        groups.setdefault(definition.group, []).append(definition.rule(options))
    return {
        "groups": [
            {"name": f"{options.namespace}.{group}", "rules": rules}
            for group, rules in groups.items()
        ]
    }
