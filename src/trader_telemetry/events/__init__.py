"""Files beside the metrics: ``events.jsonl`` (what happened) and ``metrics.json`` (how it is
now), written from background threads so the bot never waits on a disk."""

from __future__ import annotations

from .metrics_file import MetricsFile, write_atomically
from .writer import EventLog

__all__ = ["EventLog", "MetricsFile", "write_atomically"]
