"""GPT-Trader's ``events.db``: the SQLite event store, read-only, followed by row id.

The table is ``events(id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT, event_type TEXT,
payload TEXT (JSON), bot_id TEXT)`` in WAL mode. Rows are read in id order and turned into the
same :class:`~trader_telemetry.events.reader.Event` as a JSONL line (nested metric, position and
error rows flattened by :func:`~trader_telemetry.events.gpt_trader.unnest`), so the report and
``serve`` treat both stores alike.

The database is opened with ``mode=ro``: SQLite then reads the writer's WAL (rows committed a
moment ago are seen) and never writes the database, though it creates the ``-wal``/``-shm``
files beside it if the writer has not. ``immutable=1`` would skip the WAL and any locking: right
only for a file nothing writes any more (a copy), so it is the report's fallback for a database
in a read-only directory, where ``mode=ro`` cannot open it, and never the exporter's.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from .field_values import read_timestamp, to_number
from .gpt_trader import UNDERSTOOD_TYPES, unnest
from .read_stats import ReadStats
from .reader import NUMERIC_FIELDS, Event, loads_json

__all__ = ["SQLITE_HEADER", "EventsDatabase", "is_sqlite", "read_db_events"]

logger = logging.getLogger("trader_telemetry.events")

SQLITE_HEADER: Final = b"SQLite format 3\x00"
_NESTED: Final = frozenset({"metric", "position", "error"})
_QUERY: Final = (
    "SELECT id, timestamp, event_type, payload FROM events WHERE id > ? ORDER BY id LIMIT ?"
)
_BATCH: Final = 20_000


def is_sqlite(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with SQLite's file header (False when it cannot be read).

    Example:
        >>> import pathlib, sqlite3, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     db = pathlib.Path(tmp, "events.db")
        ...     sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
        ...     is_sqlite(db), is_sqlite(pathlib.Path(tmp, "missing"))
        (True, False)
    """
    try:
        with open(path, "rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


class DatabaseBusyError(Exception):
    """The database was locked or busy: try again at the next read."""


class EventsDatabase:
    """One ``events.db``, read from the row after the last one read.

    Args:
        path: The database file.
        immutable: Open with ``immutable=1`` (a file nothing writes: a copy, a fixture).

    Example:
        >>> import pathlib, sqlite3, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp, "events.db")
        ...     db = sqlite3.connect(path)
        ...     _ = db.execute(
        ...         "CREATE TABLE events (id INTEGER PRIMARY KEY, timestamp TEXT,"
        ...         " event_type TEXT, payload TEXT, bot_id TEXT)"
        ...     )
        ...     row = ("2026-11-30 00:00:01", "trade", '{"price": "1.5"}')
        ...     _ = db.execute(
        ...         "INSERT INTO events (timestamp, event_type, payload) VALUES (?, ?, ?)", row
        ...     )
        ...     db.commit()
        ...     db.close()
        ...     source = EventsDatabase(path)
        ...     events = list(source.read(ReadStats()))
        ...     source.close()
        >>> events[0].event_type, events[0].fields["price"], source.last_id
        ('trade', 1.5, 1)
    """

    def __init__(self, path: str | os.PathLike[str], *, immutable: bool = False) -> None:
        self.path = os.fspath(path)
        self.immutable = immutable
        #: The id of the last row read: the next read starts after it.
        self.last_id = 0
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            mode = "immutable=1" if self.immutable else "mode=ro"
            uri = f"file:{urllib.parse.quote(os.path.abspath(self.path))}?{mode}"
            # timeout: how long SQLite's busy handler waits for a writer's lock before
            # raising; short, the next interval retries.
            connection = sqlite3.connect(uri, uri=True, timeout=0.2, check_same_thread=False)
            try:
                connection.execute("SELECT 1 FROM events LIMIT 0")
            except sqlite3.Error:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def read(
        self,
        stats: ReadStats,
        *,
        max_rows: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Iterator[Event]:
        """The events of the rows after :attr:`last_id` (at most ``max_rows``), in id order.

        Raises:
            DatabaseBusyError: the database is locked or busy now (nothing was lost: the
                next read starts after the last row handed out).
            sqlite3.Error: it cannot be opened or is not GPT-Trader's ``events`` table.
        """
        remaining = max_rows
        while remaining is None or remaining > 0:
            batch = _BATCH if remaining is None else min(_BATCH, remaining)
            try:
                rows = self._connect().execute(_QUERY, (self.last_id, batch)).fetchall()
            except sqlite3.OperationalError as exc:
                self.close()
                text = str(exc).lower()
                if "locked" in text or "busy" in text:
                    raise DatabaseBusyError(str(exc)) from exc
                raise
            if remaining is not None:
                remaining -= len(rows)
            for row_id, column_time, event_type, payload in rows:
                self.last_id = row_id
                event = _event(row_id, column_time, event_type, payload, stats, start, end)
                if event is not None:
                    yield event
            if len(rows) < batch:
                return

    def close(self) -> None:
        """Close the connection (the next read reopens it and goes on after :attr:`last_id`)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def read_db_events(
    path: str | os.PathLike[str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    stats: ReadStats | None = None,
) -> Iterator[Event]:
    """Every event of an ``events.db`` in id order (the report's reading).

    Opened ``mode=ro``; a database in a directory this process cannot write (so SQLite cannot
    create its ``-shm`` beside it) is read ``immutable=1`` instead, with a warning. A database
    locked for longer than a few tries is read as far as it could be, with a warning.

    Raises:
        FileNotFoundError: ``path`` does not exist (raised by this call).
    """
    os.stat(path)
    return _read_all(os.fspath(path), start, end, ReadStats() if stats is None else stats)


def _read_all(
    path: str, start: datetime | None, end: datetime | None, stats: ReadStats
) -> Iterator[Event]:
    source = EventsDatabase(path)
    label = os.path.basename(path)
    try:
        try:
            source._connect()
        except sqlite3.OperationalError:
            if os.access(os.path.dirname(os.path.abspath(path)) or ".", os.W_OK):
                raise
            source.immutable = True
            stats.warnings.append(
                f"{label}: read-only directory, read as an immutable file (rows written while "
                "the report ran are not seen)"
            )
        for attempt in range(5):
            try:
                yield from source.read(stats, start=start, end=end)
            except DatabaseBusyError:
                if attempt == 4:
                    stats.warnings.append(
                        f"{label}: database locked; read up to row {source.last_id}"
                    )
            else:
                return
    except sqlite3.Error as exc:
        stats.warnings.append(f"{label}: not a readable events database ({exc})")
    finally:
        source.close()


def _event(  # noqa: PLR0917 - the columns of one row
    row_id: int,
    column_time: object,
    event_type: object,
    payload: object,
    stats: ReadStats,
    start: datetime | None,
    end: datetime | None,
) -> Event | None:
    """One row as an event, or None (counted in ``stats``) when it cannot be read."""
    stats.lines += 1
    try:
        fields: Any = loads_json(payload) if isinstance(payload, str | bytes) else None  # type: ignore[arg-type]  # both backends take str
    except (ValueError, RecursionError):
        fields = None
    if fields.__class__ is not dict or not isinstance(event_type, str) or not event_type:
        stats.problem("corrupt", "unreadable rows skipped", f"at id {row_id}")
        return None
    kind = event_type
    if kind in _NESTED:
        kind, fields = unnest(kind, fields)
    stamp = fields.pop("timestamp", None)
    moment, _ = read_timestamp(stamp) if stamp is not None else (None, False)
    if moment is None:  # the row's own time: SQLite's datetime('now'), UTC, whole seconds
        moment, _ = read_timestamp(column_time)
        if moment is None:
            stats.problem("bad_timestamp", "rows with an unreadable timestamp", f"at id {row_id}")
            return None
    if (start is not None and moment < start) or (end is not None and moment >= end):
        stats.out_of_window += 1
        return None
    for key, value in fields.items():
        if value.__class__ is str and key in NUMERIC_FIELDS:
            fields[key] = to_number(value)
    if kind not in UNDERSTOOD_TYPES:
        stats.unknown_types[kind] = stats.unknown_types.get(kind, 0) + 1
    stats.events += 1
    return Event(moment, kind, fields)
