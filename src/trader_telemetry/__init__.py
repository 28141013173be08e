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

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names below are imported on first use: see __getattr__
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

#: Where each public name lives. ``import trader_telemetry`` imports none of them: a module is
#: imported when one of its names is first used (``tt.configure``, ``from trader_telemetry import
#: Telemetry``), so a process that only has the package installed (the pytest plugin, a CLI
#: command) does not pay for the OTel SDK, and tracing or the upstream reader load only when
#: asked for.
_HOMES = {
    "CATALOGUE": "catalogue",
    "MetricKind": "catalogue",
    "MetricSpec": "catalogue",
    "Clock": "clock",
    "ManualClock": "clock",
    "SystemClock": "clock",
    "ServerLimits": "config",
    "TelemetryConfig": "config",
    "Thresholds": "config",
    "Cycle": "cycle",
    "CycleTimer": "cycle",
    "Phase": "cycle",
    "current_cycle": "cycle",
    "configure": "default",
    "cycle_timer": "default",
    "get_telemetry": "default",
    "phase": "default",
    "reset": "default",
    "shutdown": "default",
    "timed_cycle": "default",
    "ConfigurationError": "errors",
    "EndpointError": "errors",
    "PortInUseError": "errors",
    "TelemetryError": "errors",
    "HealthCheck": "health",
    "HealthCheckRegistry": "health",
    "HealthCheckResult": "health",
    "HealthReport": "health",
    "HealthStatus": "health",
    "StaleFillsHealthCheck": "health",
    "StaleMarksHealthCheck": "health",
    "WebSocketReconnectHealthCheck": "health",
    "Exposition": "readers",
    "PrometheusReader": "readers",
    "Telemetry": "telemetry",
    "TracingConfig": "tracing",
}


def __getattr__(name: str) -> object:
    """A public name on first use: import its module, keep the name here for the next time."""
    if name == "__version__":
        from .version import package_version  # noqa: PLC0415

        value: object = package_version()
    elif (home := _HOMES.get(name)) is not None:
        value = getattr(importlib.import_module(f".{home}", __name__), name)
    elif name in _HOMES.values():
        # ``tt.health``, ``tt.config`` ...: modules this package used to import eagerly, still
        # reachable as attributes.
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
