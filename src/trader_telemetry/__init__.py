"""trader_telemetry: in-process instrumentation for trading bots.

Record through OpenTelemetry meters; serve Prometheus metrics from inside the bot's process.

Example:
    >>> import trader_telemetry as tt
    >>> telemetry = tt.configure(namespace="coinbase_trader", port=0)
    >>> with tt.cycle_timer() as cycle:
    ...     with cycle.phase("fetch_marks"):
    ...         telemetry.record_marks({"BTC-PERP": 97_000.0})
    ...     telemetry.record_account(equity=10_000.0, realized_pnl=25.0)
    >>> tt.shutdown()
"""

from __future__ import annotations

from .catalogue import CATALOGUE, MetricKind, MetricSpec
from .clock import Clock, ManualClock, SystemClock
from .config import ServerLimits, TelemetryConfig, Thresholds
from .cycle import Cycle, CycleTimer, Phase, current_cycle
from .default import (
    configure,
    cycle_timer,
    get_telemetry,
    phase,
    reset,
    shutdown,
    timed_cycle,
)
from .errors import ConfigurationError, EndpointError, PortInUseError, TelemetryError
from .health import (
    HealthCheck,
    HealthCheckRegistry,
    HealthCheckResult,
    HealthReport,
    HealthStatus,
    StaleFillsHealthCheck,
    StaleMarksHealthCheck,
    WebSocketReconnectHealthCheck,
)
from .readers import Exposition, PrometheusReader
from .telemetry import Telemetry
from .tracing import TracingConfig
from .version import __version__

__all__ = [
    "CATALOGUE",
    "Clock",
    "ConfigurationError",
    "Cycle",
    "CycleTimer",
    "EndpointError",
    "Exposition",
    "HealthCheck",
    "HealthCheckRegistry",
    "HealthCheckResult",
    "HealthReport",
    "HealthStatus",
    "ManualClock",
    "MetricKind",
    "MetricSpec",
    "Phase",
    "PortInUseError",
    "PrometheusReader",
    "ServerLimits",
    "StaleFillsHealthCheck",
    "StaleMarksHealthCheck",
    "SystemClock",
    "Telemetry",
    "TelemetryConfig",
    "TelemetryError",
    "Thresholds",
    "TracingConfig",
    "WebSocketReconnectHealthCheck",
    "__version__",
    "configure",
    "current_cycle",
    "cycle_timer",
    "get_telemetry",
    "phase",
    "reset",
    "shutdown",
    "timed_cycle",
]
