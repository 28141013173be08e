"""EventsTail reads only what was appended, never half a line, and follows rotation and
truncation."""

from __future__ import annotations

import os
from pathlib import Path

from trader_telemetry.compat.tail import EventsTail


def line(n: int) -> bytes:
    return b'{"n": %d}\n' % n


def test_a_line_is_handed_out_only_once_its_newline_arrives(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(1) + b'{"n": ')
    tail = EventsTail(path)
    assert tail.read().lines == [line(1)]
    with path.open("ab") as out:
        out.write(b"2}")
    assert tail.read().lines == []
    with path.open("ab") as out:
        out.write(b"\n" + line(3))
    read = tail.read()
    tail.close()
    assert read.lines == [line(2), line(3)]
    assert read.first_line_number == 2
    assert tail.bytes_read == path.stat().st_size


def test_only_appended_bytes_are_read(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line(i) for i in range(10_000)))
    tail = EventsTail(path)
    assert len(tail.read().lines) == 10_000
    before = tail.bytes_read
    with path.open("ab") as out:
        out.write(line(10_000))
    read = tail.read()
    tail.close()
    assert read.lines == [line(10_000)]
    assert read.bytes_read == tail.bytes_read - before == len(line(10_000))


def test_the_budget_splits_a_large_read(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line(i) for i in range(1000)))
    tail = EventsTail(path, chunk_bytes=1000)
    reads = [tail.read()]
    while reads[-1].more:
        reads.append(tail.read())
    tail.close()
    assert len(reads) > 5
    assert all(read.bytes_read <= 1000 for read in reads)
    assert [ln for read in reads for ln in read.lines] == [line(i) for i in range(1000)]


def test_rotation_drains_the_old_file_then_reads_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(1))
    tail = EventsTail(path)
    assert tail.read().lines == [line(1)]
    with path.open("ab") as late:  # the writer still holds the old file
        os.rename(path, tmp_path / "events.jsonl.1")
        late.write(line(2) + b'{"torn')
    path.write_bytes(line(3))
    read = tail.read()
    tail.close()
    assert read.rotated
    assert read.lines == [line(2), b'{"torn', line(3)]


def test_truncation_restarts_from_the_beginning(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(1) + line(2))
    tail = EventsTail(path)
    tail.read()
    with path.open("r+b") as file:  # copytruncate: same inode, shorter
        file.truncate(0)
    path.write_bytes(line(3))
    read = tail.read()
    tail.close()
    assert read.truncated
    assert read.lines == [line(3)]


def test_a_missing_file_is_reported_and_read_once_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventsTail(path)
    assert tail.read().problem == "missing"
    path.write_bytes(line(1))
    read = tail.read()
    tail.close()
    assert read.problem is None
    assert read.lines == [line(1)]


def test_a_directory_is_unreadable(tmp_path: Path) -> None:
    tail = EventsTail(tmp_path)
    assert tail.read().problem == "unreadable"
