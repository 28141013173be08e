"""Files beside the metrics: ``events.jsonl`` (what happened) and ``metrics.json`` (how it is
now), written from background threads so the bot never waits on a disk."""

from __future__ import annotations

from .read_stats import ReadStats
from .reader import Event, read_events
from .snapshot_reader import load_metrics_snapshot

# What a tool around the bot reads (docs/api.md). The writers (``writer.EventLog``,
# ``metrics_file.MetricsFile``) belong to Telemetry: import them from their modules.
__all__ = ["Event", "ReadStats", "load_metrics_snapshot", "read_events"]
