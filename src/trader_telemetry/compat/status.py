"""The health of one source file: read errors by reason, when its last good content was
written, and one log line per change of state (never one per refresh)."""

from __future__ import annotations

import logging
import threading

__all__ = ["SourceStatus"]

logger = logging.getLogger("trader_telemetry.compat")


class SourceStatus:
    """What the exporter knows about one of its files.

    ``file`` is the label value of ``{ns}_exporter_source_age_seconds{file}`` and
    ``{ns}_exporter_read_errors_total{file,reason}``.

    Example:
        >>> status = SourceStatus("metrics.json", started_at=100.0)
        >>> status.fail("missing")
        >>> status.fail("missing")  # still missing: neither counted nor logged again
        >>> status.errors, status.problem
        ({'missing': 1}, 'missing')
        >>> status.ok(150.0)
        >>> status.age(now=160.0), status.problem
        (10.0, None)
    """

    def __init__(self, file: str, *, started_at: float) -> None:
        self.file = file
        self.problem: str | None = None
        self.errors: dict[str, int] = {}
        #: The modification time (epoch seconds) of the last content read successfully.
        self.good_mtime: float | None = None
        self._started_at = started_at
        self._lock = threading.Lock()

    def ok(self, mtime: float) -> None:
        """The file was read (or found unchanged since a good read) at modification ``mtime``."""
        if self.problem is not None:
            logger.info("%s: readable again (was %s)", self.file, self.problem)
            self.problem = None
        self.good_mtime = mtime

    def fail(self, reason: str, detail: str = "", *, again: bool = False) -> None:
        """The file could not be used for ``reason``. Counted when the state changes, or with
        ``again`` for a new bad version of a file already in that state; logged only when the
        state changes. The last good values keep being served."""
        if reason == self.problem and not again:
            return
        self.count(reason)
        if reason != self.problem:
            suffix = f": {detail}" if detail else ""
            logger.warning(
                "%s: %s%s; serving the last good values",
                self.file,
                reason.replace("_", " "),
                suffix,
            )
            self.problem = reason

    def count(self, reason: str, amount: int = 1) -> None:
        """Count ``amount`` read errors under ``reason`` without a change of state (bad lines)."""
        if amount > 0:
            with self._lock:
                self.errors[reason] = self.errors.get(reason, 0) + amount

    def age(self, now: float) -> float:
        """Seconds since the last good content was written (since start-up before any)."""
        since = self._started_at if self.good_mtime is None else self.good_mtime
        return max(0.0, now - since)

    def error_samples(self) -> list[tuple[tuple[str, ...], float]]:
        """``((file, reason), count)`` for the read-errors counter."""
        with self._lock:
            return [((self.file, reason), float(n)) for reason, n in self.errors.items()]
