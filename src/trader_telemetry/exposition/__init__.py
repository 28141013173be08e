"""The in-process HTTP endpoint: ``/metrics``, ``/metrics.json`` and ``/health``, with optional
TLS and basic auth from a Prometheus exporter-toolkit web config."""

from __future__ import annotations

from .server import MetricsServer
from .webconfig import load_web_config

# For serving a source of one's own (docs/security.md); Telemetry builds its endpoint itself.
__all__ = ["MetricsServer", "load_web_config"]
