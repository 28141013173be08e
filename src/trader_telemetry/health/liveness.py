"""Liveness: is the control loop alive? The answer of ``GET /livez``, apart from readiness.

Only two figures decide it, both about the loop itself: how long ago a cycle last completed (the
heartbeat) and how long the running cycle has been going. A daily-loss halt, a tripped circuit
breaker, stale marks or an old account snapshot never make a bot "not live": restarting it
would not fix them and may do harm. Those are readiness (``GET /readyz``, as ``/health``).

The figures are read straight from the recorded state: no check registry, no thread, no cache,
so a probe costs microseconds and answers even while a slow health check hangs.
"""

from __future__ import annotations

import time
from typing import Any

from ..clock import Clock
from ..config import Thresholds
from ..state import RecordedState
from .checks import ThresholdCheck
from .model import HealthReport, HealthStatus
from .service import document

__all__ = ["Liveness"]


class Liveness:
    """The loop heartbeat and the running cycle's age against the heartbeat thresholds.

    Before the first cycle completes, the heartbeat counts from the start, so a loop that never
    gets going is "not live" once the critical level has passed.

    Example:
        >>> import trader_telemetry as tt
        >>> telemetry = tt.Telemetry(serve=False)
        >>> code, body = telemetry.liveness_response()
        >>> code, body["status"], [check["name"] for check in body["checks"]]
        (200, 'healthy', ['loop_heartbeat', 'cycle_in_progress'])
        >>> telemetry.shutdown()
    """

    def __init__(self, state: RecordedState, clock: Clock, thresholds: Thresholds) -> None:
        self._state = state
        self._clock = clock
        warning = thresholds.heartbeat_warning_seconds
        critical = thresholds.heartbeat_critical_seconds
        self._checks = (
            ThresholdCheck(
                "loop_heartbeat",
                self._heartbeat_age,
                warning,
                critical,
                lambda age: f"last cycle completed {age:.1f} s ago",
            ),
            ThresholdCheck(
                "cycle_in_progress",
                self._in_progress_age,
                warning,
                critical,
                lambda age: "no cycle running" if age == 0 else f"cycle running for {age:.1f} s",
            ),
        )

    def _heartbeat_age(self) -> float:
        state = self._state
        since = (
            state.last_cycle_end if state.last_cycle_end is not None else state.started_monotonic
        )
        return max(0.0, self._clock.monotonic() - since)

    def _in_progress_age(self) -> float:
        start = self._state.oldest_running_start()
        return 0.0 if start is None else max(0.0, self._clock.monotonic() - start)

    def report(self) -> HealthReport:
        """Both findings; overall unhealthy when either is past its critical level."""
        started = time.perf_counter()
        results = tuple(check.check() for check in self._checks)
        return HealthReport(
            HealthStatus.worst([result.status for result in results]),
            results,
            self._clock.time(),
            time.perf_counter() - started,
        )

    def http_response(self, namespace: str, profile: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON document) of ``GET /livez``: 503 only when the loop is dead or
        hung (unhealthy), 200 otherwise (a slow heartbeat is degraded, still live)."""
        report = self.report()
        code = 503 if report.status is HealthStatus.UNHEALTHY else 200
        return code, document(report, namespace, profile, 0.0)
