"""What a read of an events file saw: :class:`ReadStats`, the counts and warnings every reader
(JSON lines, SQLite, the split report's workers) fills and the report and ``serve`` show."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

__all__ = ["ReadStats"]


@dataclass(slots=True)
class ReadStats:
    """What :func:`read_events` saw, for the caller to report.

    Every line read lands in exactly one of ``events``, ``blank``, ``corrupt``,
    ``truncated_last_line``, ``missing_timestamp``, ``bad_timestamp``, ``missing_type``,
    ``out_of_window``, ``oversized_line`` or ``duplicates``; ``naive_timestamps`` counts events
    (in or out of the window) whose timestamp had no offset and was read as UTC. One instance
    may be passed to several reads (rotated files): the counts add up and each kind of problem
    is still described once.

    Attributes:
        lines: Lines read.
        events: Events yielded.
        blank: Empty or whitespace-only lines.
        corrupt: Lines that are not JSON or not a JSON object.
        truncated_last_line: The last line had no newline and did not parse (a torn write).
        missing_timestamp: Objects without ``timestamp``/``time``.
        bad_timestamp: Timestamps that could not be read.
        missing_type: Objects without ``event_type``/``type``.
        naive_timestamps: Timestamps without an offset, read as UTC.
        out_of_window: Events outside ``[start, end)``.
        oversized_line: Lines longer than the reader's ``max_line_bytes``, skipped unread.
        duplicates: bot_v2's double-written metric lines (equal to the line before but for
            ``time``), counted once.
        unknown_types: Events (yielded) of types neither the report nor ``serve`` maps, by type.
        warnings: One sentence per kind of problem met, in the order first met (added when
            its count leaves 0, so a reused instance does not repeat it).

    Example:
        >>> stats = ReadStats()
        >>> stats.lines, stats.warnings
        (0, [])
    """

    lines: int = 0
    events: int = 0
    blank: int = 0
    corrupt: int = 0
    truncated_last_line: bool = False
    missing_timestamp: int = 0
    bad_timestamp: int = 0
    missing_type: int = 0
    naive_timestamps: int = 0
    out_of_window: int = 0
    oversized_line: int = 0
    duplicates: int = 0
    unknown_types: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def problem(self, kind: str, what: str, where: str) -> None:
        """Count one ``kind`` of problem (a count field); the first also adds the warning
        ``"{what} (first {where})"``, whose text before `` (`` is what :meth:`merge` tells
        kinds apart by.

        Example:
            >>> stats = ReadStats()
            >>> stats.problem("corrupt", "corrupt lines skipped", "at line 3 of a.jsonl")
            >>> stats.problem("corrupt", "corrupt lines skipped", "at line 9 of a.jsonl")
            >>> stats.corrupt, stats.warnings
            (2, ['corrupt lines skipped (first at line 3 of a.jsonl)'])
        """
        count = getattr(self, kind) + 1
        setattr(self, kind, count)
        if count == 1:
            self.warnings.append(f"{what} (first {where})")

    def merge(self, later: ReadStats, line_offset: int = 0) -> None:
        """Add the counts of ``later`` (a read of the lines that follow); its warnings of kinds
        not met yet are appended, their "line N of" moved by ``line_offset`` (the lines of the
        same file read before ``later``'s part of it).

        Example:
            >>> first, later = ReadStats(), ReadStats()
            >>> later.problem("corrupt", "corrupt lines skipped", "at line 2 of a.jsonl")
            >>> first.merge(later, line_offset=100)
            >>> first.corrupt, first.warnings
            (1, ['corrupt lines skipped (first at line 102 of a.jsonl)'])
        """
        for name in _COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(later, name))
        self.truncated_last_line = self.truncated_last_line or later.truncated_last_line
        for kind, count in later.unknown_types.items():
            self.unknown_types[kind] = self.unknown_types.get(kind, 0) + count
        known = {warning.split(" (", 1)[0] for warning in self.warnings}
        for warning in later.warnings:
            kind = warning.split(" (", 1)[0]
            if kind not in known:
                known.add(kind)
                moved = _LINE_REF.sub(lambda m: f"line {int(m.group(1)) + line_offset} of", warning)
                self.warnings.append(moved)


_LINE_REF: Final = re.compile(r"line (\d+) of")
_COUNT_FIELDS: Final = (
    "lines", "events", "blank", "corrupt", "missing_timestamp", "bad_timestamp", "missing_type",
    "naive_timestamps", "out_of_window", "oversized_line", "duplicates",
)  # fmt: skip
