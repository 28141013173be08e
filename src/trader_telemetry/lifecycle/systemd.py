"""The systemd notify protocol: ``READY=1``, ``WATCHDOG=1`` and ``STOPPING=1``.

Only where systemd asked for it: ``NOTIFY_SOCKET`` names a unix datagram socket (``@name`` is
in the abstract namespace). With ``Type=notify`` the unit counts as started once the endpoint is
bound (``READY=1``); with ``WatchdogSec=`` systemd sets ``WATCHDOG_USEC`` and restarts the unit
unless ``WATCHDOG=1`` arrives in time. The pings come from a background thread every half
watchdog period, and only when a cycle completed since the previous ping: a hung or dead loop
stops them, a loop halted on its loss limit that still cycles does not. ``STOPPING=1`` goes out
when SIGTERM starts the flush (:mod:`.sigterm`). Nothing here is on the
bot's path, and a failed send is logged at debug level, never raised.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

__all__ = ["SystemdNotifier", "Watchdog"]

logger = logging.getLogger("trader_telemetry.lifecycle")


class SystemdNotifier:
    """Send notify messages to ``NOTIFY_SOCKET``.

    Example:
        >>> SystemdNotifier.from_env({}) is None  # not started by systemd
        True
    """

    def __init__(self, address: str) -> None:
        # "@name": the abstract namespace (a leading NUL byte on the wire).
        self.address = "\0" + address[1:] if address.startswith("@") else address

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier | None:
        """A notifier for ``NOTIFY_SOCKET``, or None when it is not set."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        return cls(address) if address else None

    def notify(self, message: str) -> bool:
        """Send ``message`` (``READY=1`` ...); True when it went out. Never raises or blocks."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(message.encode(), self.address)
        except OSError as exc:
            logger.debug("systemd notify %r to %r failed: %s", message, self.address, exc)
            return False
        return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings: half of ``WATCHDOG_USEC``, or None when there is no watchdog for
    this process (unset, malformed, or ``WATCHDOG_PID`` names another process).

    Example:
        >>> watchdog_interval({"WATCHDOG_USEC": "30000000"})
        15.0
    """
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


class Watchdog:
    """Pings ``WATCHDOG=1`` every ``interval`` seconds while ``progress()`` keeps changing.

    Args:
        notifier: Where the pings go.
        interval: Seconds between checks (half the watchdog period).
        progress: A value that changes when a cycle completes (the last cycle's end).
    """

    def __init__(
        self,
        notifier: SystemdNotifier,
        interval: float,
        progress: Callable[[], object],
    ) -> None:
        self._notifier = notifier
        self._interval = interval
        self._progress = progress
        self._seen = progress()
        self._stop = threading.Event()
        #: Pings sent (tests and the curious).
        self.pings = 0
        self._thread = threading.Thread(
            target=self._run, name="trader-telemetry-watchdog", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                now = self._progress()
                if now != self._seen:
                    self._seen = now
                    if self._notifier.notify("WATCHDOG=1"):
                        self.pings += 1
            except Exception:
                logger.debug("watchdog round failed", exc_info=True)

    def close(self, timeout: float = 1.0) -> None:
        """Stop pinging (idempotent)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
