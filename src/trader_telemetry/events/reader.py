"""Tolerant readers of ``events.jsonl`` and ``metrics.json`` (docs/events.md).

Shared by the daily report and the file exporter. Our own format is read first and fast; lines
the legacy GPT-Trader bot wrote (``type``/``time`` keys, ``{"data": {...}}`` wrappers, numbers as
strings, SQLite-style or epoch timestamps) are normalised into the same :class:`Event`. Nothing
here raises on a bad line: corrupt, truncated and undated lines are skipped, counted in
:class:`ReadStats`, and each kind of problem is described once in ``ReadStats.warnings``.

Parsing uses ``orjson`` when it is importable and the standard ``json`` module otherwise.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from .bounded_lines import MAX_LINE_BYTES, bounded_lines
from .field_values import parse_epoch, parse_text_timestamp
from .gpt_trader import UNDERSTOOD_TYPES, unnest
from .read_stats import ReadStats

__all__ = [
    "JSON_BACKEND",
    "NUMERIC_FIELDS",
    "Event",
    "loads_json",
    "parse_lines",
    "parse_rows",
    "read_events",
    "read_rows",
]


def _pick_loads() -> tuple[Callable[[bytes], Any], str]:
    try:
        module = importlib.import_module("orjson")
    except ImportError:
        return json.loads, "json"
    return cast("Callable[[bytes], Any]", module.loads), "orjson"


loads_json, JSON_BACKEND = _pick_loads()
"""``"orjson"`` when orjson parses the lines, ``"json"`` when the standard library does."""

NUMERIC_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "quantity",
        "price",
        "fee",
        "pnl",
        "realized_pnl",
        "unrealized_pnl",
        "funding_pnl",
        "total_pnl",
        "equity",
        "amount",
        "mark_price",
        "entry_price",
        "loss",
        "limit",
        "duration_seconds",
        "exposure_usd",
        "size",
        "entry",
        "position_size",
        "funding_amount",
    }
)
"""Fields whose string values (as the legacy bot wrote numbers) are read as floats."""

# Keys that may sit beside a ``{"data": {...}}`` wrapper without being payload.
_ENVELOPE: Final[frozenset[str]] = frozenset(
    {"timestamp", "time", "event_type", "type", "bot_id", "id", "data"}
)
_NESTED: Final = frozenset({"metric", "position", "error"})  # GPT-Trader's nesting types
_MISSING: Final = object()
_CORRUPT: Final = "corrupt lines skipped"


@dataclass(frozen=True, slots=True)
class Event:
    """One event line.

    Attributes:
        timestamp: When it happened, timezone-aware UTC.
        event_type: ``fill``, ``cycle``, ... (a legacy ``type`` or ``event_type`` as written).
        fields: Everything else on the line, without the type and timestamp keys.

    Example:
        >>> from datetime import UTC, datetime
        >>> event = Event(datetime(2026, 11, 25, 12, tzinfo=UTC), "fill", {"price": 101.5})
        >>> event.event_type, event.fields["price"]
        ('fill', 101.5)
    """

    timestamp: datetime
    event_type: str
    fields: dict[str, Any]


_EVENT_SLOTS: Final[dict[str, Callable[[Event, Any], None]]] = {
    name: Event.__dict__[name].__set__ for name in ("timestamp", "event_type", "fields")
}


def read_events(
    path: str | os.PathLike[str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    stats: ReadStats | None = None,
    progress: Callable[[int], None] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    numbers_for: Container[str] | None = None,
) -> Iterator[Event]:
    """Stream the events of one ``events.jsonl`` file, skipping what cannot be read.

    The file is read line by line in binary, never whole. Our own lines
    (``{"timestamp": "...Z", "event_type": "fill", ...}``) take the fast path; legacy
    GPT-Trader lines are normalised: ``type`` for ``event_type`` (``{"type": "metric",
    "event_type": "x"}`` is ``x``), ``time`` for ``timestamp``, ``{"data": {...}}`` unwrapped
    when it is the only payload key (the type and timestamp may be inside or beside it), string
    numbers in :data:`NUMERIC_FIELDS` read as floats (our writer writes numbers, Decimals
    included, as JSON numbers, so our own lines are kept as written). Timestamps may be ISO
    8601 with ``Z`` or an offset, ``"YYYY-MM-DD HH:MM:SS"``, or epoch seconds or milliseconds
    (above 1e11); naive ones are read as UTC and counted.

    Args:
        path: The ``events.jsonl`` file.
        start: Keep events at or after this instant (a naive value is taken as UTC).
        end: Keep events before this instant (a naive value is taken as UTC).
        stats: Filled in while iterating (complete once the iterator is exhausted).
        progress: Called with the bytes of this file read so far, after each 1 MiB block
            (for a progress bar; None costs nothing).
        max_line_bytes: A longer line is skipped and counted (``stats.oversized_line``).
        numbers_for: Read string numbers as floats only in events of these types (None: in
            all); the others' fields stay as parsed. For a caller that reads the fields of a
            few types only (the report): it saves the conversions it would never look at.

    Returns:
        An iterator of :class:`Event`, in file order.

    Raises:
        FileNotFoundError: ``path`` does not exist (raised by this call, before iterating).

    Example:
        >>> import pathlib, tempfile
        >>> stats = ReadStats()
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp, "events.jsonl")
        ...     _ = path.write_text(
        ...         '{"timestamp": "2026-11-25T12:00:00.123Z", "event_type": "fill", "fee": 0.1}\\n'
        ...         '{"type": "trade", "time": "2026-11-25 12:00:01", "price": "101.5"}\\n'
        ...         "not json\\n"
        ...     )
        ...     events = list(read_events(path, stats=stats))
        >>> [(e.event_type, e.fields) for e in events]
        [('fill', {'fee': 0.1}), ('trade', {'price': 101.5})]
        >>> events[1].timestamp.isoformat()
        '2026-11-25T12:00:01+00:00'
        >>> stats.corrupt, stats.naive_timestamps
        (1, 1)
    """
    name = os.fspath(path)
    os.stat(name)  # a missing file fails here, not at the first next()
    return _parse(
        None,
        os.path.basename(name),
        _as_utc(start),
        _as_utc(end),
        ReadStats() if stats is None else stats,
        path=name,
        progress=progress,
        max_line=max_line_bytes,
        numbers_for=numbers_for,
    )


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def parse_lines(
    lines: Iterable[bytes],
    *,
    label: str,
    start: datetime | None = None,
    end: datetime | None = None,
    stats: ReadStats | None = None,
    first_line_number: int = 1,
    numbers_for: Container[str] | None = None,
) -> Iterator[Event]:
    """Parse already-read ``events.jsonl`` lines (each with its newline) like :func:`read_events`.

    For readers that hold the file themselves, such as a tailer reading only the bytes appended
    since its last offset. ``label`` names the source in warnings; ``first_line_number`` is the
    number of the first line given, so warnings point at the right line of the file;
    ``numbers_for`` is as in :func:`read_events`.

    Example:
        >>> [e.event_type for e in parse_lines([b'{"time": 0, "type": "fill"}\\n'], label="x")]
        ['fill']
    """
    return _parse(
        lines,
        label,
        _as_utc(start),
        _as_utc(end),
        ReadStats() if stats is None else stats,
        first_line_number - 1,
        numbers_for=numbers_for,
    )


Row = tuple[datetime, str, dict[str, Any]]
"""``(timestamp, event_type, fields)``: an :class:`Event`'s contents, without the object."""


