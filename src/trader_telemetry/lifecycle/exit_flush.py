"""Flush at interpreter exit.

A bot that ends without calling ``shutdown()`` (its main returns, it calls ``sys.exit()``, an
exception escapes it) would lose what the writer threads have not written yet: they are daemon
threads, stopped where they stand when the interpreter finalises, so the queued events, the
crash's own last events among them, and the last ``metrics.json`` never reached the disk. At
exit, after the bot's own non-daemon threads have ended and before the daemon ones stop, every
instance still open is shut down within :data:`FLUSH_SECONDS`, all together. An instance the bot
shut down itself is not touched again.

The providers the library creates have OpenTelemetry's own exit hooks off
(``shutdown_on_exit=False``): they would wait on a collector that hangs once more, for the whole
export timeout, after the bounded shutdown (19.7 s measured at exit with a hung collector and no
``shutdown()`` call, 4.6 s after a ``shutdown(timeout=1.0)`` that had returned).
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from typing import ClassVar, Protocol

from .sigterm import FLUSH_SECONDS

__all__ = ["FLUSH_SECONDS", "ExitFlush"]

logger = logging.getLogger("trader_telemetry.lifecycle")


class _Stoppable(Protocol):
    def shutdown(self, timeout: float = 5.0) -> None: ...


class ExitFlush:
    """The instances to shut down at exit; the ``atexit`` hook is registered once, on the first.

    Example:
        >>> import trader_telemetry as tt
        >>> telemetry = tt.Telemetry(serve=False)
        >>> telemetry in ExitFlush.live()
        True
        >>> telemetry.shutdown()
        >>> telemetry in ExitFlush.live()
        False
    """

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _live: ClassVar[weakref.WeakSet[_Stoppable]] = weakref.WeakSet()
    _registered: ClassVar[bool] = False

    @classmethod
    def enroll(cls, instance: _Stoppable) -> None:
        with cls._lock:
            cls._live.add(instance)
            if not cls._registered:
                atexit.register(flush_at_exit)
                cls._registered = True

    @classmethod
    def withdraw(cls, instance: _Stoppable) -> None:
        with cls._lock:
            cls._live.discard(instance)

    @classmethod
    def forget_all(cls) -> None:
        """In a forked child: the parent's instances are not the child's to flush."""
        cls._live = weakref.WeakSet()
        cls._lock = threading.Lock()  # the parent may have held it across fork()

    @classmethod
    def live(cls) -> list[_Stoppable]:
        return list(cls._live)


def flush_at_exit() -> None:
    """The ``atexit`` hook: shut every open instance down within :data:`FLUSH_SECONDS`."""
    instances = ExitFlush.live()
    if not instances:
        return
    share = FLUSH_SECONDS / len(instances)
    for instance in instances:
        try:
            instance.shutdown(share)
        except Exception:
            logger.exception("flushing telemetry at exit failed")
