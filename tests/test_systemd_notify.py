"""The systemd notify protocol over a real unix datagram socket: ``READY=1`` once the endpoint
is up, ``WATCHDOG=1`` while cycles complete (and not while the loop is stuck), ``STOPPING=1``
when SIGTERM starts the flush (a real subprocess)."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import trader_telemetry as tt
from trader_telemetry.lifecycle.systemd import watchdog_interval

from .bot_process import running_bot

WATCHDOG_USEC = 200_000  # pings checked every 0.1 s


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
        yield sock


def receive(sock: socket.socket, timeout: float) -> str | None:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096).decode()
    except TimeoutError:
        return None


def test_ready_then_watchdog_tied_to_completed_cycles(notify_socket: socket.socket) -> None:
    telemetry = tt.Telemetry(namespace="sd", port=0)
    try:
        assert receive(notify_socket, 5) == "READY=1"
        for _ in range(3):
            with telemetry.cycle_timer():
                pass
            assert receive(notify_socket, 5) == "WATCHDOG=1"
        # The loop stops completing cycles (hung, or dead): no ping for several periods.
        with telemetry.cycle_timer():
            assert receive(notify_socket, 3 * WATCHDOG_USEC / 1e6) is None
        assert receive(notify_socket, 5) == "WATCHDOG=1"  # it completed: pinged again
    finally:
        telemetry.shutdown()
    while (late := receive(notify_socket, 0.3)) == "WATCHDOG=1":  # one may have been on its way
        pass
    assert late is None  # a shut-down instance says nothing (the process may go on)


def test_sigterm_sends_stopping(notify_socket: socket.socket) -> None:
    script = """
        import time, trader_telemetry as tt
        telemetry = tt.Telemetry(namespace="sd", serve=False)
        print("ready", flush=True)
        time.sleep(60)
    """
    env = {"NOTIFY_SOCKET": os.environ["NOTIFY_SOCKET"]}
    with running_bot(script, env) as bot:
        assert receive(notify_socket, 10) == "READY=1"
        os.kill(bot.pid, signal.SIGTERM)
        assert receive(notify_socket, 10) == "STOPPING=1"
        assert bot.wait(timeout=20) == -signal.SIGTERM


def test_abstract_socket_and_no_watchdog_without_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"tt-notify-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        with tt.Telemetry(namespace="sd", serve=False) as telemetry:
            assert receive(sock, 5) == "READY=1"
            with telemetry.cycle_timer():
                pass
            assert receive(sock, 0.3) is None  # no watchdog asked for: no pings


def test_watchdog_interval_is_half_the_period_for_this_process_only() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "4000000"}) == 2.0
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({}) is None