def read_rows(
    path: str | os.PathLike[str],
    *,
    end: datetime | None = None,
    stats: ReadStats | None = None,
    progress: Callable[[int], None] | None = None,
    numbers_for: Container[str] | None = None,
) -> Iterator[Row]:
    """:func:`read_events` as :data:`Row` tuples: the same lines read, counted and normalised,
    without building an :class:`Event` for each (a third of a microsecond a line: the daily
    report reads millions).

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp, "events.jsonl")
        ...     _ = path.write_text('{"type": "trade", "time": 0, "price": "1.5"}\\n')
        ...     [(kind, fields) for _, kind, fields in read_rows(path)]
        [('trade', {'price': 1.5})]
    """
    name = os.fspath(path)
    os.stat(name)  # a missing file fails here, not at the first next()
    return cast(
        "Iterator[Row]",
        _parse(
            None,
            os.path.basename(name),
            None,
            _as_utc(end),
            ReadStats() if stats is None else stats,
            path=name,
            progress=progress,
            numbers_for=numbers_for,
            rows=True,
        ),
    )


def parse_rows(
    lines: Iterable[bytes],
    *,
    label: str,
    end: datetime | None = None,
    stats: ReadStats | None = None,
    numbers_for: Container[str] | None = None,
) -> Iterator[Row]:
    """:func:`parse_lines` as :data:`Row` tuples (see :func:`read_rows`).

    Example:
        >>> [kind for _, kind, _ in parse_rows([b'{"time": 0, "type": "fill"}\\n'], label="x")]
        ['fill']
    """
    return cast(
        "Iterator[Row]",
        _parse(
            lines,
            label,
            None,
            _as_utc(end),
            ReadStats() if stats is None else stats,
            numbers_for=numbers_for,
            rows=True,
        ),
    )


