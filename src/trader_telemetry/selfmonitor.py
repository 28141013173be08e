"""The library watching itself: rate-limited warnings and the counts behind
``{ns}_telemetry_errors_total`` and ``{ns}_telemetry_rejected_values_total``.

Recording calls never raise into the bot. A bad value is *rejected* (warned, counted, not
recorded); a bug or unexpected state inside the library is a *fault* (logged with its traceback,
counted). Either way at most one log line per kind per ``interval`` seconds reaches the bot's
logs, with the number suppressed since the last one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["SelfMonitor"]

logger = logging.getLogger("trader_telemetry")


class SelfMonitor:
    """Counts rejected values and internal faults; rate-limits what it logs.

    Example:
        >>> from trader_telemetry.clock import ManualClock
        >>> mon = SelfMonitor(ManualClock().monotonic, interval=60.0)
        >>> mon.reject("nan", "equity is NaN")
        >>> mon.rejected
        {'nan': 1}
    """

    def __init__(self, monotonic: Callable[[], float], interval: float) -> None:
        self._monotonic = monotonic
        self._interval = interval
        # Re-entrant: a signal handler that records a bad value may interrupt this very thread
        # inside reject(); it must get in, not wait for itself. Counts are bumped lock-free.
        self._lock = threading.RLock()
        self._next_log: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.errors: dict[str, int] = {}

    def reject(self, reason: str, message: str, *args: object) -> None:
        """Count a rejected value under ``reason`` and warn (rate-limited)."""
        _count(self.rejected, reason)
        with self._lock:
            suppressed = self._claim_log_slot("reject:" + reason)
        if suppressed is not None:
            self._emit(logging.WARNING, message, args, suppressed, exc_info=False)

    def count_error(self, reason: str) -> None:
        """Count an error the caller already logged (an I/O error it reports once)."""
        _count(self.errors, reason)

    def fault(self, reason: str, exc: BaseException | None = None) -> None:
        """Count an internal fault under ``reason`` and log it with its traceback (rate-limited)."""
        _count(self.errors, reason)
        with self._lock:
            suppressed = self._claim_log_slot("fault:" + reason)
        if suppressed is not None:
            message = "trader_telemetry internal fault in %s (the bot is unaffected): %r"
            self._emit(logging.ERROR, message, (reason, exc), suppressed, exc_info=exc)

    def _claim_log_slot(self, key: str) -> int | None:
        """Return how many messages were suppressed if this one may be logged, else None."""
        try:
            now = self._monotonic()
        except Exception:  # noqa: BLE001 - the injected clock is what failed: use the real one
            now = time.monotonic()
        if now < self._next_log.get(key, float("-inf")):
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        self._next_log[key] = now + self._interval
        return self._suppressed.pop(key, 0)

    def _emit(
        self,
        level: int,
        message: str,
        args: tuple[object, ...],
        suppressed: int,
        exc_info: BaseException | bool | None,
    ) -> None:
        if suppressed:
            message += " (%d similar messages suppressed)"
            args = (*args, suppressed)
        # A broken log handler must not reach the bot either.
        with contextlib.suppress(Exception):
            logger.log(level, message, *args, exc_info=exc_info)


def _count(counts: dict[str, int], reason: str) -> None:
    """One more under ``reason``; lock-free (see ``RecordedState.add``)."""
    try:
        counts[reason] += 1
    except KeyError:
        counts[reason] = 1
