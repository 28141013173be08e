"""The public surface is pinned: anything added or removed here is an API change."""

from __future__ import annotations

import importlib.metadata

import trader_telemetry as tt


def test_all_is_pinned() -> None:
    assert tt.__all__ == [
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
    assert tt.__all__ == sorted(tt.__all__)


def test_every_exported_name_exists() -> None:
    for name in tt.__all__:
        assert hasattr(tt, name), name


def test_version_comes_from_package_metadata() -> None:
    assert tt.__version__ == importlib.metadata.version("trader_telemetry")
