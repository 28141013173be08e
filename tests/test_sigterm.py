"""SIGTERM (``systemctl stop``, ``docker stop``, Kubernetes): with default settings the queued
events and the last ``metrics.json`` reach the disk and the process still dies of SIGTERM; a
handler of the bot's own is never replaced; ``handle_sigterm=False`` opts out. Real
subprocesses, real signals, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

import trader_telemetry as tt

from .bot_process import read_line, start_bot, unread_text

# Every event is emitted, then its number printed: each printed number must be on disk.
BOT = """
    import trader_telemetry as tt
    t = tt.Telemetry(
        namespace="term", port=0, data_dir={data_dir!r}, metrics_file_interval_seconds=3600,
        {extra}
    )
    {before}
    n = 0
    while True:
        n += 1
        with t.cycle_timer():
            t.event("tick", n=n)
        print(n, flush=True)
"""


def next_number(bot: subprocess.Popen[str]) -> int:
    line = read_line(bot)
    if not line:
        _, err = bot.communicate(timeout=10)
        raise AssertionError(f"the bot ended early:\n{err}")
    return int(line)


def run_until_signalled(tmp_path: Path, extra: str = "", before: str = "") -> tuple[int, int]:
    """Start the bot, SIGTERM it mid-loop; (exit status, last event number it printed)."""
    bot = start_bot(BOT.format(data_dir=str(tmp_path), extra=extra, before=before))
    last = 0
    try:
        while last < 2000:  # well into the loop, events in flight
            last = next_number(bot)
        os.kill(bot.pid, signal.SIGTERM)
        out, _ = bot.communicate(timeout=30)
        out = unread_text(bot) + out
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.communicate(timeout=10)
    whole = out.split("\n")[:-1]  # the text after the last newline may be cut by the signal
    return bot.returncode, max([last, *(int(line) for line in whole if line.isdigit())])


def event_numbers(data_dir: Path) -> set[int]:
    lines = (data_dir / "events.jsonl").read_text().splitlines()
    return {json.loads(line)["n"] for line in lines if '"tick"' in line}


def test_sigterm_leaves_every_queued_event_and_the_last_snapshot(tmp_path: Path) -> None:
    code, last = run_until_signalled(tmp_path)
    assert code == -signal.SIGTERM  # died of SIGTERM, as without the library
    missing = set(range(1, last + 1)) - event_numbers(tmp_path)
    assert not missing, f"{len(missing)} of {last} events lost, e.g. {sorted(missing)[:5]}"
    snapshot = json.loads((tmp_path / "metrics.json").read_text())
    assert snapshot["cycle_metrics"]["count"] >= last


def test_a_handler_of_the_bots_own_is_never_replaced(tmp_path: Path) -> None:
    # The bot's handler is installed before the Telemetry: ours must not replace it.
    before = "signal.signal(signal.SIGTERM, lambda *a: (print('mine'), sys.exit(7)))"
    script = "\n    import signal, sys" + BOT.replace("{before}", before)
    bot = start_bot(script.format(data_dir=str(tmp_path), extra=""))
    try:
        while next_number(bot) < 100:
            pass
        os.kill(bot.pid, signal.SIGTERM)
        out, _ = bot.communicate(timeout=30)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.communicate(timeout=10)
    assert bot.returncode == 7
    assert "mine" in out  # (possibly in the middle of a number's line)


def test_handle_sigterm_false_installs_nothing() -> None:
    # In a fresh interpreter: other tests' live instances keep ours installed in this one.
    script = """
        import signal
        import trader_telemetry as tt
        from trader_telemetry.lifecycle.sigterm import SigtermFlush
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        with tt.Telemetry(serve=False, handle_sigterm=False):
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        with tt.Telemetry(serve=False):
            assert SigtermFlush.installed()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the last one out restores it
        print("ready", flush=True)
    """
    bot = start_bot(script)
    out, err = bot.communicate(timeout=60)
    assert (bot.returncode, out.strip()) == (0, "ready"), err


def test_handle_sigterm_from_the_environment() -> None:
    config = tt.TelemetryConfig.from_env({"TRADER_TELEMETRY_HANDLE_SIGTERM": "0"})
    assert config.handle_sigterm is False
    with pytest.raises(tt.ConfigurationError, match="handle_sigterm"):
        tt.TelemetryConfig(handle_sigterm="yes")  # type: ignore[arg-type]


def test_a_handler_installed_by_the_bot_later_is_kept_at_shutdown() -> None:
    script = """
        import signal
        import trader_telemetry as tt
        def mine(signum, frame):
            pass
        with tt.Telemetry(serve=False):
            signal.signal(signal.SIGTERM, mine)
        assert signal.getsignal(signal.SIGTERM) is mine
        print("ready", flush=True)
    """
    bot = start_bot(script)
    out, err = bot.communicate(timeout=60)
    assert (bot.returncode, out.strip()) == (0, "ready"), err
