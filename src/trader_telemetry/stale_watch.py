"""Stale-mark incidents from the marks themselves, found off the hot path.

``record_marks`` only stores a timestamp per symbol. :class:`StaleMarkWatch` looks at those
timestamps from a background thread (the events writer's round, every 0.2 s) and writes one
``stale_mark`` event when a symbol's mark age crosses the staleness warning level, then one
``stale_mark_cleared`` event when a fresh mark arrives, so every incident is in ``events.jsonl``
with its start and end even when the bot never calls ``record_stale_mark``. The daily report
reads both (the time each symbol's mark age spent above the warning and critical levels).

Event fields (times are RFC 3339 UTC):

* ``stale_mark``: ``symbol``, ``last_mark`` (the last mark before the gap), ``since`` (when its
  age crossed the level: ``last_mark + threshold_seconds``), ``threshold_seconds``,
  ``source`` = ``"watch"``.
* ``stale_mark_cleared``: the same, plus ``until`` (the fresh mark that ended it; exact to one
  watch round) and ``stale_seconds`` (``until - since``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .clock import rfc3339

__all__ = ["StaleMarkWatch"]

logger = logging.getLogger("trader_telemetry")


class StaleMarkWatch:
    """Turns the age of each symbol's last mark into stale-mark incidents.

    Args:
        marks: symbol -> monotonic time of its last mark (the recorder's own dict, read only).
        warning_seconds: The staleness warning level (``Thresholds.staleness_warning_seconds``).
        monotonic: The clock ``marks`` is in.
        wall_time: Epoch seconds, for the event fields.
        emit: Writes one event (``EventLog.emit``: a queue append).

    Example:
        >>> from trader_telemetry import ManualClock
        >>> clock, marks, events = ManualClock(wall=0.0), {}, []
        >>> watch = StaleMarkWatch(
        ...     marks,
        ...     warning_seconds=10.0,
        ...     monotonic=clock.monotonic,
        ...     wall_time=clock.time,
        ...     emit=lambda *e: events.append(e),
        ... )
        >>> marks["BTC-PERP"] = clock.monotonic()
        >>> clock.advance(12.0)
        >>> watch.check()
        >>> events[0][0], events[0][1]["since"]
        ('stale_mark', '1970-01-01T00:00:10.000Z')
    """

    def __init__(
        self,
        marks: dict[str, float],
        *,
        warning_seconds: float,
        monotonic: Callable[[], float],
        wall_time: Callable[[], float],
        emit: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self._marks = marks
        self._warning = warning_seconds
        self._monotonic = monotonic
        self._wall_time = wall_time
        self._emit = emit
        #: symbol -> the fields of its open incident (and the monotonic mark time that began it).
        self._open: dict[str, tuple[float, dict[str, Any]]] = {}

    @property
    def open_incidents(self) -> list[str]:
        """Symbols stale right now, as of the last :meth:`check`."""
        return sorted(self._open)

    def check(self) -> None:
        """Open an incident per symbol whose age crossed the level, close those with a fresh
        mark. O(symbols); never raises (a failure is logged and the next round retries)."""
        try:
            self._check()
        except Exception:  # runs on the writer thread, which must go on
            logger.warning("trader_telemetry: stale-mark check failed", exc_info=True)

    def _check(self) -> None:
        now, wall = self._monotonic(), self._wall_time()
        for symbol, at in self._marks.copy().items():  # dict.copy: atomic against the bot
            seen = self._open.get(symbol)
            if seen is not None:
                if at == seen[0]:
                    continue  # still stale
                fields = seen[1]
                until = wall - (now - at)  # the fresh mark's wall time
                since = wall - (now - seen[0]) + self._warning
                del self._open[symbol]
                self._emit(
                    "stale_mark_cleared",
                    {**fields, "until": rfc3339(until), "stale_seconds": round(until - since, 3)},
                )
            age = now - at
            if age > self._warning:
                last_mark = wall - age
                fields = {
                    "symbol": symbol,
                    "last_mark": rfc3339(last_mark),
                    "since": rfc3339(last_mark + self._warning),
                    "threshold_seconds": self._warning,
                    "source": "watch",
                }
                self._open[symbol] = (at, fields)
                self._emit("stale_mark", dict(fields))
