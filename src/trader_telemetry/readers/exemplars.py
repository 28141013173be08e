"""The latest exemplar of each histogram bucket, kept across collections and formats.

The OTel SDK empties its exemplar reservoirs on every collection, so an exemplar would appear in
exactly one scrape of any format: someone's ``curl`` in text (which cannot show exemplars), or a
second Prometheus, would consume the ones the first Prometheus should have stored. The native
reader therefore folds each collection's exemplars into this store (whatever the format asked),
and an OpenMetrics render shows, per bucket, the newest exemplar seen so far, until a newer one
replaces it.

An exemplar must point at a trace that exists: when the export of a trace fails, its exemplars
are withdrawn (:meth:`ExemplarStore.withdraw`) and never come back.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import HistogramDataPoint

__all__ = ["ExemplarStore"]

#: Trace ids whose export failed, remembered so a later collection cannot bring them back.
_WITHDRAWN_MEMORY = 4096


class ExemplarStore:
    """``(family, label block, bucket index) -> newest exemplar with a trace``; thread-safe.

    Example:
        >>> store = ExemplarStore()
        >>> store.latest("x_seconds", "")
        {}
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str], dict[int, Any]] = {}
        self._withdrawn: set[int] = set()
        self._withdrawn_order: deque[int] = deque()

    def update(self, name: str, labels: str, point: HistogramDataPoint) -> None:
        """Fold the exemplars of one collected point in (newer ones replace older ones)."""
        bounds = point.explicit_bounds
        with self._lock:
            buckets = self._latest.setdefault((name, labels), {})
            for exemplar in point.exemplars:
                trace_id = exemplar.trace_id
                if trace_id is None or exemplar.span_id is None or trace_id in self._withdrawn:
                    continue
                index = _bucket_index(bounds, exemplar.value)
                current = buckets.get(index)
                if current is None or exemplar.time_unix_nano > current.time_unix_nano:
                    buckets[index] = exemplar

    def latest(self, name: str, labels: str) -> dict[int, Any]:
        """Bucket index -> the latest exemplar of that bucket of one series."""
        with self._lock:
            return dict(self._latest.get((name, labels), {}))

    def withdraw(self, trace_ids: Iterable[int]) -> None:
        """Remove every exemplar of these traces (their export failed), now and later."""
        fresh = set(trace_ids) - self._withdrawn
        if not fresh:
            return
        with self._lock:
            for trace_id in fresh:
                self._withdrawn.add(trace_id)
                self._withdrawn_order.append(trace_id)
            while len(self._withdrawn_order) > _WITHDRAWN_MEMORY:
                self._withdrawn.discard(self._withdrawn_order.popleft())
            for buckets in self._latest.values():
                for index in [i for i, e in buckets.items() if e.trace_id in fresh]:
                    del buckets[index]


def _bucket_index(bounds: Sequence[float], value: float) -> int:
    # The first bucket whose upper bound is >= value (le is inclusive); len(bounds) is +Inf.
    return bisect.bisect_left(bounds, value)
