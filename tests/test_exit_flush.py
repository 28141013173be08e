"""A bot that ends without calling ``shutdown()``: its main returns, it calls ``sys.exit()``, or
an exception escapes it. What it recorded still reaches the disk (the queued events, the last
``metrics.json``), the exit status and the traceback stay the bot's, and a collector that hangs
holds the exit no longer than the flush budget, or not at all once the bot has called
``shutdown()`` itself. Real subprocesses, real files, a real listening socket that never
answers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from trader_telemetry.lifecycle.exit_flush import FLUSH_SECONDS

from .bot_process import read_line, start_bot

BOT = """
    import sys
    import trader_telemetry as tt
    t = tt.Telemetry(
        namespace="ex", serve=False, data_dir={data_dir!r}, metrics_file_interval_seconds=3600
    )
    for n in range(1, 201):
        with t.cycle_timer():
            t.event("tick", n=n)
    {ending}
"""


@pytest.mark.parametrize(
    ("ending", "status"),
    [("pass", 0), ("sys.exit(3)", 3), ("raise RuntimeError('the bot crashed')", 1)],
    ids=["main-returns", "sys-exit", "uncaught-exception"],
)
def test_what_was_recorded_reaches_the_disk_however_the_bot_ends(
    tmp_path: Path, ending: str, status: int
) -> None:
    bot = start_bot(BOT.format(data_dir=str(tmp_path), ending=ending))
    _, err = bot.communicate(timeout=60)
    assert bot.returncode == status, err
    if status == 1:
        assert "Traceback" in err
        assert err.rstrip().endswith("RuntimeError: the bot crashed")
    else:
        assert "Traceback" not in err, err
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    ticks = [event["n"] for event in map(json.loads, lines) if event["event_type"] == "tick"]
    assert ticks == list(range(1, 201))
    snapshot = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert snapshot["cycle_metrics"]["count"] == 200


HUNG_COLLECTOR = """
    import select, socket, time
    import trader_telemetry as tt
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)  # takes connections, never answers: a collector that hangs
    url = f"http://127.0.0.1:{{hole.getsockname()[1]}}"
    t = tt.Telemetry(
        namespace="ex", serve=False,
        tracing=tt.TracingConfig(
            endpoint=url + "/v1/traces", protocol="http/protobuf", sample_ratio=1.0
        ),
        otlp_metrics=True, otlp_metrics_endpoint=url + "/v1/metrics",
        otlp_metrics_protocol="http/protobuf", otlp_metrics_interval_seconds=0.05,
    )
    for n in range(50):
        with t.cycle_timer():
            pass
    # Wait (with a deadline) for the first metrics push to connect; it is taken and never
    # answered. The spans' export waits for the batch delay: the flush at the end hangs on it.
    deadline = time.monotonic() + 30
    while not select.select([hole], [], [], 0.05)[0]:
        assert time.monotonic() < deadline, "no export reached the collector"
    held = hole.accept()[0]
    {stop}
    print("end", flush=True)
"""


def _seconds_to_exit(stop: str) -> float:
    """Seconds between the bot's last line and the end of its process."""
    bot = start_bot(HUNG_COLLECTOR.format(stop=stop))
    try:
        assert read_line(bot, timeout=60) == "end"
        ended = time.monotonic()
        _, err = bot.communicate(timeout=60)
        took = time.monotonic() - ended
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.communicate(timeout=10)
    assert bot.returncode == 0, err
    return took


def test_after_shutdown_a_hung_collector_does_not_hold_the_exit() -> None:
    """``shutdown(timeout=1.0)`` returned: the process ends at once, not after another export
    timeout spent by OpenTelemetry's own exit hooks on the hung collector."""
    assert _seconds_to_exit("t.shutdown(timeout=1.0)") < 1.0


def test_without_shutdown_a_hung_collector_holds_the_exit_at_most_the_flush_budget() -> None:
    assert _seconds_to_exit("") < FLUSH_SECONDS + 1.0
