"""The file-based exporter: for bots that only write ``metrics.json`` and ``events.jsonl``.

``trader-telemetry serve`` runs a :class:`FileExporter`; see docs/file-exporter.md.
"""

from __future__ import annotations

from .exporter import FileExporter

# The parts of the exporter (breaker, feed, source, status, tail) are internal: import them from
# their modules. Only what docs/api.md documents is exported here.
__all__ = ["FileExporter"]
