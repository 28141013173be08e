"""Shared fixtures: an isolated Telemetry with a fake clock, and reading back what it exposes.

Both come from our own pytest plugin, :mod:`trader_telemetry.testing` (the one bot authors use);
``samples`` and ``value`` are re-exported here for the test modules that import them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

import trader_telemetry as tt
from trader_telemetry.testing import Samples, TelemetryProbe, capture, samples, value

from .go_tools import go_tool

__all__ = ["Samples", "require_tool", "samples", "value"]


def require_tool(name: str) -> str:
    """Path of an external tool; under CI=true a missing tool fails instead of skipping."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install prometheus)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def clock() -> tt.ManualClock:
    return tt.ManualClock()


@pytest.fixture
def telemetry(clock: tt.ManualClock) -> Iterator[TelemetryProbe]:
    """The plugin's probe without the endpoint, not installed as the default instance (many
    tests check the default's own behaviour), on the ``clock`` fixture."""
    with capture(namespace="test", serve=False, clock=clock, install=False) as probe:
        yield probe


@pytest.fixture(autouse=True)
def _no_default_instance() -> Iterator[None]:
    """Each test starts and ends without a default instance."""
    tt.reset()
    yield
    tt.reset()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith(("TRADER_TELEMETRY_", "OTEL_")):
            monkeypatch.delenv(var)


@pytest.fixture(params=["promtool-2", "promtool-3"])
def promtool_path(request: pytest.FixtureRequest) -> str:
    """Debian's promtool 2.42, then promtool 3 (built by .ci/go-tools.sh): what the rendered
    rules, their tests and the exposition must pass on both. (Prometheus 3 made range
    selectors left-open, which changes ``increase()`` and ``rate()`` in rule unit tests.)"""
    if request.param == "promtool-2":
        return require_tool("promtool")
    return go_tool("TT_PROMTOOL3")
