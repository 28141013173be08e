"""The process around the bot: SIGTERM, ``fork()`` and the systemd notify socket.

* :mod:`.sigterm`: a bot stopped by SIGTERM (``systemctl stop``, ``docker stop``, Kubernetes)
  flushes its queued events and writes its last ``metrics.json``, then dies of SIGTERM as it
  would have without us; a SIGTERM handler of the bot's own is never replaced.
* :mod:`.exit_flush`: a bot that ends without ``shutdown()`` (main returns, ``sys.exit()``, an
  uncaught exception) still writes its queued events and last ``metrics.json``, within a bound.
* :mod:`.fork`: a child made by ``os.fork()`` lets go of the parent's listening socket and files.
* :mod:`.systemd`: ``READY=1`` once the endpoint is up and ``WATCHDOG=1`` while cycles complete,
  where systemd set ``NOTIFY_SOCKET``.
"""

from __future__ import annotations

# Internal to the library (Telemetry wires it): nothing is exported; import from the modules.
__all__: list[str] = []
