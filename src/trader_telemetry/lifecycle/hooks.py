"""One instance's hooks into its process: the SIGTERM flush, the flush at exit, the at-fork
hook and systemd."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from . import fork
from .exit_flush import ExitFlush
from .sigterm import SigtermFlush
from .systemd import SystemdNotifier, Watchdog, watchdog_interval

__all__ = ["ProcessHooks"]

logger = logging.getLogger("trader_telemetry.lifecycle")


class _Instance(Protocol):
    def shutdown(self, timeout: float = 5.0) -> None: ...
    def _forget_after_fork(self) -> None: ...


class ProcessHooks:
    """Enrolls ``instance`` for the SIGTERM flush (``handle_sigterm``), the flush at exit and
    the at-fork hook, and, where ``NOTIFY_SOCKET`` is set, tells systemd it is ready and pings
    its watchdog while ``progress()`` (the last completed cycle) moves."""

    def __init__(
        self, instance: _Instance, *, handle_sigterm: bool, progress: Callable[[], object]
    ) -> None:
        self._instance = instance
        self._sigterm = handle_sigterm
        if handle_sigterm:
            SigtermFlush.enroll(instance)
        ExitFlush.enroll(instance)
        fork.track(instance)
        self._notifier = SystemdNotifier.from_env()
        self._watchdog: Watchdog | None = None
        if self._notifier is not None:
            self._notifier.notify("READY=1")
            interval = watchdog_interval()
            if interval is not None:
                self._watchdog = Watchdog(self._notifier, interval, progress)
                logger.info(
                    "systemd watchdog: WATCHDOG=1 every %.1f s while cycles complete", interval
                )

    def close(self, timeout: float = 1.0) -> None:
        """Withdraw from the SIGTERM flush and the at-fork hook; stop the pings (idempotent)."""
        if self._sigterm:
            SigtermFlush.withdraw(self._instance)
        ExitFlush.withdraw(self._instance)
        fork.untrack(self._instance)
        if self._watchdog is not None:
            self._watchdog.close(timeout)
            self._watchdog = None
        # No STOPPING=1 here: an instance may be replaced (configure() again) while the process
        # goes on; the SIGTERM flush sends it, when the process really stops.
        self._notifier = None

    def forget(self) -> None:
        """In a forked child: the watchdog thread and the notify socket are the parent's."""
        self._watchdog = None
        self._notifier = None
        self._sigterm = False
