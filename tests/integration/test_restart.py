"""A bot killed while Prometheus scrapes it binds its port again at once when restarted, and a
second live bot on the same port is still refused."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

import trader_telemetry as tt

from ..bot_process import free_port, read_line, running_bot, start_bot
from ..prometheus_process import running_prometheus
from .conftest import Prometheus

BOT = """
    import time
    import trader_telemetry as tt
    try:
        t = tt.Telemetry(namespace="restart", port={port})
    except tt.PortInUseError as error:
        print("in use:", error, flush=True)
        raise SystemExit(1)
    print("ready", flush=True)
    while True:
        with t.cycle_timer():
            time.sleep(0.01)
"""


def _wait_scraped(prom: Prometheus, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prom.query("restart_build_info"):
            return
        time.sleep(0.1)
    pytest.fail(f"the bot was never scraped: {prom.api('/api/v1/targets')}")


@pytest.mark.integration
def test_bot_killed_while_scraped_binds_again_within_a_second(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\n"
        "scrape_configs:\n  - job_name: bot\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{port}']\n"
    )
    with running_prometheus(tmp_path / "prometheus.yml") as url:
        prom = Prometheus(url, source=None)  # type: ignore[arg-type]
        with running_bot(BOT.format(port=port)) as bot:
            _wait_scraped(prom)
            # A client of our own holds a kept-alive connection too, as a scraper does.
            held = socket.create_connection(("127.0.0.1", port), timeout=5)
            held.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            assert held.recv(64).startswith(b"HTTP/1.1 200")
            os.kill(bot.pid, signal.SIGKILL)
            bot.wait(timeout=10)
        held.close()
        started = time.monotonic()
        restarted = start_bot(BOT.format(port=port))
        try:
            line = read_line(restarted)
            elapsed = time.monotonic() - started
            assert line == "ready", line
            # Interpreter start-up is most of the second on a loaded machine: the bind
            # itself must not wait for the old connections' TIME_WAIT (60 s on Linux).
            assert elapsed < 1.0 + _interpreter_start_seconds(), elapsed
            _wait_scraped(prom)
        finally:
            restarted.kill()
            restarted.communicate(timeout=10)


def _interpreter_start_seconds() -> float:
    """How long importing the library takes here (the restart's own start-up cost)."""
    started = time.monotonic()
    probe = start_bot("import trader_telemetry\nprint('ready', flush=True)")
    try:
        assert read_line(probe) == "ready"
        return time.monotonic() - started
    finally:
        probe.communicate(timeout=10)


def test_second_live_bot_on_the_same_port_is_refused() -> None:
    port = free_port()
    with running_bot(BOT.format(port=port)):
        with pytest.raises(tt.PortInUseError) as info:
            tt.Telemetry(namespace="restart", port=port)
        message = str(info.value)
        assert f"127.0.0.1:{port}" in message
        assert "port=0" in message
        assert "TRADER_TELEMETRY_PORT" in message
        second = start_bot(BOT.format(port=port))
        assert read_line(second).startswith("in use:")
        assert second.wait(timeout=10) == 1
        second.communicate(timeout=10)
