"""``metrics.json`` as a source: re-read only when the file changed (inode, size or mtime),
normalised by the tolerant reader, and never half-used.

A file replaced while it was being read is read again; a missing, unreadable or corrupt file
leaves the last good document in place and is reported through its :class:`SourceStatus`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..events import load_metrics_snapshot
from .status import SourceStatus

__all__ = ["MetricsSnapshotSource", "Snapshot", "parse_time"]

Loader = Callable[[str], "dict[str, Any] | None"]
_ATTEMPTS = 3  # reads of a file that keeps changing underneath before waiting for next refresh


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One good version of ``metrics.json``.

    Attributes:
        document: The normalised document (see ``load_metrics_snapshot``).
        mtime: The file's modification time, epoch seconds.
        taken_at: When the bot built it: its ``timestamp`` field, else ``mtime``.
    """

    document: dict[str, Any]
    mtime: float
    taken_at: float


def parse_time(value: object) -> float | None:
    """Epoch seconds of an ISO 8601 timestamp (naive means UTC), or None.

    Example:
        >>> parse_time("1970-01-01T00:01:00.000Z"), parse_time("soon")
        (60.0, None)
    """
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class MetricsSnapshotSource:
    """Polls one ``metrics.json``.

    Args:
        path: The file.
        status: Where its read errors and age are kept.
        loader: Reads and normalises the file (the tolerant reader's ``load_metrics_snapshot``;
            tests inject one that replaces the file mid-read).

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp, "metrics.json")
        ...     _ = path.write_text('{"equity": 5.0}')
        ...     source = MetricsSnapshotSource(path, SourceStatus("metrics.json", started_at=0))
        ...     first, second = source.poll(), source.poll()
        >>> first.document["account_snapshot"]["equity"], second
        (5.0, None)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        status: SourceStatus,
        *,
        loader: Loader = load_metrics_snapshot,
    ) -> None:
        self.path = os.fspath(path)
        self.status = status
        self._load = loader
        self._seen: tuple[int, int, int, int] | None = None
        self._seen_good = False
        #: Times the file's content was read and parsed (unchanged files are not re-read).
        self.reads = 0

    def poll(self) -> Snapshot | None:
        """A new good version of the file, or None (unchanged, or unusable: see ``status``)."""
        for _ in range(_ATTEMPTS):
            before = self._stat()
            if before is None:
                return None
            signature = _signature(before)
            if signature == self._seen:
                if self._seen_good:
                    self.status.ok(before.st_mtime)  # back after a missing spell, unchanged
                return None
            document = self._load(self.path)
            self.reads += 1
            try:
                after: tuple[int, int, int, int] | None = _signature(os.stat(self.path))
            except OSError:
                after = None
            if after != signature:
                continue  # replaced or rewritten while we read it: what we read may be either
            self._seen = signature
            self._seen_good = document is not None
            if document is None:
                self._report_bad()
                return None
            self.status.ok(before.st_mtime)
            taken_at = parse_time(document.get("timestamp"))
            return Snapshot(
                document, before.st_mtime, before.st_mtime if taken_at is None else taken_at
            )
        return None  # still changing: the next refresh reads the settled file

    def _stat(self) -> os.stat_result | None:
        """The file's status, or None after reporting why it cannot be read."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.status.fail("missing")
            return None
        except OSError as exc:
            self.status.fail("unreadable", exc.strerror or "")
            return None
        if not stat.S_ISREG(st.st_mode):
            self.status.fail("unreadable", "not a regular file")
            return None
        return st

    def _report_bad(self) -> None:
        try:
            with open(self.path, "rb"):
                pass
        except OSError as exc:
            self.status.fail("unreadable", exc.strerror or "", again=True)
            return
        self.status.fail("corrupt", "not a JSON object (half-written?)", again=True)


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
