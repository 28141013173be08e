"""What a health check reports: :class:`HealthStatus`, :class:`HealthCheckResult`, the
:class:`HealthCheck` protocol and the combined :class:`HealthReport`."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

__all__ = ["HealthCheck", "HealthCheckResult", "HealthReport", "HealthStatus"]


class HealthStatus(StrEnum):
    """The playbook's statuses, plus UNKNOWN for "no data yet" (never reported healthy).

    Example:
        >>> HealthStatus.worst([HealthStatus.HEALTHY, HealthStatus.DEGRADED])
        <HealthStatus.DEGRADED: 'degraded'>
    """

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"

    @property
    def severity(self) -> int:
        """Order for "the worst": healthy < unknown < degraded < unhealthy."""
        return _SEVERITY[self]

    @property
    def gauge_value(self) -> int | None:
        """``{ns}_health_status``: 0 healthy, 1 degraded, 2 unhealthy; unknown is not exported."""
        return _GAUGE.get(self)

    @classmethod
    def worst(cls, statuses: list[HealthStatus]) -> HealthStatus:
        """The most severe status; UNKNOWN when there is none."""
        return max(statuses, key=lambda s: s.severity) if statuses else cls.UNKNOWN


_SEVERITY = {
    HealthStatus.HEALTHY: 0,
    HealthStatus.UNKNOWN: 1,
    HealthStatus.DEGRADED: 2,
    HealthStatus.UNHEALTHY: 3,
}
_GAUGE = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}


@dataclass(frozen=True, slots=True)
class HealthCheckResult:
    """One check's finding.

    Attributes:
        name: The check's name.
        status: What it found.
        message: One line for a human.
        details: Figures behind the finding (JSON-ready).
        timestamp: Wall time of the finding (epoch seconds).
        duration: Seconds the check took.
    """

    name: str
    status: HealthStatus
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    timestamp: float = 0.0
    duration: float = 0.0


@runtime_checkable
class HealthCheck(Protocol):
    """Anything with a ``name`` and a ``check()`` returning a result (``async def`` or plain).

    A check may also define ``applies() -> bool``: while it returns False the check is left out
    of reports (the built-in checks use it to wait for their first data).
    """

    name: str

    def check(self) -> HealthCheckResult | Awaitable[HealthCheckResult]: ...


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Every check's result and the overall status (the worst)."""

    status: HealthStatus
    results: tuple[HealthCheckResult, ...]
    timestamp: float
    duration: float

    def summary(self) -> dict[str, int]:
        """How many checks are in each status, and the total."""
        counts = {status.value: 0 for status in HealthStatus}
        for result in self.results:
            counts[result.status.value] += 1
        counts["total"] = len(self.results)
        return counts