def _parse(  # noqa: PLR0912, PLR0915, PLR0917 - one loop, kept flat so the per-line path stays lean
    lines: Iterable[bytes] | None,
    label: str,
    start: datetime | None,
    end: datetime | None,
    stats: ReadStats,
    number: int = 0,
    *,
    path: str | None = None,
    progress: Callable[[int], None] | None = None,
    max_line: int = MAX_LINE_BYTES,
    numbers_for: Container[str] | None = None,
    rows: bool = False,
) -> Iterator[Any]:
    """Parse ``lines``, or the file at ``path`` (opened on the first ``next()``, closed when
    iteration stops, so an iterator that is never started holds no file)."""
    loads = loads_json
    fromiso = datetime.fromisoformat
    numeric = NUMERIC_FIELDS
    utc = UTC
    # Event(...) goes through the frozen dataclass's object.__setattr__ calls (~0.4 us);
    # the slots' own descriptors set the same three attributes in half the time.
    new_event = object.__new__
    set_timestamp = _EVENT_SLOTS["timestamp"]
    set_event_type = _EVENT_SLOTS["event_type"]
    set_fields = _EVENT_SLOTS["fields"]
    last_text: object = None  # the last timestamp string and its parse, reused when repeated
    last_moment = datetime.min.replace(tzinfo=UTC)
    last_naive = False
    first, events = number, 0
    understood, unknown = UNDERSTOOD_TYPES, stats.unknown_types
    previous: tuple[str, datetime, dict[str, Any]] | tuple[None, None, None] = (None, None, None)
    file = None
    if path is not None:
        file = open(path, "rb")  # noqa: SIM115 - closed in the finally below
        lines = bounded_lines(file, stats, max_line_bytes=max_line, progress=progress)
    try:
        for raw in lines or ():
            number += 1
            try:
                obj = loads(raw)
            except (ValueError, RecursionError):
                _unparsed(stats, raw, number, label)
                continue
            if obj.__class__ is not dict:
                stats.problem("corrupt", _CORRUPT, f"at line {number} of {label}")
                continue
            legacy = extra_time = False
            written = named = _MISSING
            stamp = obj.pop("timestamp", _MISSING)
            kind = obj.pop("event_type", _MISSING)
            if (
                kind.__class__ is str
                and kind
                and stamp.__class__ is str
                and "type" not in obj
                and "data" not in obj
            ):
                pass  # plainly our own format
            elif (
                stamp is _MISSING
                and (written := obj.pop("time", _MISSING)) is not _MISSING
                and "data" not in obj
                and (
                    (kind.__class__ is str and kind)
                    if kind is not _MISSING
                    else ((named := obj.pop("type", _MISSING)).__class__ is str and named)
                )
            ):
                # GPT-Trader's plain line (``type`` or ``event_type``, ``time``, no wrapper):
                # what :func:`_legacy` does with such a line, without its calls. The keys
                # popped on the way are put back when it is not one (_legacy pops them too).
                legacy = True
                stamp = written
                if kind is _MISSING:
                    kind = named
                elif "type" in obj and (obj["type"] == "metric" or obj["type"] == kind):
                    del obj["type"]  # GPT-Trader's category, or the same type written twice
                if kind in _NESTED and (
                    # A flat position with its ``quantity`` (most of GPT-Trader's) is read as is:
                    # what unnest() would do with it, without the call.
                    kind != "position"
                    or "position" in obj
                    or ("quantity" not in obj and "size" in obj)
                ):
                    kind, obj = unnest(kind, obj)
                    inner = obj.pop("timestamp", None)  # a nested payload's own time wins
                    if inner is not None:
                        stamp, extra_time = inner, written is not None
            else:
                # Not plainly our own format: put the keys back and normalise the legacy shapes.
                legacy = True
                if stamp is not _MISSING:
                    obj["timestamp"] = stamp
                if kind is not _MISSING:
                    obj["event_type"] = kind
                if written is not _MISSING:
                    obj["time"] = written
                if named is not _MISSING:
                    obj["type"] = named
                stamp, kind, obj, extra_time = _legacy(obj)
            # Our own lines always have both; GPT-Trader's may lack either.
            if stamp is None:
                stats.problem(
                    "missing_timestamp",
                    "lines without a timestamp skipped",
                    f"at line {number} of {label}",
                )
                continue
            if kind is None:
                stats.problem(
                    "missing_type",
                    "lines without an event type skipped",
                    f"at line {number} of {label}",
                )
                continue
            moment: datetime | None
            if stamp == last_text:
                moment, naive = last_moment, last_naive
            else:
                naive = False
                if stamp.__class__ is str:
                    try:
                        moment = fromiso(stamp)
                    except ValueError:
                        moment = parse_text_timestamp(stamp)
                else:
                    moment = parse_epoch(stamp)
                if moment is None:
                    stats.problem(
                        "bad_timestamp",
                        "lines with an unreadable timestamp skipped",
                        f"at line {number} of {label}: {stamp!r:.60}",
                    )
                    continue
                if moment.tzinfo is not utc:
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=utc)
                        naive = True
                    else:
                        moment = moment.astimezone(utc)
                # Only strings are cached (True == 1 must not reuse the parse of epoch 1).
                last_text = stamp if stamp.__class__ is str else None
                last_moment, last_naive = moment, naive
            if naive:  # inline, not stats.problem(): every line of a naive file comes here
                stats.naive_timestamps += 1
                if stats.naive_timestamps == 1:
                    stats.warnings.append(
                        f"naive timestamps read as UTC (first at line {number} of {label})"
                    )
            if (start is not None and moment < start) or (end is not None and moment >= end):
                stats.out_of_window += 1
                continue
            # GPT-Trader wrote numbers as strings; our writer never does. A line that may be a
            # duplicate (extra_time) is always converted: duplicates are compared as numbers.
            if legacy and (extra_time or numbers_for is None or kind in numbers_for):
                for key, value in obj.items():
                    if value.__class__ is str and key in numeric:
                        try:  # to_number(value), inline: this loop runs for every legacy field
                            converted = float(value)
                        except ValueError:
                            continue
                        if converted - converted == 0:  # finite (NaN and inf kept as written)
                            obj[key] = converted  # replacing a value while iterating is allowed
                if extra_time:  # bot_v2 may write a metric twice, equal but for its ``time``
                    if kind == previous[0] and moment == previous[1] and obj == previous[2]:
                        stats.duplicates += 1
                        continue
                    previous = (kind, moment, obj)
            if kind not in understood:
                unknown[kind] = unknown.get(kind, 0) + 1
            events += 1
            if rows:
                yield (moment, kind, obj)
                continue
            event = new_event(Event)
            set_timestamp(event, moment)
            set_event_type(event, kind)
            set_fields(event, obj)
            yield event
    finally:  # counted here, not per line: the stats are complete once iteration stops
        stats.lines += number - first
        stats.events += events
        if file is not None:
            file.close()


