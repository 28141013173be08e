"""The lines of a file in bounded memory: read in blocks, a line longer than the cap skipped as
it streams past and counted, never joined."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, Final

from .read_stats import ReadStats

__all__ = ["MAX_LINE_BYTES", "bounded_lines"]

MAX_LINE_BYTES: Final = 1024 * 1024
"""Longest line read (1 MiB): a longer one is skipped and counted as ``oversized_line``."""

# Bytes read at a time. 1 MiB, not more: a larger block's buffers are mapped afresh from the
# system for each block (8 MiB cost about 0.2 s of page faults per 160 MB, and more cache misses).
_BLOCK: Final = 1024 * 1024


def bounded_lines(
    file: BinaryIO,
    stats: ReadStats,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The lines of ``file`` (each with its newline; the last may lack it), read in blocks.

    Memory stays within a block plus ``max_line_bytes`` whatever the file holds: a line longer
    than ``max_line_bytes`` is dropped as it streams past (never joined, never copied twice)
    and counted in ``stats.oversized_line`` and ``stats.lines``; the line after it is read as
    usual. ``progress`` is called with the bytes read so far after each block.

    Example:
        >>> import io
        >>> stats = ReadStats()
        >>> data = io.BytesIO(b"a\\n" + b"x" * 50 + b"\\nb\\n")
        >>> list(bounded_lines(data, stats, max_line_bytes=10)), stats.oversized_line
        ([b'a\\n', b'b\\n'], 1)
    """
    return itertools.chain.from_iterable(_blocks(file, stats, max_line_bytes, progress))


def _blocks(  # noqa: PLR0912 - one loop over blocks, its cases side by side
    file: BinaryIO,
    stats: ReadStats,
    max_line: int,
    progress: Callable[[int], None] | None,
) -> Iterator[Iterable[bytes]]:
    partial = b""
    skipping = False  # inside a line already longer than max_line
    done = 0
    while True:
        block = file.read(_BLOCK)
        if not block:
            break
        done += len(block)
        if progress is not None:
            progress(done)
        cut = block.rfind(b"\n") + 1
        if skipping:
            if not cut:
                continue  # still inside the oversized line: drop the block
            first = block.find(b"\n") + 1
            _oversized(stats)
            skipping = False
            block, cut = block[first:], cut - first
        if not cut:
            if len(partial) + len(block) > max_line:
                partial, skipping = b"", True
            else:
                partial += block  # bounded by max_line: no quadratic growth
            continue
        data = partial + block[:cut] if partial else block[:cut]
        partial = block[cut:]
        if len(partial) > max_line:
            partial, skipping = b"", True
        lines = io.BytesIO(data).readlines()  # splits on b"\n" only, at C speed
        if len(data) > max_line and max(map(len, lines)) > max_line:
            kept = [line for line in lines if len(line) <= max_line]
            for _ in range(len(lines) - len(kept)):
                _oversized(stats)
            lines = kept
        yield lines
    if skipping:
        _oversized(stats)
    elif partial:
        yield (partial,)


def _oversized(stats: ReadStats) -> None:
    stats.lines += 1
    stats.problem(
        "oversized_line", "lines longer than the maximum skipped", f"near line {stats.lines}"
    )
