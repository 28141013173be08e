"""Read big event files on several cores: split them into line-aligned byte ranges, fold each
range in its own process, and merge the tallies in file order.

The report is bound by parsing JSON in one Python thread (about 0.7 M lines/s with orjson); a
second core nearly halves the wall time of a large day. Small inputs stay in-process: starting a
worker costs about a quarter of a second (it imports the package). Any failure of the worker pool
(no ``fork``/``spawn`` allowed, a worker killed) falls back to reading in-process, so the report
never depends on it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Final, cast

from ..config import Thresholds
from ..events.reader import MAX_LINE_BYTES, ReadStats, bounded_lines, parse_lines
from .tally import Tally

__all__ = ["PARALLEL_MIN_BYTES", "Chunk", "default_workers", "fold_chunks", "plan_chunks"]

logger = logging.getLogger("trader_telemetry")

#: Below this many bytes of events in all, the report reads in-process.
PARALLEL_MIN_BYTES: Final = 48 * 1024 * 1024
_LINE_REF = re.compile(r"line (\d+) of")
_COUNTS: Final = (
    "lines", "events", "blank", "corrupt", "missing_timestamp", "bad_timestamp",
    "missing_type", "naive_timestamps", "out_of_window", "oversized_line", "duplicates",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Chunk:
    """One byte range ``[start, end)`` of one file, starting at a line start.

    ``end`` is None for "to the end of the file" (the last range of a file), so lines appended
    while the report runs are read as by the serial reader.
    """

    path: str
    start: int
    end: int | None


def default_workers() -> int:
    """Processes to use: the cores this process may run on, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def plan_chunks(files: list[Path], workers: int, min_bytes: int) -> list[Chunk] | None:
    """Line-aligned ranges of about ``total / workers`` bytes, or None to read serially.

    Args:
        files: The event files in reading order (missing ones are left to the caller).
        workers: Processes available, the calling one included.
        min_bytes: Below this total the split is not worth a process start.
    """
    sizes = []
    for path in files:
        try:
            sizes.append((path, path.stat().st_size))
        except OSError:
            return None  # the serial reader reports it
    total = sum(size for _, size in sizes)
    if workers < 2 or total < min_bytes:
        return None
    target = total / workers
    chunks: list[Chunk] = []
    for path, size in sizes:
        pieces = max(1, round(size / target))
        starts = [0]
        try:
            with path.open("rb") as file:
                for i in range(1, pieces):
                    file.seek(size * i // pieces - 1)
                    # To the start of the next line, reading at most a line's maximum: a split
                    # point inside an oversized line is dropped (never read whole).
                    file.readline(MAX_LINE_BYTES + 1)
                    if starts[-1] < file.tell() < size:
                        file.seek(file.tell() - 1)
                        if file.read(1) == b"\n":
                            starts.append(file.tell())
        except OSError:
            return None  # unreadable: the serial reader reports it
        ends: list[int | None] = [*starts[1:], None]
        chunks += [Chunk(str(path), a, b) for a, b in zip(starts, ends, strict=True)]
    return chunks if len(chunks) > 1 else None


def _lines(chunk: Chunk, stats: ReadStats) -> Iterator[bytes]:
    """The lines of ``chunk`` (each with its newline), read in large blocks by the reader's
    bounded splitter (a line over its maximum is skipped and counted, in bounded memory)."""
    with open(chunk.path, "rb") as file:
        file.seek(chunk.start)
        remaining = None if chunk.end is None else chunk.end - chunk.start
        yield from bounded_lines(cast("BinaryIO", _Range(file, remaining)), stats)


class _Range:
    """The bytes of an open file from its position, at most ``remaining`` (None: to the end)."""

    def __init__(self, file: BinaryIO, remaining: int | None) -> None:
        self._file, self._remaining = file, remaining

    def read(self, size: int = -1) -> bytes:
        if self._remaining is None:
            return self._file.read(size)
        data = self._file.read(self._remaining if size < 0 else min(size, self._remaining))
        self._remaining -= len(data)
        return data


def fold_chunk(
    chunk: Chunk, start: datetime | None, end: datetime | None, thresholds: Thresholds
) -> tuple[Tally, ReadStats]:
    """The tally and read statistics of one range (run in a worker process)."""
    tally = Tally(thresholds)
    stats = ReadStats()
    label = os.path.basename(chunk.path)
    tally.fold(parse_lines(_lines(chunk, stats), label=label, start=start, end=end, stats=stats))
    return tally, stats


def _merge_stats(into: ReadStats, later: ReadStats, line_offset: int) -> None:
    """Add ``later``'s counts; keep each kind of warning from where it was first met."""
    known = {warning.split(" (", 1)[0] for warning in into.warnings}
    for warning in later.warnings:
        kind = warning.split(" (", 1)[0]
        if kind not in known:
            known.add(kind)
            into.warnings.append(
                _LINE_REF.sub(lambda m: f"line {int(m.group(1)) + line_offset} of", warning)
            )
    for name in _COUNTS:
        setattr(into, name, getattr(into, name) + getattr(later, name))
    into.truncated_last_line = into.truncated_last_line or later.truncated_last_line
    for kind, count in later.unknown_types.items():
        into.unknown_types[kind] = into.unknown_types.get(kind, 0) + count


def fold_chunks(
    chunks: list[Chunk],
    *,
    tally: Tally,
    stats: ReadStats,
    start: datetime | None,
    end: datetime | None,
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Fold ``chunks`` into ``tally`` and ``stats``: the first in this process, the rest in a
    pool of ``workers - 1`` processes, merged in order."""
    results: list[tuple[Tally, ReadStats] | None] = [None] * len(chunks)
    context = multiprocessing.get_context("spawn")  # no fork: the caller may have threads
    pending: list[Future[tuple[Tally, ReadStats]]] = []
    try:
        pool = ProcessPoolExecutor(max_workers=max(1, workers - 1), mp_context=context)
    except (OSError, ValueError) as exc:
        logger.warning("report: no worker processes (%s); reading in-process", exc)
        pool = None
    try:
        if pool is not None:
            pending = [
                pool.submit(fold_chunk, chunk, start, end, tally.thresholds) for chunk in chunks[1:]
            ]
        results[0] = fold_chunk(chunks[0], start, end, tally.thresholds)
        done = _chunk_bytes(chunks[0])
        if progress is not None:
            progress(done)
        for i, chunk in enumerate(chunks[1:], 1):
            try:
                results[i] = pending[i - 1].result() if pending else None
            except Exception as exc:  # noqa: BLE001 - a broken pool must not lose the report
                logger.warning("report: a worker failed (%r); reading that part in-process", exc)
            if results[i] is None:
                results[i] = fold_chunk(chunk, start, end, tally.thresholds)
            done += _chunk_bytes(chunk)
            if progress is not None:
                progress(done)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    lines_before: dict[str, int] = {}
    for chunk, result in zip(chunks, results, strict=True):
        assert result is not None  # noqa: S101 - every slot was filled above
        part_tally, part_stats = result
        offset = lines_before.get(chunk.path, 0)
        lines_before[chunk.path] = offset + part_stats.lines
        tally.merge(part_tally)
        _merge_stats(stats, part_stats, offset)


def _chunk_bytes(chunk: Chunk) -> int:
    if chunk.end is not None:
        return chunk.end - chunk.start
    try:
        return max(0, os.path.getsize(chunk.path) - chunk.start)
    except OSError:
        return 0
