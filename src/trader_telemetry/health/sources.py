"""Health checks fed by what the bot already recorded through the Telemetry API.

The adapters give the playbook's checks the facts they need (mark ages, reconnects) from
:class:`~trader_telemetry.state.RecordedState`; :func:`builtin_checks` adds the loop heartbeat
(the hung-loop detector), the account snapshot age, the daily loss against its limit and the
circuit breaker, with levels from the one :class:`~trader_telemetry.Thresholds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from ..clock import Clock
from ..config import Thresholds
from ..state import RecordedState
from .checks import StaleMarksHealthCheck, ThresholdCheck, WebSocketReconnectHealthCheck
from .model import HealthCheck, HealthCheckResult, HealthStatus

__all__ = ["TelemetryMarketData", "TelemetryWebSocketStats", "builtin_checks"]


class TelemetryMarketData:
    """Mark ages from ``record_mark``/``record_marks`` (a :class:`MarketDataSource`)."""

    def __init__(self, state: RecordedState, clock: Clock) -> None:
        self._state = state
        self._clock = clock

    def mark_ages(self) -> Mapping[str, float]:
        return self._state.staleness(self._clock.monotonic())


class TelemetryWebSocketStats:
    """Reconnects from ``record_ws_reconnect`` (a :class:`WebSocketStats`); connection state is
    not recorded, so ``is_connected`` is None."""

    def __init__(self, state: RecordedState, clock: Clock) -> None:
        self._state = state
        self._clock = clock

    def reconnects_in_last(self, seconds: float) -> int:
        now = self._clock.monotonic()
        return sum(1 for at in self._state.ws_reconnect_times.copy() if now - at <= seconds)

    def is_connected(self) -> bool | None:
        return None


class CircuitBreakerCheck:
    """Tripped: DEGRADED, not UNHEALTHY: the bot stopped trading as designed, and an orchestrator
    must not restart it for that."""

    name = "circuit_breaker"

    def __init__(self, state: RecordedState) -> None:
        self._state = state

    def check(self) -> HealthCheckResult:
        if self._state.breaker_triggered:
            reason = self._state.breaker_reason or "unspecified"
            return HealthCheckResult(
                self.name,
                HealthStatus.DEGRADED,
                f"circuit breaker triggered ({reason}): trading halted",
                {"triggered": True, "reason": reason},
                time.time(),
            )
        return HealthCheckResult(
            self.name,
            HealthStatus.HEALTHY,
            "circuit breaker closed",
            {"triggered": False},
            time.time(),
        )


def builtin_checks(state: RecordedState, clock: Clock, thresholds: Thresholds) -> list[HealthCheck]:
    """The checks every Telemetry registers. Those over a figure the bot has never recorded
    (account, daily loss, marks) stay out of reports until it records one."""

    def since_start() -> float:
        return max(0.0, clock.monotonic() - state.started_monotonic)

    def heartbeat_age() -> float | None:
        if state.last_cycle_end is not None:
            return max(0.0, clock.monotonic() - state.last_cycle_end)
        age = since_start()
        # No cycle has completed yet: unknown, unless the first one is already overdue.
        return age if age > thresholds.heartbeat_warning_seconds else None

    def account_age() -> float | None:
        at = state.account.recorded_monotonic
        return None if at is None else max(0.0, clock.monotonic() - at)

    def loss_ratio() -> float | None:
        loss, limit = state.daily_loss, state.daily_loss_limit
        return None if loss is None or not limit else loss / limit

    heartbeat = ThresholdCheck(
        "loop_heartbeat",
        heartbeat_age,
        thresholds.heartbeat_warning_seconds,
        thresholds.heartbeat_critical_seconds,
        lambda age: f"last cycle completed {age:.1f} s ago",
        unknown_message="no cycle has completed yet",
    )
    account = ThresholdCheck(
        "account_snapshot_age",
        account_age,
        thresholds.account_age_warning_seconds,
        thresholds.account_age_critical_seconds,
        lambda age: f"last account snapshot {age:.0f} s ago",
        applies=lambda: state.account.recorded_monotonic is not None,
    )
    daily_loss = ThresholdCheck(
        "daily_loss",
        loss_ratio,
        thresholds.daily_loss_warning_ratio,
        thresholds.daily_loss_critical_ratio,
        lambda ratio: f"daily loss at {ratio:.0%} of its limit",
        applies=lambda: state.daily_loss is not None and bool(state.daily_loss_limit),
    )
    marks = StaleMarksHealthCheck(
        TelemetryMarketData(state, clock), thresholds.staleness_critical_seconds
    )
    marks_check = _Applying(marks, lambda: bool(state.marks))
    websocket = WebSocketReconnectHealthCheck.from_thresholds(
        TelemetryWebSocketStats(state, clock), thresholds
    )
    return [heartbeat, account, daily_loss, marks_check, CircuitBreakerCheck(state), websocket]


class _Applying:
    """A check that joins reports only once ``applies()`` holds."""

    def __init__(self, inner: StaleMarksHealthCheck, applies: Callable[[], bool]) -> None:
        self._inner = inner
        self.name = inner.name
        self.applies = applies

    def check(self) -> HealthCheckResult:
        return self._inner.check()
