"""Incremental reading of a growing ``events.jsonl``: only the bytes appended since the last
read, with rotation (a new inode at the path) and truncation (the file shorter than the offset)
detected.

A line is handed out only once its newline has arrived, so a line the bot is still writing is
never parsed half-written. On rotation the old file is drained to its end first (a writer may
have appended between the last read and the rename); a torn last line there is handed out
without its newline, and the reader counts it as truncated.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from dataclasses import dataclass, field
from typing import BinaryIO

from ..events.bounded_lines import MAX_LINE_BYTES

__all__ = ["EventsTail", "TailRead"]

logger = logging.getLogger("trader_telemetry.compat")

DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class TailRead:
    """What one :meth:`EventsTail.read` produced.

    Attributes:
        lines: Complete lines (each with its newline, except a rotated file's torn last line).
        first_line_number: Line number of ``lines[0]`` in its file (for warnings).
        bytes_read: Bytes read from disk by this call.
        more: The byte budget ran out before the end of the file: call again.
        problem: ``"missing"`` or ``"unreadable"`` when the file could not be read, else None.
        mtime: Modification time of the file read, when it was readable.
        rotated: A new file took the path (the old one was drained first).
        truncated: The file became shorter than what was read: reading restarted at 0.
        oversized: Lines longer than the tail's ``max_line_bytes``, dropped unread.
    """

    lines: list[bytes] = field(default_factory=list)
    first_line_number: int = 1
    bytes_read: int = 0
    more: bool = False
    problem: str | None = None
    mtime: float | None = None
    rotated: bool = False
    truncated: bool = False
    oversized: int = 0


class EventsTail:
    """Follow one events file. Not thread-safe: one reader at a time (the exporter's lock).

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp, "events.jsonl")
        ...     _ = path.write_bytes(b'{"a": 1}\\n{"b"')
        ...     tail = EventsTail(path)
        ...     first = tail.read()
        ...     with path.open("ab") as out:
        ...         _ = out.write(b": 2}\\n")
        ...     second = tail.read()
        ...     tail.close()
        >>> first.lines, second.lines, tail.bytes_read
        ([b'{"a": 1}\\n'], [b'{"b": 2}\\n'], 18)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_line_bytes: int = MAX_LINE_BYTES,
    ):
        self.path = os.fspath(path)
        self.chunk_bytes = chunk_bytes
        #: A longer line is dropped as it streams past (memory stays bounded) and counted.
        self.max_line_bytes = max_line_bytes
        self._skipping = False  # inside a line already longer than max_line_bytes
        #: Bytes read from disk since start-up, over every file that held the path.
        self.bytes_read = 0
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0  # bytes of the current file read so far
        self._lines_done = 0  # complete lines of the current file handed out
        self._partial = b""

    @property
    def offset(self) -> int:
        """Bytes of the current file read so far (handed-out lines plus a pending partial)."""
        return self._offset

    def read(self, max_bytes: int | None = None) -> TailRead:
        """The complete lines appended since the last call, reading at most ``max_bytes``
        (default: one chunk)."""
        budget = self.chunk_bytes if max_bytes is None else max(1, max_bytes)
        result = TailRead()
        try:
            st: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            st = None
        except OSError:
            result.problem = "unreadable"
            return result
        if self._file is not None:
            if st is None or (st.st_dev, st.st_ino) != self._identity:
                if self._drain(result, budget):
                    return result  # budget spent on the old file; continue next call
                result.rotated = True
            elif st.st_size < self._offset:
                logger.info(
                    "%s: truncated (%d bytes, %d read): reading it again from the start",
                    self.path,
                    st.st_size,
                    self._offset,
                )
                self._file.seek(0)
                self._restart()
                result.truncated = True
        if st is None:
            result.problem = "missing"
            return result
        if self._file is None and not self._open(result):
            return result
        result.mtime = st.st_mtime
        self._read_into(result, budget - result.bytes_read)
        return result

    def close(self) -> None:
        """Close the file held open (the next read reopens the path from its start)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._identity = None

    # ------------------------------------------------------------------ internals
    def _open(self, result: TailRead) -> bool:
        try:
            file = open(self.path, "rb")  # noqa: SIM115 - held open across reads, closed in close()
        except FileNotFoundError:
            result.problem = "missing"
            return False
        except OSError:
            result.problem = "unreadable"
            return False
        try:
            st = os.fstat(file.fileno())
            if not stat.S_ISREG(st.st_mode):
                file.close()
                result.problem = "unreadable"
                return False
        except OSError:
            file.close()
            result.problem = "unreadable"
            return False
        self._file = file
        self._identity = (st.st_dev, st.st_ino)
        self._restart()
        return True

    def _restart(self) -> None:
        self._offset = 0
        self._lines_done = 0
        self._partial = b""
        self._skipping = False

    def _drain(self, result: TailRead, budget: int) -> bool:
        """Read what is left of the file that no longer holds the path; True when the budget
        ran out first (the old file stays open for the next call)."""
        self._read_into(result, budget)
        if result.more:
            return True
        if self._skipping:
            result.oversized += 1
            self._lines_done += 1
            self._skipping = False
        if self._partial:  # torn last line: hand it out without a newline (counted by the reader)
            result.lines.append(self._partial)
            self._partial = b""
        logger.info("%s: rotated (%d bytes read from the old file)", self.path, self._offset)
        self.close()
        return False

    def _read_into(self, result: TailRead, budget: int) -> None:
        file = self._file
        if file is None or budget <= 0:
            result.more = budget <= 0
            return
        try:
            data = file.read(budget)
        except OSError:
            result.problem = "unreadable"
            return
        size = len(data)
        self._offset += size
        self.bytes_read += size
        result.bytes_read += size
        result.more = size == budget
        if not data:
            return
        cut = data.rfind(b"\n") + 1
        if self._skipping:  # the rest of an oversized line: drop it up to its newline
            if not cut:
                return
            first = data.find(b"\n") + 1
            result.oversized += 1
            self._lines_done += 1
            self._skipping = False
            data, cut = data[first:], cut - first
        limit = self.max_line_bytes
        if not cut:
            if len(self._partial) + len(data) > limit:
                self._partial, self._skipping = b"", True
            else:
                self._partial += data  # bounded by max_line_bytes: never a quadratic copy
            return
        buffer = self._partial + data[:cut] if self._partial else data[:cut]
        self._partial = data[cut:]
        if len(self._partial) > limit:
            self._partial, self._skipping = b"", True
        # BytesIO splits on b"\n" only and keeps it (bytes.splitlines would also split on
        # a raw \r), in C.
        lines = io.BytesIO(buffer).readlines()
        if len(buffer) > limit and max(map(len, lines)) > limit:
            kept = [line for line in lines if len(line) <= limit]
            result.oversized += len(lines) - len(kept)
            self._lines_done += len(lines) - len(kept)
            lines = kept
        if not result.lines:
            result.first_line_number = self._lines_done + 1
        result.lines.extend(lines)
        self._lines_done += len(lines)
