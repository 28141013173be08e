"""A counter whose increment takes no lock.

An increment is one ``deque.append`` (atomic in CPython, about 20 ns); reading folds the pending
increments into the total under a lock that only readers take. The loop thread's once-per-cycle
count costs a fifth of a ``threading.Lock`` round trip (about 115 ns), with no lost updates when
several threads count at once.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["Tally"]


class Tally:
    """Count with :meth:`add`; read with :attr:`value`.

    The hottest caller (the cycle timer) appends to :attr:`pending` directly and calls
    :meth:`fold` every few thousand counts, so memory stays bounded even when nobody reads.

    Example:
        >>> tally = Tally()
        >>> for _ in range(3):
        ...     tally.add()
        >>> tally.value
        3
    """

    __slots__ = ("_lock", "_total", "pending")

    def __init__(self) -> None:
        #: One ``None`` per increment not yet folded into the total.
        self.pending: deque[None] = deque()
        self._total = 0
        # Re-entrant: the loop thread folds now and then, and a signal handler running a cycle
        # on that thread may fold too, while the first fold holds the lock.
        self._lock = threading.RLock()

    def add(self) -> None:
        """Count one."""
        self.pending.append(None)

    def add_many(self, amount: int) -> None:
        """Count ``amount`` at once (a replayed backlog)."""
        if amount > 0:
            with self._lock:
                self._total += amount

    @property
    def value(self) -> int:
        """The count so far (every :meth:`add` that has returned is included)."""
        return self.fold()

    def fold(self) -> int:
        """Move the pending increments into the total; return the total."""
        with self._lock:
            pending = self.pending
            # Only folders pop: each popleft removes one increment that is then counted once,
            # while writers keep appending. A fold nested in this one (a signal handler on the
            # same thread) may empty the deque first: stop then.
            for _ in range(len(pending)):
                try:
                    pending.popleft()
                except IndexError:
                    break
                self._total += 1
            return self._total
