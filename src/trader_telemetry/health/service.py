"""Health as the endpoint and the metrics see it: cached reports, one run at a time, state
changes logged once, and the HTTP answer for ``GET /health``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..clock import rfc3339
from .model import HealthReport, HealthStatus
from .registry import HealthCheckRegistry

__all__ = ["HealthService"]

logger = logging.getLogger("trader_telemetry.health")


class HealthService:
    """Runs the registry at most once per ``cache_seconds``; concurrent callers share a run.

    Args:
        registry: The checks.
        cache_seconds: How long a report is served before the checks run again.
        startup_grace_seconds: While this young, an UNKNOWN overall status answers HTTP 200
            (the bot is starting); afterwards 503.
        monotonic: Clock for cache ages and the grace period.
    """

    def __init__(
        self,
        registry: HealthCheckRegistry,
        *,
        cache_seconds: float,
        startup_grace_seconds: float,
        monotonic: Callable[[], float],
    ) -> None:
        self.registry = registry
        self._cache_seconds = cache_seconds
        self._grace = startup_grace_seconds
        self._monotonic = monotonic
        self._started = monotonic()
        self._lock = threading.Lock()
        self._running: threading.Event | None = None
        self._report: HealthReport | None = None
        self._report_at = 0.0
        self._last_status: dict[str, HealthStatus] = {}
        self._closed = False
        #: How many times the checks actually ran (tests and the curious).
        self.runs = 0
        #: Called with (check, before, after, message) when a check's status changes.
        self.on_change: Callable[[str, HealthStatus | None, HealthStatus, str], None] | None = None

    def report(self) -> tuple[HealthReport, float]:
        """The current report and its age in seconds (fresh, cached, or shared with a run that
        was already going)."""
        while True:
            with self._lock:
                now = self._monotonic()
                if self._report is not None and now - self._report_at < self._cache_seconds:
                    return self._report, now - self._report_at
                if self._closed:  # shut down: no check runs (nor starts a thread) any more
                    last = self._report or HealthReport(HealthStatus.UNKNOWN, (), time.time(), 0.0)
                    return last, max(0.0, now - self._report_at)
                running = self._running
                if running is None:
                    running = self._running = threading.Event()
                    leader = True
                else:
                    leader = False
            if not leader:
                running.wait(self.registry.timeout + 5.0)
                with self._lock:
                    if self._report is not None:
                        return self._report, max(0.0, self._monotonic() - self._report_at)
                continue  # the leader failed without a report: try again ourselves
            try:
                report = self.registry.check_all_sync()
                self._note_changes(report)
                with self._lock:
                    self._report, self._report_at = report, self._monotonic()
                    self.runs += 1
                return report, 0.0
            finally:
                with self._lock:
                    self._running = None
                running.set()

    def close(self) -> None:
        """Run no checks from now on; :meth:`report` keeps answering with the last report."""
        with self._lock:
            self._closed = True

    def http_response(self, namespace: str, profile: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON document) for ``GET /health``."""
        report, age = self.report()
        status = report.status
        if status in (HealthStatus.HEALTHY, HealthStatus.DEGRADED):
            code = 200
        elif status is HealthStatus.UNKNOWN:
            code = 200 if self._monotonic() - self._started < self._grace else 503
        else:
            code = 503
        return code, document(report, namespace, profile, age)

    def gauge_values(self) -> dict[str, float]:
        """``{ns}_health_status{check}`` by check (checks in UNKNOWN are not exported)."""
        report, _ = self.report()
        return {
            result.name: float(value)
            for result in report.results
            if (value := result.status.gauge_value) is not None
        }

    def _note_changes(self, report: HealthReport) -> None:
        for result in report.results:
            before = self._last_status.get(result.name)
            if before is result.status:
                continue
            self._last_status[result.name] = result.status
            if self.on_change is not None:
                self.on_change(result.name, before, result.status, result.message)
            if before is None and result.status in (HealthStatus.HEALTHY, HealthStatus.UNKNOWN):
                continue  # a check starting out healthy, or without data yet, is not news
            worse = before is None or result.status.severity > before.severity
            logger.log(
                logging.WARNING if worse else logging.INFO,
                "health check %s: %s -> %s (%s)",
                result.name,
                before.value if before else "none",
                result.status.value,
                result.message,
            )


def document(report: HealthReport, namespace: str, profile: str, age: float) -> dict[str, Any]:
    """The ``/health`` JSON document."""
    return {
        "status": report.status.value,
        "timestamp": rfc3339(report.timestamp),
        "namespace": namespace,
        "profile": profile,
        "summary": report.summary(),
        "checks": [
            {
                "name": r.name,
                "status": r.status.value,
                "message": r.message,
                "details": dict(r.details),
                "timestamp": rfc3339(r.timestamp or time.time()),
                "duration_seconds": r.duration,
            }
            for r in report.results
        ],
        "cached": age > 0,
        "age_seconds": age,
    }
