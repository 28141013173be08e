"""``metrics.json``: the ``/metrics.json`` snapshot, rewritten atomically on an interval and
on shutdown (temporary file in the same directory, fsync, rename), so a reader never sees a
half-written file, even after the bot was killed mid-write."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["MetricsFile", "write_atomically"]

logger = logging.getLogger("trader_telemetry.events")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class MetricsFile:
    """Writes ``snapshot()`` to ``path`` every ``interval`` seconds from a background thread.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "metrics.json"
        >>> writer = MetricsFile(target, lambda: {"equity": 1.0}, interval=60)
        >>> writer.close()  # writes once more on the way out
        >>> target.read_text().strip()
        '{\\n  "equity": 1.0\\n}'
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        snapshot: Callable[[], dict[str, Any]],
        *,
        interval: float = 10.0,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._snapshot = snapshot
        self._interval = interval
        self._on_error = on_error or (lambda reason: None)
        self._failing = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name="trader-telemetry-metrics-file", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.write()

    def write(self) -> bool:
        """Write the snapshot now; False (logged once, counted) when it could not be written."""
        with self._lock:
            try:
                data = json.dumps(self._snapshot(), indent=2, allow_nan=False).encode() + b"\n"
                write_atomically(self.path, data)
            except (OSError, ValueError) as exc:
                if not self._failing:
                    logger.warning(
                        "trader_telemetry cannot write %s (%s); retrying every %g s",
                        self.path,
                        exc,
                        self._interval,
                    )
                self._failing = True
                self._on_error("metrics_file_io")
                return False
            self._failing = False
            return True

    def close(self, timeout: float = 2.0, *, write_last: bool = True) -> None:
        """Stop the thread and write a last snapshot (idempotent). ``write_last=False`` leaves
        the file as it is: an instance that failed to start must not overwrite the snapshot of
        the instance that holds the port."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout)
        if write_last:
            self.write()
