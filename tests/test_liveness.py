"""``/livez`` answers only "is the loop alive"; ``/readyz`` (as ``/health``) every check. A bot
halted on its daily-loss limit is not ready but live: nothing restarts it. Real HTTP on
127.0.0.1, and the real ``trader-telemetry health --live`` command."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

import trader_telemetry as tt

from .cli_process import run_cli


@pytest.fixture
def bot(clock: tt.ManualClock) -> Iterator[tt.Telemetry]:
    telemetry = tt.Telemetry(
        namespace="live", port=0, clock=clock, health_cache_seconds=0,
        thresholds=tt.Thresholds(expected_cycle_interval_seconds=1.0),
    )  # fmt: skip
    yield telemetry
    telemetry.shutdown()


def get(telemetry: tt.Telemetry, path: str) -> tuple[int, dict[str, Any]]:
    assert telemetry.server_address is not None
    host, port = telemetry.server_address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def cycle(telemetry: tt.Telemetry, clock: tt.ManualClock, seconds: float = 0.1) -> None:
    with telemetry.cycle_timer():
        clock.advance(seconds)


def test_loss_halted_bot_is_live_but_not_ready(bot: tt.Telemetry, clock: tt.ManualClock) -> None:
    cycle(bot, clock)
    bot.record_daily_loss(1_600.0, limit=1_500.0)
    bot.set_circuit_breaker(True, reason="daily_loss")
    code, document = get(bot, "/livez")
    assert code == 200, document
    assert [check["name"] for check in document["checks"]] == [
        "loop_heartbeat",
        "cycle_in_progress",
    ]
    ready_code, ready = get(bot, "/readyz")
    assert ready_code == 503
    assert ready["status"] == "unhealthy"
    assert {c["name"]: c["status"] for c in ready["checks"]}["daily_loss"] == "unhealthy"
    assert get(bot, "/health")[0] == 503  # /health stays what it was: readiness


def test_dead_loop_is_not_live(bot: tt.Telemetry, clock: tt.ManualClock) -> None:
    cycle(bot, clock)
    clock.advance(5.0)  # past the warning (3 x 1 s): slow, still live
    code, document = get(bot, "/livez")
    assert (code, document["status"]) == (200, "degraded")
    clock.advance(6.0)  # 11 s without a cycle: past the critical 10 x 1 s
    code, document = get(bot, "/livez")
    assert (code, document["status"]) == (503, "unhealthy")


def test_hung_cycle_is_not_live_though_the_last_one_was_recent(
    bot: tt.Telemetry, clock: tt.ManualClock
) -> None:
    cycle(bot, clock)
    with bot.cycle_timer():
        clock.advance(10.5)
        code, document = get(bot, "/livez")
        checks = {c["name"]: c["status"] for c in document["checks"]}
    assert code == 503
    assert checks["cycle_in_progress"] == "unhealthy"
    assert get(bot, "/livez")[0] == 200  # the cycle ended: the loop is back


def test_health_live_command_exits_0_for_a_loss_halted_bot(
    bot: tt.Telemetry, clock: tt.ManualClock
) -> None:
    cycle(bot, clock)
    bot.record_daily_loss(1_600.0, limit=1_500.0)
    base = bot.metrics_url
    assert base is not None
    assert run_cli("health", "--url", base).returncode == 2  # readiness: unhealthy
    live = run_cli("health", "--live", "--url", base)
    assert live.returncode == 0, live.stderr
    assert "loop_heartbeat" in live.stdout
    clock.advance(11.0)
    assert run_cli("health", "--live", "--url", base).returncode == 2  # the loop is dead


@pytest.mark.parametrize(
    "argv",
    [["helth"], ["health", "--bogus"], ["health", "--timeout", "soon"], ["report", "--nope"], []],
)
def test_usage_errors_exit_64_never_a_probe_code(argv: list[str]) -> None:
    result = run_cli(*argv)
    assert result.returncode == 64, (result.returncode, result.stderr)
