"""The command line: the demo bot as a newcomer runs it, in a real subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest

from trader_telemetry.cli import main

from .cli_process import run_cli


def test_demo_runs_n_cycles_and_exits_cleanly() -> None:
    result = run_cli("demo", "--port", "0", "--cycles", "3", "--interval", "0", "--seed", "1")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("trader-telemetry demo: metrics on http://127.0.0.1:")
    assert "stopped" in result.stdout
    assert "Traceback" not in result.stderr


DEMO = [sys.executable, "-m", "trader_telemetry", "demo", "--port", "0", "--interval", "0.05"]
DEMO += ["--namespace", "coinbase_trader", "--seed", "2"]


def run_demo_until(stop: signal.Signals, *, sigint: Any) -> tuple[int, str, str, str]:
    """Run the demo until it has recorded a cycle, send ``stop``: (exit status, its first
    line, the rest of its output, its stderr).

    The demo starts with SIGINT ``sigint``: a caught signal is reset to the default at exec (so
    Python installs its KeyboardInterrupt handler), an ignored one stays ignored. The test
    runner may itself run with SIGINT ignored, as a shell starts its background jobs: without
    this, the demo would inherit that.
    """
    previous = signal.signal(signal.SIGINT, sigint)
    try:
        with subprocess.Popen(
            DEMO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        ) as process:  # fmt: skip
            first, stdout, stderr = _scrape_then_stop(process, stop)
    finally:
        signal.signal(signal.SIGINT, previous)
    return process.returncode, first, stdout, stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_demo_serves_live_metrics_and_stops_cleanly(stop: signal.Signals) -> None:
    status, first, stdout, stderr = run_demo_until(stop, sigint=signal.default_int_handler)
    assert "(Ctrl-C to stop)" in first
    assert status == 0, stderr
    assert "stopped" in stdout
    assert "Traceback" not in stderr


def test_demo_started_with_sigint_ignored_says_sigterm_stops_it() -> None:
    """Started as a background job (SIGINT ignored), the demo does not promise Ctrl-C."""
    status, first, stdout, stderr = run_demo_until(signal.SIGTERM, sigint=signal.SIG_IGN)
    assert "(SIGINT is ignored here: SIGTERM stops it)" in first
    assert "Ctrl-C" not in first
    assert status == 0, stderr
    assert "stopped" in stdout


def _scrape_then_stop(process: subprocess.Popen[str], stop: signal.Signals) -> tuple[str, str, str]:
    """Scrape until the first cycle recorded, send ``stop``; the first line and the rest."""
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split("metrics on ")[1].split()[0]
        deadline = time.monotonic() + 10
        body = ""
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read().decode()
            if "coinbase_trader_equity " in body:  # the first cycle has recorded the account
                break
            time.sleep(0.1)
        assert "coinbase_trader_equity " in body
        process.send_signal(stop)
        return (line, *process.communicate(timeout=10))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_demo_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = run_cli("demo", "--port", str(port), "--cycles", "1")
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stdout
    assert "already in use" in result.stdout


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 64
    assert "demo" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("trader-telemetry ")


def test_console_script_is_installed() -> None:
    script = os.path.join(os.path.dirname(sys.executable), "trader-telemetry")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
