"""The file-based exporter: for bots that only write ``metrics.json`` and ``events.jsonl``.

``trader-telemetry serve`` runs a :class:`FileExporter`; see docs/file-exporter.md.
"""

from __future__ import annotations

from .breaker import DEFAULT_HOLD_SECONDS, BreakerReplay
from .exporter import FileExporter
from .feed import TelemetryFeed
from .source import MetricsSnapshotSource, Snapshot
from .status import SourceStatus
from .tail import EventsTail, TailRead

__all__ = [
    "DEFAULT_HOLD_SECONDS",
    "BreakerReplay",
    "EventsTail",
    "FileExporter",
    "MetricsSnapshotSource",
    "Snapshot",
    "SourceStatus",
    "TailRead",
    "TelemetryFeed",
]
