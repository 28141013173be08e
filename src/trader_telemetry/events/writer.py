"""``events.jsonl``: one JSON object per line, appended from a background thread.

The bot's call (:meth:`EventLog.emit`) only appends a tuple to an in-memory queue; formatting
and I/O happen on the writer thread. A full queue drops the newest event and counts it; an I/O
error (read-only directory, disk full) is logged once, counted, and the batch is retried on the
next round. Each batch is written with one ``write`` of whole lines, so a line is complete or
absent (a process killed mid-write can leave only the last line torn; readers skip it).

Each event is encoded on its own: one that cannot be (a tuple or bytes key, a ``__str__`` that
raises, a circular structure) is dropped and counted as ``unencodable``, the rest of its batch
is written, and the writer thread carries on whatever an event or a callback raises. Events
still unwritten when :meth:`EventLog.close` gives up (a failing disk at shutdown, a writer
stuck past the timeout) are counted as dropped too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..clock import rfc3339

__all__ = ["RESERVED_FIELDS", "EventLog", "rename_reserved"]

logger = logging.getLogger("trader_telemetry.events")

_Item = tuple[float, str, dict[str, Any]]

#: Envelope names an event's own fields cannot take: such a field is written as ``field_NAME``.
RESERVED_FIELDS = ("timestamp", "event_type")
_WARN_INTERVAL = 60.0  # seconds between two warnings about unencodable events
# Lines per write: a round that finds a long backlog writes as it goes, so the first lines
# reach the file early (and a process killed mid-round loses less).
_CHUNK_LINES = 2048


def _ends_with_newline(path: Path) -> bool:
    """Whether the (non-empty) file at ``path`` ends with a newline."""
    with path.open("rb") as tail:
        tail.seek(-1, os.SEEK_END)
        return tail.read(1) == b"\n"


def _json_default(value: Any) -> Any:
    """Decimals (what exchange clients hand out) become JSON numbers; anything else its str()."""
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    return str(value)


def rename_reserved(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with ``timestamp`` and ``event_type`` renamed ``field_timestamp`` and
    ``field_event_type`` (the envelope cannot be overwritten).

    Example:
        >>> rename_reserved({"timestamp": "yesterday", "symbol": "BTC-PERP"})
        {'field_timestamp': 'yesterday', 'symbol': 'BTC-PERP'}
    """
    return {(f"field_{k}" if k in RESERVED_FIELDS else k): v for k, v in fields.items()}


