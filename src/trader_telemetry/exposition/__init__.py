"""The in-process HTTP endpoint: ``/metrics``, ``/metrics.json`` and ``/health``, with optional
TLS and basic auth from a Prometheus exporter-toolkit web config."""

from __future__ import annotations

from .server import MetricsServer, MetricsSource
from .snapshot import build_snapshot
from .webconfig import WebConfig, load_web_config

__all__ = ["MetricsServer", "MetricsSource", "WebConfig", "build_snapshot", "load_web_config"]
