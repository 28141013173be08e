"""The public surface is pinned: anything added or removed here is an API change."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from pathlib import Path

import pytest

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


# ------------------------------------------------------------------------------- subpackages
#: Each subpackage exports only what docs/api.md documents; its other names are internal and are
#: imported from the module that defines them.
SUBPACKAGE_ALL = {
    "cli": ["build_parser", "main"],
    "compat": ["FileExporter"],
    "events": ["Event", "ReadStats", "load_metrics_snapshot", "read_events"],
    "lifecycle": [],
    "exposition": ["MetricsServer", "load_web_config"],
    "health": [
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
    ],
    "ops": ["OpsOptions"],
    "readers": ["Exposition", "PrometheusReader"],
    "report": [
        "compute_daily_report",
        "render_html",
        "render_json",
        "render_markdown",
        "render_text",
        "report_svg",
    ],
}

API_PAGE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
PACKAGE = Path(tt.__file__).resolve().parent


def test_every_subpackage_is_pinned() -> None:
    found = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert found == set(SUBPACKAGE_ALL)


@pytest.mark.parametrize("name", sorted(SUBPACKAGE_ALL))
def test_subpackage_all_is_pinned(name: str) -> None:
    module = importlib.import_module(f"trader_telemetry.{name}")
    assert module.__all__ == SUBPACKAGE_ALL[name]
    assert module.__all__ == sorted(module.__all__)
    for member in module.__all__:
        assert hasattr(module, member), member


def _documented(page: str) -> set[str]:
    """``<subpackage>.<name>`` for the API page's ``::: trader_telemetry.<subpackage>.<name>``
    entries, and for its top-level entries (``::: trader_telemetry.<name>``) that a subpackage
    defines (``tt.HealthStatus`` is ``trader_telemetry.health.HealthStatus``)."""
    entries = re.findall(r"^::: trader_telemetry\.(\w+)\.(\w+)$", page, flags=re.MULTILINE)
    documented = {f"{sub}.{member}" for sub, member in entries if sub in SUBPACKAGE_ALL}
    for top in re.findall(r"^::: trader_telemetry\.(\w+)$", page, flags=re.MULTILINE):
        for sub in SUBPACKAGE_ALL:
            module = importlib.import_module(f"trader_telemetry.{sub}")
            if top in module.__all__ and getattr(module, top) is getattr(tt, top):
                documented.add(f"{sub}.{top}")
    return documented


def test_the_api_page_documents_exactly_the_exported_members() -> None:
    exported = {f"{sub}.{member}" for sub, names in SUBPACKAGE_ALL.items() for member in names}
    documented = _documented(API_PAGE.read_text(encoding="utf-8"))
    # The CLI is documented as commands (cli.md), not as Python names.
    assert documented == exported - {"cli.build_parser", "cli.main"}
