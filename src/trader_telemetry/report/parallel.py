"""Read big event files on several cores: split them into line-aligned byte ranges, fold each
range in its own process, and merge the tallies in file order.

The report is bound by parsing JSON in one Python thread (about 0.7 M lines/s with orjson); a
second core nearly halves the wall time of a large day. Small inputs stay in-process: starting a
worker costs a few milliseconds when this process can fork, a quarter of a second or more when it
must spawn one (the worker imports the package). A spawned worker would also run the caller's
main script again before reading (that is how ``multiprocessing`` rebuilds ``__main__``): when
that script is a bot's, the report reads in this process instead (:func:`spawn_would_run`). Any
failure of the worker pool (no ``fork``/``spawn`` allowed, a worker killed) falls back to reading
in-process, so the report never depends on it.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, Final, cast

from ..config import Thresholds
from ..events.bounded_lines import MAX_LINE_BYTES, bounded_lines
from ..events.read_stats import ReadStats
from ..events.reader import parse_rows
from .tally import CONVERTED_TYPES, Tally

__all__ = [
    "CHUNKS_PER_WORKER",
    "PARALLEL_MIN_BYTES",
    "Chunk",
    "default_workers",
    "fold_chunks",
    "plan_chunks",
    "spawn_would_run",
    "start_method",
]

logger = logging.getLogger("trader_telemetry")

#: Below this many bytes of events in all, the report reads in-process.
PARALLEL_MIN_BYTES: Final = 48 * 1024 * 1024
#: Ranges planned per process: the first process to finish a range takes the next one.
CHUNKS_PER_WORKER: Final = 8


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


def start_method() -> str:
    """How to start the workers: ``fork`` on Linux when this process runs no other thread (a
    worker is ready in milliseconds and imports nothing), else ``spawn`` (forking a process
    whose other threads may hold a lock copies the lock held; macOS forbids fork with some
    system libraries).

    Example:
        >>> start_method() in ("fork", "spawn")
        True
    """
    if sys.platform == "linux" and threading.active_count() == 1 and _os_threads() == 1:
        return "fork"
    return "spawn"


def spawn_would_run(main: ModuleType | None = None) -> str | None:
    """The caller's code a spawned worker would run before reading, or None when it runs none.

    ``multiprocessing`` rebuilds the parent's ``__main__`` (``main``; default: this process's)
    in every spawned process: a script (``python bot.py``) runs again from the top, as
    ``__mp_main__``, and so does a module run with ``python -m bot.main``. Without a
    ``__main__`` guard that is the whole bot: its loop, its orders. A package's ``__main__``
    (``python -m bot``, ``python -m trader_telemetry``) is skipped by ``multiprocessing``
    itself, and so is a main with no file (``python -c``, a REPL).

    Example:
        >>> import importlib.machinery, types
        >>> script = types.ModuleType("__main__")
        >>> script.__file__ = "/srv/bot/bot.py"
        >>> spawn_would_run(script)
        '/srv/bot/bot.py'
        >>> script.__spec__ = importlib.machinery.ModuleSpec("bot.__main__", None)
        >>> spawn_would_run(script) is None  # python -m bot
        True
    """
    if main is None:
        main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if isinstance(name, str):
        return None if name == "__main__" or name.endswith(".__main__") else name
    path = getattr(main, "__file__", None)
    return path if isinstance(path, str) else None


def _os_threads() -> int:
    """Threads of this process as the kernel counts them (a C library's own threads included,
    which ``threading`` does not see); 0 when it cannot tell."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def plan_chunks(
    files: list[Path], workers: int, min_bytes: int, per_worker: int = 1
) -> list[Chunk] | None:
    """Line-aligned ranges covering ``files``, or None to read serially.

    This process reads from the front and the workers from the back (see :func:`fold_chunks`),
    so they meet about ``total / workers`` bytes in. The ranges shrink toward that point, each
    about 0.7 times the one before it, down to ``total / (workers * per_worker * 4)``: the first
    ones are large (few parts to merge), the last either side waits for are short. A file
    boundary is always a cut.

    Args:
        files: The event files in reading order (missing ones are left to the caller).
        workers: Processes available, the calling one included.
        min_bytes: Below this total the split is not worth a process start.
        per_worker: About half the ranges per process (1: one range per process).
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
    cuts = _cut_points(total, workers, per_worker)
    chunks: list[Chunk] = []
    offset = 0
    for path, size in sizes:
        inside = [cut - offset for cut in cuts if offset < cut < offset + size]
        offset += size
        starts = [0]
        try:
            with path.open("rb") as file:
                for point in inside:
                    file.seek(point - 1)
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


#: Each range is about this fraction of the one before it, toward the meeting point.
_SHRINK: Final = 0.7


def _cut_points(total: int, workers: int, per_worker: int) -> list[int]:
    """Byte offsets (into all the files end to end) where ranges begin, the first excluded.

    Example:
        >>> _cut_points(100, 2, 1)  # one range each side of the meeting point
        [50]
        >>> _cut_points(1000, 2, 2)  # 500 either side, down to 1000 / 16
        [150, 255, 329, 391, 453, 500, 547, 609, 671, 745, 850]
    """
    if per_worker <= 1:
        return [total * i // workers for i in range(1, workers)]
    meet = total // workers
    smallest = max(1, total // (workers * per_worker * 4))

    def pieces(length: int) -> list[int]:
        """Sizes covering ``length``, the largest first, shrinking toward its far end."""
        out: list[int] = []
        left, size = length, length * (1 - _SHRINK)
        while left > 0:
            piece = min(left, max(smallest, round(size)))
            if left - piece < smallest // 2:  # no sliver at the end
                piece = left
            out.append(piece)
            left -= piece
            size *= _SHRINK
        return out

    front = list(itertools.accumulate(pieces(meet)))  # ends of the front ranges
    back = [total - end for end in itertools.accumulate(pieces(total - meet))]
    return sorted(set(front + back) - {0, total})


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
    """The tally and read statistics of one range (run in a worker process).

    Events before ``start`` reach the tally too: they set the state carried into the window.
    """
    tally = Tally(thresholds, start=start)
    stats = ReadStats()
    label = os.path.basename(chunk.path)
    with open(chunk.path, "rb") as file:
        file.seek(chunk.start)
        remaining = None if chunk.end is None else chunk.end - chunk.start
        # The range's lines, read in large blocks by the reader's bounded splitter (a line over
        # its maximum is skipped and counted, in bounded memory), handed straight to the parser.
        lines = bounded_lines(cast("BinaryIO", _Range(file, remaining)), stats)
        rows = parse_rows(lines, label=label, end=end, stats=stats, numbers_for=CONVERTED_TYPES)
        tally.fold_rows(rows)
    return tally, stats


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
    """Fold ``chunks`` into ``tally`` and ``stats``, merged in order.

    A pool of ``workers - 1`` processes takes chunks from the back (two per process in flight,
    so none waits for the next) while this process takes them from the front, until they meet:
    both cores stay busy to the end whatever the worker's start-up costs (a spawned worker
    imports the package, a forked one nothing: see :func:`start_method`) or the machine's load;
    :func:`plan_chunks` makes the chunks where they meet short, so neither waits long. Nothing
    submitted is ever cancelled (a cancelled future trips Python 3.11's pool if it breaks
    later); a part whose worker failed is read here.
    """
    pool = _start_pool(workers - 1)
    depth = 2 * max(1, workers - 1)
    in_flight: dict[int, Future[tuple[Tally, ReadStats]]] = {}
    back = len(chunks)  # chunks[back:] belong to the pool
    lines_before: dict[str, int] = {}
    managers: list[threading.Thread] = []  # the pool's thread, once let go: joined at the end
    done = 0
    try:
        for front, chunk in enumerate(chunks):
            # Keep the pool fed: finished parts wait in ``in_flight`` for their turn to merge.
            while (
                pool is not None
                and back - 1 > front
                and sum(not f.done() for f in in_flight.values()) < depth
            ):
                try:
                    in_flight[back - 1] = pool.submit(
                        fold_chunk, chunks[back - 1], start, end, tally.thresholds
                    )
                except Exception as exc:  # noqa: BLE001 - e.g. no process could be started
                    logger.warning("report: no worker processes (%r); reading in-process", exc)
                    _let_go(pool, managers)
                    pool = None
                    break
                back -= 1
            if pool is not None and back - 1 <= front:
                # Nothing more to submit: the workers exit once their parts are done, while
                # this process reads and merges (the finally below then only joins them).
                _let_go(pool, managers)
                pool = None
            result = None
            future = in_flight.pop(front, None)
            if future is not None:  # the pool's: wait for it
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a broken pool must not lose the report
                    logger.warning("report: a worker failed (%r); reading that part here", exc)
            if result is None:
                result = fold_chunk(chunk, start, end, tally.thresholds)
            part_tally, part_stats = result
            offset = lines_before.get(chunk.path, 0)
            lines_before[chunk.path] = offset + part_stats.lines
            tally.merge(part_tally)
            stats.merge(part_stats, offset)
            done += _chunk_bytes(chunk)
            if progress is not None:
                progress(done)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for manager in managers:
            manager.join()


def _start_pool(processes: int) -> ProcessPoolExecutor | None:
    """A pool of ``processes`` workers, or None when none may or can be started."""
    method = start_method()
    if method == "spawn" and (caller := spawn_would_run()) is not None:
        logger.info(
            "report: reading in this process: a spawned worker would run %s again first", caller
        )
        return None
    try:
        return ProcessPoolExecutor(
            max_workers=max(1, processes), mp_context=multiprocessing.get_context(method)
        )
    except (OSError, ValueError) as exc:
        logger.warning("report: no worker processes (%s); reading in-process", exc)
        return None


def _let_go(pool: ProcessPoolExecutor, managers: list[threading.Thread]) -> None:
    """Shut ``pool`` down without waiting, keeping its manager thread in ``managers`` to join.

    ``shutdown(wait=False)`` forgets that thread, and a later ``shutdown(wait=True)`` then joins
    nothing. Left running when the caller's process exits, the thread races Python 3.11's exit
    hook, which writes to the wake-up pipe the thread is closing ("Exception ignored ... Bad
    file descriptor"); joined here, it is gone before the report returns.
    """
    manager = getattr(pool, "_executor_manager_thread", None)
    if isinstance(manager, threading.Thread):
        managers.append(manager)
    pool.shutdown(wait=False)


def _chunk_bytes(chunk: Chunk) -> int:
    if chunk.end is not None:
        return chunk.end - chunk.start
    try:
        return max(0, os.path.getsize(chunk.path) - chunk.start)
    except OSError:
        return 0
