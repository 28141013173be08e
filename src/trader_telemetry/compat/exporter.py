"""``FileExporter``: a bot's ``metrics.json`` and ``events.jsonl`` served as the library's metrics.

It owns a :class:`~trader_telemetry.Telemetry` (same catalogue, same OTel path, same
``/metrics``, ``/metrics.json`` and ``/health``) and drives it through the public recording
calls from what the files say. Refreshing is cheap: the events file is tailed from its saved
offset and ``metrics.json`` is re-read only when it changed. It refreshes before every scrape
(so events appended since the last scrape count in this one) and, with ``start(interval)``,
on a background thread that also does the first catch-up of a large file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from ..catalogue import Component, specs_of
from ..config import TelemetryConfig
from ..errors import ConfigurationError, NotReadyError
from ..events.read_stats import ReadStats
from ..events.snapshot_reader import load_metrics_snapshot
from ..events.sqlite_source import DatabaseBusyError, EventsDatabase, is_sqlite
from ..row_values import producers
from ..telemetry import Telemetry
from .breaker import DEFAULT_HOLD_SECONDS, BreakerReplay
from .feed import TRADE_FILL_WAIT_SECONDS, TelemetryFeed
from .legacy_names import LEGACY_SPECS, LegacyFigures
from .line_fold import fold_lines
from .source import MetricsSnapshotSource
from .status import SourceStatus
from .tail import DEFAULT_CHUNK_BYTES, EventsTail

__all__ = ["FileExporter"]

logger = logging.getLogger("trader_telemetry.compat")

# ReadStats counters -> exporter_read_errors_total reasons for lines of the events file.
_LINE_PROBLEMS = {
    "corrupt": "corrupt_line",
    "truncated_last_line": "truncated_line",
    "missing_timestamp": "missing_timestamp",
    "bad_timestamp": "bad_timestamp",
    "missing_type": "missing_type",
    "oversized_line": "oversized_line",
    "duplicates": "duplicate_line",
}
#: Rows of an events.db read per refresh step (about 8 MB of rows).
DB_ROWS_PER_STEP = 20_000
#: Distinct unknown event types counted by name in the read-errors metric; more share one.
MAX_UNKNOWN_TYPES = 32
#: How long a scrape waits for the first catch-up before answering 503 + Retry-After.
READY_WAIT_SECONDS = 2.0


class FileExporter:
    """Serve the metrics a bot's files describe.

    Args:
        metrics_file: The bot's ``metrics.json`` (ours or GPT-Trader's shapes), or None.
        events_file: The bot's ``events.jsonl`` (ours or GPT-Trader's lines), or None. A
            SQLite file here (recognised by its header) is read as an ``events.db``.
        events_db: GPT-Trader's SQLite ``events.db``, opened read-only and followed by row
            id (new rows only, never a rescan), or None.
        config: The served ``Telemetry``'s configuration (namespace, host, port, profile...).
        breaker_hold_seconds: A circuit-breaker trip nothing has confirmed for this long
            reads as 0 again (see :mod:`trader_telemetry.compat.breaker`).
        chunk_bytes: Most bytes of the events file read in one refresh step; a scrape reads
            at most this much itself, the background thread catches up in such steps.
        loader: Reads and normalises ``metrics.json`` (tests inject faults here).
        **overrides: Fields of :class:`~trader_telemetry.TelemetryConfig` to change.

    Raises:
        ConfigurationError: neither file given, or a bad configuration value.
        PortInUseError: the port is taken.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     events = pathlib.Path(tmp, "events.jsonl")
        ...     _ = events.write_text(
        ...         '{"timestamp": "2026-11-25T12:00:00Z", "event_type": "ws_reconnect",'
        ...         ' "stream": "marks"}\\n'
        ...     )
        ...     with FileExporter(events_file=events, serve=False) as exporter:
        ...         body = exporter.telemetry.render_metrics().body.decode()
        >>> 'trader_websocket_reconnects_total{stream="marks"} 1' in body
        True
    """

    def __init__(
        self,
        metrics_file: str | os.PathLike[str] | None = None,
        events_file: str | os.PathLike[str] | None = None,
        *,
        events_db: str | os.PathLike[str] | None = None,
        config: TelemetryConfig | None = None,
        breaker_hold_seconds: float = DEFAULT_HOLD_SECONDS,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        loader: Callable[[str], dict[str, Any] | None] = load_metrics_snapshot,
        **overrides: Any,
    ) -> None:
        if metrics_file is None and events_file is None and events_db is None:
            raise ConfigurationError(
                "FileExporter needs a metrics_file, an events_file or events_db, or several"
            )
        if events_file is not None and events_db is None and is_sqlite(events_file):
            events_file, events_db = None, events_file
        if chunk_bytes < 1:
            raise ConfigurationError(f"FileExporter.chunk_bytes must be >= 1, got {chunk_bytes!r}")
        self.telemetry = Telemetry(config, **overrides)
        self.chunk_bytes = chunk_bytes
        self._clock = self.telemetry.clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        started = self._clock.time()
        self._statuses: list[SourceStatus] = []
        self._tail: EventsTail | None = None
        self._events_status: SourceStatus | None = None
        if events_file is not None:
            self._events_status = self._status(events_file, started)
            self._tail = EventsTail(events_file, chunk_bytes=chunk_bytes)
        self._db: EventsDatabase | None = None
        self._db_status: SourceStatus | None = None
        if events_db is not None:
            self._db_status = self._status(events_db, started)
            self._db = EventsDatabase(events_db)
        #: Set once the files as they were at start-up have been read to their end: until
        #: then /metrics answers 503 (partial counters would read as a reset, then a jump).
        self.caught_up = threading.Event()
        self._source: MetricsSnapshotSource | None = None
        if metrics_file is not None:
            status = self._status(metrics_file, started)
            self._source = MetricsSnapshotSource(metrics_file, status, loader=loader)
        #: Bad lines of the events file so far, by kind (summed over every read).
        self.line_problems: dict[str, int] = {}
        #: Lines of the events file (rows of the events.db) parsed so far.
        self.lines_read = 0
        self._unknown: set[str] = set()
        self.legacy = LegacyFigures()
        self.feed = TelemetryFeed(
            self.telemetry,
            breaker=BreakerReplay(self.telemetry, hold_seconds=breaker_hold_seconds),
            legacy=self.legacy,
        )
        # The rows say where their values are kept: in this exporter, in the legacy figures.
        self.telemetry.observe_component(
            Component.EXPORTER, producers(specs_of(Component.EXPORTER), self)
        )
        self.telemetry.observe_component(
            Component.EXPORTER, producers(LEGACY_SPECS, self.legacy), specs=LEGACY_SPECS
        )
        self.telemetry.add_refresh_hook(self._refresh_before_scrape)

    def _status(self, path: str | os.PathLike[str], started: float) -> SourceStatus:
        status = SourceStatus(os.path.basename(os.fspath(path)), started_at=started)
        self._statuses.append(status)
        return status

    # ------------------------------------------------------------------ what tests and ops read
    @property
    def bytes_read(self) -> int:
        """Bytes of the events file(s) read from disk since start-up."""
        return 0 if self._tail is None else self._tail.bytes_read

    @property
    def metrics_reads(self) -> int:
        """Times ``metrics.json`` was read and parsed (an unchanged file is not re-read)."""
        return 0 if self._source is None else self._source.reads

    @property
    def statuses(self) -> tuple[SourceStatus, ...]:
        """The state of each source file: problem, read errors, last good modification time."""
        return tuple(self._statuses)

    @property
    def metrics_url(self) -> str | None:
        """Where ``/metrics`` is served (None with ``serve=False``)."""
        return self.telemetry.metrics_url

    # ------------------------------------------------------------------ refreshing
    def refresh(self, max_bytes: int | None = None) -> bool:
        """Read what changed: up to ``max_bytes`` (default one chunk) of new events, and
        ``metrics.json`` if it changed. True when more event bytes are waiting."""
        with self._lock:
            return self._refresh_locked(self.chunk_bytes if max_bytes is None else max_bytes)

    def catch_up(self) -> None:
        """Refresh until the events file is read to its end (or :meth:`close` is called)."""
        while self.refresh() and not self._stop.is_set():
            pass
        if not self._stop.is_set():
            self.caught_up.set()

    def _refresh_before_scrape(self) -> None:
        if not self.caught_up.is_set():
            if self._thread is None:
                self.catch_up()  # no background thread: this scrape reads the files itself
            elif not self.caught_up.wait(READY_WAIT_SECONDS):
                raise NotReadyError(
                    f"catching up with the bot's files ({self.lines_read:,} event lines read)",
                    retry_after=READY_WAIT_SECONDS,
                )
        # A catch-up step holds the lock for one chunk (a fraction of a second): wait for it,
        # but never make the scrape wait much longer; it then serves what is known.
        if not self._lock.acquire(timeout=2.0):
            return
        try:
            self._refresh_locked(self.chunk_bytes)
        finally:
            self._lock.release()

    def _refresh_locked(self, max_bytes: int) -> bool:
        more = False
        if self._tail is not None:
            more = self._read_events(self._tail, max_bytes)
        if self._db is not None:
            more = self._read_db(self._db, max(1, max_bytes // 400)) or more
        if self._source is not None:
            snapshot = self._source.poll()
            if snapshot is not None:
                self._apply(self.feed.snapshot, snapshot)
        now = self._clock.time()
        self.feed.breaker.expire(now)
        if self.caught_up.is_set():  # while catching up, a trade's fill may be in the next chunk
            self.feed.settle(now - TRADE_FILL_WAIT_SECONDS)
        return more

    def _read_events(self, tail: EventsTail, max_bytes: int) -> bool:
        status = self._events_status
        assert status is not None  # noqa: S101 - set together with the tail
        read = tail.read(max_bytes)
        if read.lines:
            stats = ReadStats()
            apply = self.feed.event
            fold_lines(
                self.feed,
                read.lines,
                stats=stats,
                label=status.file,
                first_line_number=read.first_line_number,
                apply=lambda event: self._apply(apply, event),
            )
            self.lines_read += stats.lines
            self._count_line_problems(status, stats)
        if read.oversized:
            self.lines_read += read.oversized
            self._count_problem(status, "oversized_line", read.oversized)
        if read.problem is not None:
            status.fail(read.problem)
        elif read.mtime is not None:
            status.ok(read.mtime)
        return read.more

    def _read_db(self, db: EventsDatabase, max_rows: int) -> bool:
        """New rows of the events.db (at most ``max_rows``); True when more may be waiting."""
        status = self._db_status
        assert status is not None  # noqa: S101 - set together with the database
        try:
            mtime = os.stat(db.path).st_mtime
        except FileNotFoundError:
            status.fail("missing")
            return False
        except OSError as exc:
            status.fail("unreadable", exc.strerror or "")
            return False
        stats = ReadStats()
        apply = self.feed.event
        try:
            for event in db.read(stats, max_rows=max_rows):
                self._apply(apply, event)
        except DatabaseBusyError:
            self._count_problem(status, "database_busy", 1)  # retried at the next refresh
            return False
        except sqlite3.Error as exc:
            status.fail("unreadable", str(exc))
            return False
        finally:
            self.lines_read += stats.lines
            self._count_line_problems(status, stats)
        status.ok(mtime)
        return stats.lines >= max_rows

    def _apply(self, apply: Callable[[Any], object], item: object) -> None:
        try:
            apply(item)
        except Exception:  # one odd line must not stop the exporter
            self._count_problem(self._events_status or self._statuses[0], "unmapped_value", 1)
            logger.debug("could not apply %r", item, exc_info=True)

    def _count_line_problems(self, status: SourceStatus, stats: ReadStats) -> None:
        for attribute, reason in _LINE_PROBLEMS.items():
            amount = int(getattr(stats, attribute))
            if amount:
                self._count_problem(status, reason, amount, stats.warnings)
        for kind, amount in stats.unknown_types.items():
            reason = f"unknown_type:{kind}"
            if reason not in self.line_problems and len(self._unknown) >= MAX_UNKNOWN_TYPES:
                reason = "unknown_type:other"
            self._unknown.add(reason)
            self._count_problem(
                status, reason, amount, [f"events of type {kind!r} map to no metric (counted)"]
            )

    def _count_problem(
        self, status: SourceStatus, reason: str, amount: int, warnings: list[str] | None = None
    ) -> None:
        first = reason not in self.line_problems
        self.line_problems[reason] = self.line_problems.get(reason, 0) + amount
        status.count(reason, amount)
        if first:  # once per kind of problem: the counter says how many followed
            detail = "; ".join(warnings or []) or reason.replace("_", " ")
            logger.warning("%s: %s (counted in exporter_read_errors_total)", status.file, detail)

    # ------------------------------------------------------------------ exporter_* metrics
    def source_ages(self) -> dict[str, float]:
        """Seconds since each file's last good content (``exporter_source_age_seconds``)."""
        now = self._clock.time()
        return {status.file: status.age(now) for status in self._statuses}

    def read_errors(self) -> dict[tuple[str, ...], float]:
        """Read errors by (file, reason) (``exporter_read_errors_total``)."""
        return {key: count for status in self._statuses for key, count in status.error_samples()}

    # ------------------------------------------------------------------ lifecycle
    def start(self, interval: float = 5.0) -> None:
        """Catch up with the events file on a background thread, then refresh every
        ``interval`` seconds (0: only before scrapes). Returns at once."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="trader-telemetry-file-exporter", daemon=True
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        started = time.monotonic()
        self._guarded(self.catch_up)
        logger.info(
            "read %d event lines (%.1f MB) in %.1f s",
            self.lines_read,
            self.bytes_read / 1e6,
            time.monotonic() - started,
        )
        while interval > 0 and not self._stop.wait(interval):
            self._guarded(self.catch_up)

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:  # the exporter never exits on a fault: log, go on
            logger.exception("file exporter refresh failed; retrying at the next one")

    def close(self, timeout: float = 5.0) -> None:
        """Stop the background thread and the endpoint; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout / 2)
        self.telemetry.shutdown(timeout / 2)
        with self._lock:
            if self._tail is not None:
                self._tail.close()
            if self._db is not None:
                self._db.close()

    def __enter__(self) -> FileExporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        files = ", ".join(status.file for status in self._statuses)
        return f"<FileExporter {files} {self.metrics_url or 'not serving'}>"
