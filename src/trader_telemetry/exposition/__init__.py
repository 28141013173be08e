"""The in-process HTTP endpoint: ``/metrics``, ``/metrics.json`` (and later ``/health``)."""

from __future__ import annotations

from .server import MetricsServer, MetricsSource
from .snapshot import build_snapshot

__all__ = ["MetricsServer", "MetricsSource", "build_snapshot"]
