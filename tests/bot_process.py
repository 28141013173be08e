"""A bot in a real subprocess: started with a script, ready once it prints ``ready``, and
stopped by its own pid (a signal of the test's choice)."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["free_port", "read_line", "running_bot", "start_bot", "unread_text"]


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def start_bot(script: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Run ``script`` (dedented) in a fresh interpreter, stdout piped as text."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("TRADER_TELEMETRY_", "OTEL_"))
    }
    environment.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


#: Bytes read past the last line handed out, per process (read_line reads the pipe itself:
#: a TextIOWrapper would buffer lines that select() then never reports).
_pending: dict[int, bytes] = {}


def read_line(process: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """The next line the bot prints, waiting at most ``timeout`` seconds ("" if it exits)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    buffer = _pending.pop(process.pid, b"")
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _pending[process.pid] = buffer
            raise TimeoutError(f"no line from the bot within {timeout} s")
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return buffer.decode().strip()
        buffer += chunk
    line, _, rest = buffer.partition(b"\n")
    _pending[process.pid] = rest
    return line.decode().strip()


def unread_text(process: subprocess.Popen[str]) -> str:
    """What :func:`read_line` read past its last line (add it to ``communicate()``'s output)."""
    return _pending.pop(process.pid, b"").decode(errors="replace")


@contextmanager
def running_bot(script: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """The bot, already past its ``ready`` line; killed (by pid) on the way out if alive."""
    process = start_bot(script, env)
    try:
        line = read_line(process)
        if line != "ready":
            process.kill()
            _, err = process.communicate(timeout=10)
            raise AssertionError(f"bot did not start: {line!r}\n{err}")
        yield process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)
