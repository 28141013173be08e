"""Flush on SIGTERM, then die of SIGTERM.

Python's default action for SIGTERM ends the process at once: the events still queued for the
writer thread and the last ``metrics.json`` are lost. With ``handle_sigterm=True`` (the
default) the first :class:`~trader_telemetry.Telemetry` built in the main thread, while the
SIGTERM disposition is still ``SIG_DFL``, installs :func:`_on_sigterm`. On the signal it shuts
every live instance down within a bounded time, restores ``SIG_DFL`` and sends itself SIGTERM
again: the exit status is the one a supervisor expects (-15, "killed by SIGTERM").

The bot keeps control: a handler the bot installed first is left alone (nothing is
installed), and a handler it installs later simply replaces ours. When the last instance shuts
down, ``SIG_DFL`` comes back if ours is still the handler.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import weakref
from types import FrameType
from typing import ClassVar, Protocol

from .systemd import SystemdNotifier

__all__ = ["SigtermFlush"]

logger = logging.getLogger("trader_telemetry.lifecycle")

#: Seconds the handler gives every live instance to flush, all together.
FLUSH_SECONDS = 5.0


class _Stoppable(Protocol):
    def shutdown(self, timeout: float = 5.0) -> None: ...


class SigtermFlush:
    """The instances to flush on SIGTERM, and the handler's installation (one per process).

    Example:
        >>> import trader_telemetry as tt
        >>> telemetry = tt.Telemetry(serve=False)  # handle_sigterm=True: enrolled
        >>> SigtermFlush.installed()
        True
        >>> telemetry.shutdown()  # the last one: SIG_DFL is back
        >>> SigtermFlush.installed()
        False
    """

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _live: ClassVar[weakref.WeakSet[_Stoppable]] = weakref.WeakSet()

    @classmethod
    def enroll(cls, instance: _Stoppable) -> None:
        """Flush ``instance`` on SIGTERM; install the handler if nobody else has one."""
        with cls._lock:
            cls._live.add(instance)
            if threading.current_thread() is not threading.main_thread():
                if not cls.installed():
                    logger.debug("not in the main thread: no SIGTERM handler installed")
                return
            try:
                if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                    signal.signal(signal.SIGTERM, _on_sigterm)
            except (ValueError, OSError) as exc:  # an embedded interpreter may refuse
                logger.debug("cannot install a SIGTERM handler: %s", exc)

    @classmethod
    def withdraw(cls, instance: _Stoppable) -> None:
        """Forget ``instance``; the last one out puts ``SIG_DFL`` back if ours is installed."""
        with cls._lock:
            cls._live.discard(instance)
            if cls._live or threading.current_thread() is not threading.main_thread():
                return
            if cls.installed():
                with contextlib.suppress(ValueError, OSError):
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    @classmethod
    def forget_all(cls) -> None:
        """In a forked child: nothing of the parent's is ours to flush."""
        cls._live = weakref.WeakSet()
        cls._lock = threading.Lock()  # the parent may have held it across fork()
        if cls.installed():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGTERM, signal.SIG_DFL)

    @staticmethod
    def installed() -> bool:
        """True while our handler is the process's SIGTERM handler."""
        return signal.getsignal(signal.SIGTERM) is _on_sigterm

    @classmethod
    def live(cls) -> list[_Stoppable]:
        return list(cls._live)


def _flush_all(instances: list[_Stoppable], timeout: float) -> None:
    share = timeout / max(1, len(instances))
    for instance in instances:
        try:
            instance.shutdown(share)
        except Exception:
            logger.exception("flushing telemetry on SIGTERM failed")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Flush every live instance (bounded), then die of SIGTERM as the default action would."""
    # A second SIGTERM while flushing ends the process at once (the default action again).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    notifier = SystemdNotifier.from_env()
    if notifier is not None:
        notifier.notify("STOPPING=1")
    instances = SigtermFlush.live()
    logger.info("SIGTERM: flushing %d telemetry instance(s) before exiting", len(instances))
    # On a thread of its own: the signal may have interrupted the main thread inside a
    # recording call holding a lock the flush needs; the join bounds the wait either way.
    flusher = threading.Thread(
        target=_flush_all,
        args=(instances, FLUSH_SECONDS),
        name="trader-telemetry-sigterm",
        daemon=True,
    )
    flusher.start()
    flusher.join(FLUSH_SECONDS + 1.0)
    os.kill(os.getpid(), signal.SIGTERM)
