"""Injectable time: monotonic seconds for durations and ages, wall seconds for timestamps.

Tests pass a :class:`ManualClock` and move it forward instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "rfc3339"]


def rfc3339(epoch_seconds: float) -> str:
    """UTC RFC 3339 with milliseconds and ``Z``: every timestamp we write.

    Example:
        >>> rfc3339(0)
        '1970-01-01T00:00:00.000Z'
    """
    return (
        datetime.fromtimestamp(epoch_seconds, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@runtime_checkable
class Clock(Protocol):
    """Where the library reads time. Both methods must be cheap and thread-safe."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards (durations, ages)."""
        ...

    def time(self) -> float:
        """Seconds since the Unix epoch, UTC (timestamps in files and JSON)."""
        ...


class SystemClock:
    """The real clocks: :func:`time.perf_counter` and :func:`time.time`.

    ``perf_counter`` is monotonic and has the finest resolution for cycle durations.
    """

    __slots__ = ()

    monotonic = staticmethod(time.perf_counter)
    time = staticmethod(time.time)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to.

    Example:
        >>> clock = ManualClock(wall=1_700_000_000.0)
        >>> clock.advance(2.5)
        >>> clock.monotonic(), clock.time()
        (2.5, 1700000002.5)
    """

    def __init__(self, wall: float = 1_700_000_000.0, monotonic: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._wall = float(wall)
        self._mono = float(monotonic)

    def monotonic(self) -> float:
        return self._mono

    def time(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds`` (a negative value moves them back, for tests
        of a misbehaving clock)."""
        with self._lock:
            self._mono += seconds
            self._wall += seconds

    def sleep(self, seconds: float) -> None:
        """Same as :meth:`advance`: a drop-in for ``time.sleep`` in simulated loops."""
        self.advance(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"ManualClock(wall={self._wall!r}, monotonic={self._mono!r})"
