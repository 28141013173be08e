"""Shared fixtures: an isolated Telemetry with a fake clock, and a parser for what it exposes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

import trader_telemetry as tt

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(telemetry: tt.Telemetry) -> Samples:
    """Every sample ``telemetry`` exposes right now, keyed by (sample name, labels)."""
    text = telemetry.render_metrics().body.decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(telemetry: tt.Telemetry, name: str, **labels: str) -> float | None:
    """One sample's value (name without namespace), or None when it is not exposed."""
    full = f"{telemetry.config.namespace}_{name}"
    return samples(telemetry).get((full, frozenset(labels.items())))


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
def telemetry(clock: tt.ManualClock) -> Iterator[tt.Telemetry]:
    instance = tt.Telemetry(namespace="test", serve=False, clock=clock)
    yield instance
    instance.shutdown()


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
