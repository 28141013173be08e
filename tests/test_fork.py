"""``os.fork()`` in a bot with telemetry: the child lets the parent's port and files go (the
at-fork hook). A real fork, a real port, real files."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import pytest

import trader_telemetry as tt

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")


def test_forked_child_does_not_hold_the_port_or_write_the_files(tmp_path: Path) -> None:
    parent = tt.Telemetry(namespace="fork", port=0, data_dir=tmp_path)
    assert parent.server_address is not None
    host, port = parent.server_address
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, then wait for the parent's word
        code = 1
        try:
            os.close(to_child_w)
            os.close(from_child_r)
            parent.event("from_child", n=1)
            with parent.cycle_timer():
                pass
            report = {"closed": parent.closed, "dropped": forked_drops(parent)}
            os.write(from_child_w, json.dumps(report).encode() + b"\n")
            os.read(to_child_r, 1)  # alive until the parent has checked the port
            code = 0
        finally:
            os._exit(code)
    os.close(to_child_r)
    os.close(from_child_w)
    try:
        report = json.loads(os.read(from_child_r, 4096) or b"{}")
        parent.event("from_parent", n=2)
        parent.shutdown()
        # The child is alive: with the inherited socket open, this bind would fail, and a
        # connection would queue on the child's copy instead of being refused.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), timeout=2).close()
        successor = tt.Telemetry(namespace="fork", port=port)
        successor.shutdown()
        assert report["closed"] is True
        assert report["dropped"] >= 2  # its event and its cycle's (and health changes)
    finally:
        os.write(to_child_w, b"x")
        os.close(to_child_w)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = (tmp_path / "events.jsonl").read_text()
    assert '"from_parent"' in text
    assert '"from_child"' not in text
    assert json.loads((tmp_path / "metrics.json").read_text())["namespace"] == "fork"


def test_child_counts_its_events_as_dropped(tmp_path: Path) -> None:
    parent = tt.Telemetry(namespace="fork", serve=False, data_dir=tmp_path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            parent.event("from_child", n=1)
            parent.event("from_child", n=2)
            body = parent.render_metrics().body.decode()
            os.write(write_end, body.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    parent.shutdown()
    body = b"".join(chunks).decode()
    # The child's two events, and the health-change events its scrape emitted.
    match = re.search(r'fork_telemetry_dropped_events_total\{reason="forked"\} (\d+)', body)
    assert match is not None, body
    assert int(match.group(1)) >= 2


def forked_drops(telemetry: tt.Telemetry) -> int:
    """The child's own count of events dropped because it is a forked child."""
    body = telemetry.render_metrics().body.decode()
    match = re.search(r'_telemetry_dropped_events_total\{reason="forked"\} (\d+)', body)
    return 0 if match is None else int(match.group(1))