def _unparsed(stats: ReadStats, raw: bytes, number: int, label: str) -> None:
    """Account for a line the JSON parser refused."""
    if not raw.strip():
        stats.blank += 1
    elif not raw.endswith(b"\n"):  # only the last line can lack its newline
        if not stats.truncated_last_line:
            stats.truncated_last_line = True
            stats.warnings.append(
                f"last line truncated (no newline, not JSON) and skipped (line {number} of {label})"
            )
    else:
        stats.problem("corrupt", _CORRUPT, f"at line {number} of {label}")


def _legacy(obj: dict[str, Any]) -> tuple[Any, str | None, dict[str, Any], bool]:
    """(raw timestamp or None, event type or None, fields, whether a ``time`` was there beside
    the payload's own ``timestamp``) of a line not in our plain shape."""
    data = obj.get("data")
    if data.__class__ is dict and _ENVELOPE.issuperset(obj):
        del obj["data"]
        obj.update(data)  # the payload's own keys win over the envelope's
    stamp = obj.pop("timestamp", None)
    written = obj.pop("time", None)  # the store's clock (bot_v2 adds it to every line)
    kind = obj.pop("event_type", None)
    if isinstance(kind, str) and kind:
        if obj.get("type") == "metric" or obj.get("type") == kind:
            del obj["type"]  # GPT-Trader's category, or the same type written twice
    else:
        kind = obj.pop("type", None)
        if not (isinstance(kind, str) and kind):
            kind = None
    if kind in _NESTED:
        kind, obj = unnest(kind, obj)
        inner = obj.pop("timestamp", None)  # a nested payload's own time wins
        if inner is not None:
            stamp = inner
    if stamp is None:
        return written, kind, obj, False
    return stamp, kind, obj, written is not None
