"""Timestamps and numbers as the bots' files write them: ISO 8601 with or without an offset,
SQLite's ``YYYY-MM-DD HH:MM:SS``, epoch seconds or milliseconds; numbers as JSON numbers or as
strings. Nothing here raises on a bad value: it is None (or left as it was)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

__all__ = ["as_float", "parse_epoch", "parse_text_timestamp", "read_timestamp", "to_number"]

_MILLIS_ABOVE: Final = 1e11  # epoch numbers above this are milliseconds (1e11 s is year 5138)


def read_timestamp(value: object) -> tuple[datetime | None, bool]:
    """(the instant, whether it had no offset) of a timestamp as the reader accepts it: ISO
    8601 (``Z``, an offset or none), ``YYYY-MM-DD HH:MM:SS``, epoch seconds or milliseconds.

    Example:
        >>> read_timestamp("2026-11-30 00:02:01")[0].isoformat(), read_timestamp(1e400)
        ('2026-11-30T00:02:01+00:00', (None, False))
    """
    moment: datetime | None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = parse_text_timestamp(value)
    else:
        moment = parse_epoch(value)
    if moment is None:
        return None, False
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC), True
    return moment.astimezone(UTC), False


def parse_text_timestamp(text: str) -> datetime | None:
    """A timestamp string ``fromisoformat`` refused: ``z``, `` UTC``, epoch digits."""
    cleaned = text.strip()
    if cleaned[-4:].upper() == " UTC":
        cleaned = cleaned[:-4] + "+00:00"
    elif cleaned[-1:] in {"z", "Z"}:
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        pass
    try:
        seconds = float(cleaned)
    except ValueError:
        return None
    return parse_epoch(seconds)


def parse_epoch(value: object) -> datetime | None:
    """Epoch seconds, or milliseconds when above 1e11; None for anything else."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer past the float range (the json module reads any size)
        return None
    if not math.isfinite(seconds):
        return None
    if abs(seconds) > _MILLIS_ABOVE:
        seconds /= 1000.0
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def to_number(value: object) -> object:
    """``value`` as a float when it is a string holding a finite number, else unchanged."""
    if not isinstance(value, str):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def as_float(value: object) -> float | None:
    """A finite number from a number or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = to_number(value)
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            return None
        return number if math.isfinite(number) else None
    return None
