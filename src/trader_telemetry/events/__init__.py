"""Files beside the metrics: ``events.jsonl`` (what happened) and ``metrics.json`` (how it is
now), written from background threads so the bot never waits on a disk."""

from __future__ import annotations

from .metrics_file import MetricsFile, write_atomically
from .reader import Event, ReadStats, parse_lines, read_events
from .snapshot_reader import load_metrics_snapshot
from .writer import EventLog

__all__ = [
    "Event",
    "EventLog",
    "MetricsFile",
    "ReadStats",
    "load_metrics_snapshot",
    "parse_lines",
    "read_events",
    "write_atomically",
]