def _describe(exc: BaseException) -> str:
    """An exception's message, or a placeholder when even that raises."""
    try:
        return str(exc)[:200]
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises
        return "(its message cannot be shown)"


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such numbers become null (nested values too)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class EventLog:
    """Appends events to ``directory/events.jsonl`` (or ``events-YYYY-MM-DD.jsonl`` per UTC day).

    Args:
        directory: Where the file lives (created when missing).
        wall_time: Seconds since the epoch (the injectable clock's ``time``).
        on_drop: Called with a reason and a count for events that were lost.
        on_error: Called with a reason for I/O errors (counted by the caller).
        queue_size: Events waiting to be written before new ones are dropped.
        rotate_daily: One file per UTC day instead of one file.
        max_bytes: Past this size the file moves to ``.1`` (one old file kept) and a new one
            starts; None for no cap.
        interval: Seconds between writer rounds.
        transform: Applied to each event's fields on the writer thread before encoding (the
            redaction of secrets), so the bot's call stays a queue append.
        each_round: Called on the writer thread at the start of every round, before the queue
            is written (the stale-mark watch); its events go out in the same round.

    Example:
        >>> import tempfile, time
        >>> log = EventLog(tempfile.mkdtemp(), wall_time=time.time)
        >>> log.emit("guard_triggered", {"guard": "daily_loss"})
        >>> log.close()
        >>> '"event_type":"guard_triggered"' in log.path().read_text()
        True
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        wall_time: Callable[[], float],
        on_drop: Callable[[str, int], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        queue_size: int = 10_000,
        rotate_daily: bool = False,
        max_bytes: int | None = None,
        interval: float = 0.2,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        each_round: Callable[[], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._each_round = each_round
        self._transform = transform
        self._wall_time = wall_time
        self._on_drop = on_drop or (lambda reason, count: None)
        self._on_error = on_error or (lambda reason: None)
        self._capacity = queue_size
        self._rotate_daily = rotate_daily
        self._max_bytes = max_bytes
        self._interval = interval
        self._queue: deque[_Item] = deque()
        self._retry: list[bytes] = []  # encoded lines a failed write still owes the file
        self._failing = False
        self._next_warning = 0.0  # monotonic time the next unencodable-event warning may go
        self._suppressed = 0
        self._stop = threading.Event()
        self._drain_lock = threading.Lock()  # the writer thread and flush() take turns
        self._closed = False
        self._closed_reason = "closed"
        self.written = 0
        self._thread = threading.Thread(
            target=self._run, name="trader-telemetry-events", daemon=True
        )
        self._thread.start()

    # ---------------------------------------------------------------- the bot's side
    def emit(self, event_type: str, fields: dict[str, Any]) -> None:
        """Queue one event (O(1), no I/O, never raises into the bot)."""
        queue = self._queue
        if len(queue) >= self._capacity or self._closed:
            self._on_drop(self._closed_reason if self._closed else "queue_full", 1)
            return
        queue.append((self._wall_time(), event_type, fields))

    # ---------------------------------------------------------------- the writer's side
    def path(self, when: float | None = None) -> Path:
        """The file an event at ``when`` (epoch seconds; now by default) goes to."""
        if not self._rotate_daily:
            return self.directory / "events.jsonl"
        day = datetime.fromtimestamp(self._wall_time() if when is None else when, UTC).date()
        return self.directory / f"events-{day.isoformat()}.jsonl"

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if self._each_round is not None:
                self._each_round()  # must not raise (StaleMarkWatch.check does not)
            self._drain_safely()
        self._drain_safely(final=True)

    def _drain_safely(self, *, final: bool = False) -> None:
        """A writer round that cannot end the thread: whatever it raises is logged (the
        library's logs are redacted) and counted, and the next round runs."""
        try:
            self._drain(final=final)
        except Exception:
            # The writer thread must outlive any fault; the library's logs are redacted.
            logger.exception("trader_telemetry events writer round failed")
            with contextlib.suppress(Exception):  # a failing counter cannot stop it either
                self._on_error("events_writer")

    def flush(self) -> bool:
        """Write what is queued now (from any thread); True when nothing is left to write."""
        self._drain()
        return not self._queue and not self._retry

    def _drain(self, *, final: bool = False) -> None:
        with self._drain_lock:
            batches: dict[Path, list[bytes]] = {}
            if self._retry:
                batches.setdefault(self.path(), []).extend(self._retry)
                self._retry = []
            queue = self._queue
            transform = self._transform
            encode = self._encode
            pending = 0
            for _ in range(len(queue)):
                try:
                    when, event_type, fields = queue.popleft()
                except IndexError:  # close() took the rest (this round outlived its timeout)
                    break
                if transform is not None:
                    try:
                        fields = transform(fields)
                    except Exception as exc:  # noqa: BLE001 - a secret may be in it: never raw
                        self._unencodable("transform_error", event_type, exc)
                        continue
                try:  # one event at a time: a bad one costs only itself
                    line = encode(when, event_type, fields)
                except Exception as exc:  # noqa: BLE001 - RecursionError, TypeError, a raising __str__
                    self._unencodable("unencodable", event_type, exc)
                    continue
                batches.setdefault(self.path(when), []).append(line)
                pending += 1
                if pending >= _CHUNK_LINES:
                    for path, lines in batches.items():
                        self._write(path, lines, final=final)
                    batches, pending = {}, 0
            for path, lines in batches.items():
                self._write(path, lines, final=final)

    def _unencodable(self, reason: str, event_type: object, exc: BaseException) -> None:
        """Count an event that cannot be written and warn (at most once a minute, without its
        traceback: the message is enough, and a secret could sit in the frames' text)."""
        self._on_drop(reason, 1)
        now = time.monotonic()
        if now < self._next_warning:
            self._suppressed += 1
            return
        self._next_warning = now + _WARN_INTERVAL
        suppressed, self._suppressed = self._suppressed, 0
        logger.warning(
            "trader_telemetry dropped a %a event it cannot write (%s: %s)%s",
            event_type,
            type(exc).__name__,
            _describe(exc),
            f" ({suppressed} more since the last warning)" if suppressed else "",
        )

    @staticmethod
    def _encode(when: float, event_type: str, fields: dict[str, Any]) -> bytes:
        if "timestamp" in fields or "event_type" in fields:
            fields = rename_reserved(fields)
        record = {"timestamp": rfc3339(when), "event_type": event_type, **fields}
        try:
            text = json.dumps(record, separators=(",", ":"), allow_nan=False, default=_json_default)
        except ValueError as exc:
            if "Circular" in str(exc):
                raise
            text = json.dumps(_finite(record), separators=(",", ":"), default=_json_default)
        return text.encode() + b"\n"

    def _write(self, path: Path, lines: list[bytes], *, final: bool = False) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._rotate_if_full(path)
            with path.open("ab") as stream:
                data = b"".join(lines)
                if stream.tell() > 0 and not _ends_with_newline(path):
                    # A writer killed mid-line (or a short write on a full disk) left a torn
                    # line: start ours on a new one so the torn part stays alone, and is the
                    # only line the reader skips.
                    logger.warning("trader_telemetry: %s ended with a partial line", path)
                    data = b"\n" + data
                stream.write(data)  # whole lines in one write: complete or absent
                stream.flush()
        except OSError as exc:
            # The last round (shutdown) has no retry after it: what it cannot write is lost.
            kept = 0 if final else self._retry_within_capacity(lines)
            if not self._failing:
                logger.warning(
                    "trader_telemetry cannot write %s (%s); events are kept in memory and "
                    "retried (the bot is unaffected)",
                    path,
                    exc.strerror or exc,
                )
            self._failing = True
            self._on_error("events_io")
            if kept < len(lines):
                self._on_drop("io_error", len(lines) - kept)
            return
        if self._failing:
            logger.info("trader_telemetry writes %s again", path)
            self._failing = False
        self.written += len(lines)

    def _retry_within_capacity(self, lines: list[bytes]) -> int:
        room = max(0, self._capacity - len(self._retry))
        self._retry.extend(lines[:room])
        return min(room, len(lines))

    def _rotate_if_full(self, path: Path) -> None:
        if self._max_bytes is None:
            return
        try:
            if path.stat().st_size >= self._max_bytes:
                path.replace(path.with_name(path.name + ".1"))
        except FileNotFoundError:
            pass

    def abandon(self, reason: str) -> None:
        """Stop taking events without writing: what is queued and every later event is dropped
        and counted under ``reason`` (a forked child, whose writer thread stayed behind)."""
        self._closed, self._closed_reason = True, reason
        lost = len(self._queue) + len(self._retry)
        self._queue.clear()
        self._retry = []
        if lost:
            self._on_drop(reason, lost)

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued and stop the writer (idempotent, bounded). What the writer
        could not write by then is counted as dropped (``io_error`` when the disk failed,
        ``shutdown`` when it did not finish in time)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            # Stuck in a write (a hung disk): what it has not taken yet will never be written.
            left = 0
            while True:
                try:
                    self._queue.popleft()
                except IndexError:
                    break
                left += 1
            if left:
                self._on_drop("shutdown", left)
