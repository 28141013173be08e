"""A bot in a real subprocess: started with a script, ready once it prints ``ready``, and
stopped by its own pid (a signal of the test's choice)."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["free_port", "read_line", "running_bot", "start_bot"]


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


def read_line(process: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """The next line the bot prints, waiting at most ``timeout`` seconds ("" if it exits)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"no line from the bot within {timeout} s")
    return process.stdout.readline().strip()


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
