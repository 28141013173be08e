"""Health checks: the registry, the playbook's checks, and checks fed by recorded telemetry.

Example:
    >>> import trader_telemetry as tt
    >>> telemetry = tt.Telemetry(serve=False)
    >>> telemetry.health_report().status  # no cycle yet: never reported healthy
    <HealthStatus.UNKNOWN: 'unknown'>
    >>> telemetry.shutdown()
"""

from __future__ import annotations

from .checks import (
    MarketDataSource,
    OrdersStore,
    StaleFillsHealthCheck,
    StaleMarksHealthCheck,
    WebSocketReconnectHealthCheck,
    WebSocketStats,
)
from .model import HealthCheck, HealthCheckResult, HealthReport, HealthStatus
from .registry import HealthCheckRegistry

__all__ = [
    "HealthCheck",
    "HealthCheckRegistry",
    "HealthCheckResult",
    "HealthReport",
    "HealthStatus",
    "MarketDataSource",
    "OrdersStore",
    "StaleFillsHealthCheck",
    "StaleMarksHealthCheck",
    "WebSocketReconnectHealthCheck",
    "WebSocketStats",
]
