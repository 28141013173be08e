"""Health: the registry never breaks, the playbook's checks keep their boundaries, the built-in
checks read recorded telemetry, and /health answers over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import trader_telemetry as tt
from tests.conftest import value
from trader_telemetry.config import ServerLimits
from trader_telemetry.health import (
    HealthCheckRegistry,
    HealthCheckResult,
    HealthStatus,
    StaleFillsHealthCheck,
    StaleMarksHealthCheck,
    WebSocketReconnectHealthCheck,
)

H, D, U, K = (
    HealthStatus.HEALTHY,
    HealthStatus.DEGRADED,
    HealthStatus.UNHEALTHY,
    HealthStatus.UNKNOWN,
)


class Fixed:
    def __init__(self, name: str, status: HealthStatus) -> None:
        self.name = name
        self.status = status

    def check(self) -> HealthCheckResult:
        return HealthCheckResult(self.name, self.status, "fixed")


def report_of(telemetry: tt.Telemetry) -> dict[str, HealthStatus]:
    return {r.name: r.status for r in telemetry.health_report().results}


@pytest.fixture
def telemetry(clock: tt.ManualClock) -> Iterator[tt.Telemetry]:
    """No report cache here: each check below reads what was just recorded."""
    instance = tt.Telemetry(namespace="test", serve=False, clock=clock, health_cache_seconds=0)
    yield instance
    instance.shutdown()


# ------------------------------------------------------------------ the registry
def test_overall_is_the_worst_and_unknown_is_never_healthy() -> None:
    registry = HealthCheckRegistry()
    assert registry.check_all_sync().status is K  # nothing checked: not healthy
    registry.register(Fixed("a", H))
    assert registry.check_all_sync().status is H
    registry.register(Fixed("b", K))
    assert registry.check_all_sync().status is K
    registry.register(Fixed("c", D))
    assert registry.check_all_sync().status is D
    registry.register(Fixed("d", U))
    report = registry.check_all_sync()
    assert report.status is U
    assert report.summary() == {
        "healthy": 1,
        "degraded": 1,
        "unhealthy": 1,
        "unknown": 1,
        "total": 4,
    }
    registry.unregister("d")
    assert registry.check_all_sync().status is D


def test_raising_and_hanging_checks_are_findings_and_the_others_still_report() -> None:
    class Raising:
        name = "raising"

        def check(self) -> HealthCheckResult:
            raise ConnectionError("db down")

    class HangingAsync:
        name = "hanging_async"

        async def check(self) -> HealthCheckResult:
            await asyncio.sleep(30)
            raise AssertionError("unreachable")

    release = threading.Event()

    class HangingSync:
        name = "hanging_sync"

        def check(self) -> HealthCheckResult:
            release.wait(30)
            return HealthCheckResult(self.name, H)

    registry = HealthCheckRegistry(timeout=0.3)
    for check in (Raising(), HangingAsync(), HangingSync(), Fixed("ok", H)):
        registry.register(check)
    started = time.monotonic()
    try:
        report = registry.check_all_sync()
    finally:
        release.set()
    assert time.monotonic() - started < 2.0  # concurrently, each under its own timeout
    by_name = {r.name: r for r in report.results}
    assert by_name["raising"].status is U
    assert "ConnectionError: db down" in by_name["raising"].message
    assert by_name["hanging_async"].status is U
    assert "timed out after 0.3 s" in by_name["hanging_async"].message
    assert by_name["hanging_sync"].status is U
    assert by_name["ok"].status is H
    assert report.status is U


async def test_check_all_works_from_async_code_and_sync_inside_a_loop() -> None:
    class AsyncOk:
        name = "async_ok"

        async def check(self) -> HealthCheckResult:
            await asyncio.sleep(0)
            return HealthCheckResult(self.name, H, "fine")

    registry = HealthCheckRegistry()
    registry.register(AsyncOk())
    assert (await registry.check_all()).status is H
    assert registry.check_all_sync().status is H  # a loop is running in this thread


def test_a_check_returning_garbage_is_unhealthy() -> None:
    class Wrong:
        name = "wrong"

        def check(self) -> str:
            return "fine"

    registry = HealthCheckRegistry()
    registry.register(Wrong())  # type: ignore[arg-type]
    assert registry.check_all_sync().results[0].status is U


def test_register_rejects_what_is_not_a_check() -> None:
    with pytest.raises(TypeError, match="str name and a check"):
        HealthCheckRegistry().register(object())  # type: ignore[arg-type]


# ------------------------------------------------------------------ the playbook's checks
class Orders:
    def __init__(self, ages: list[float]) -> None:
        self.ages = ages

    def open_order_ages(self) -> list[float]:
        return self.ages


@pytest.mark.parametrize(
    ("ages", "expected"),
    [
        ([], H),
        ([599.0, 10.0], H),
        ([601.0], D),
        ([601.0] * 4, D),
        ([601.0] * 5, U),
    ],
)
def test_stale_fills_boundaries(ages: list[float], expected: HealthStatus) -> None:
    assert StaleFillsHealthCheck(Orders(ages), max_age_minutes=10.0).check().status is expected


class Marks:
    def __init__(self, ages: Mapping[str, float]) -> None:
        self.ages = ages

    def mark_ages(self) -> Mapping[str, float]:
        return self.ages


@pytest.mark.parametrize(
    ("ages", "expected"),
    [
        ({}, K),
        ({"A": 30.0, "B": 1.0}, H),
        ({"A": 30.1, "B": 1.0, "C": 1.0}, D),
        ({"A": 31.0, "B": 31.0, "C": 1.0, "D": 1.0}, D),  # half: not more than half
        ({"A": 31.0, "B": 31.0, "C": 1.0}, U),
    ],
)
def test_stale_marks_boundaries(ages: Mapping[str, float], expected: HealthStatus) -> None:
    assert StaleMarksHealthCheck(Marks(ages), max_age_seconds=30.0).check().status is expected


class Ws:
    def __init__(self, minute: int, hour: int, connected: bool | None = True) -> None:
        self.minute, self.hour, self.connected = minute, hour, connected

    def reconnects_in_last(self, seconds: float) -> int:
        return self.minute if seconds <= 60 else self.hour

    def is_connected(self) -> bool | None:
        return self.connected


@pytest.mark.parametrize(
    ("ws", "expected"),
    [
        (Ws(4, 9), H),
        (Ws(5, 5), U),
        (Ws(0, 10), D),
        (Ws(0, 0, connected=False), D),
        (Ws(0, 0, connected=None), H),
    ],
)
def test_websocket_reconnect_boundaries(ws: Ws, expected: HealthStatus) -> None:
    assert WebSocketReconnectHealthCheck(ws).check().status is expected


# ------------------------------------------------------------------ built-in checks
def test_heartbeat_boundaries_with_the_fake_clock(
    telemetry: tt.Telemetry, clock: tt.ManualClock
) -> None:
    # expected interval 5 s: warning past 15 s, critical at 50 s
    assert report_of(telemetry)["loop_heartbeat"] is K  # no cycle yet, not overdue
    clock.advance(16)
    assert report_of(telemetry)["loop_heartbeat"] is D  # the first cycle is overdue
    with telemetry.cycle_timer():
        pass
    clock.advance(15)
    assert report_of(telemetry)["loop_heartbeat"] is H
    clock.advance(0.5)
    assert report_of(telemetry)["loop_heartbeat"] is D
    clock.advance(34.5)
    assert report_of(telemetry)["loop_heartbeat"] is U


def test_checks_join_once_their_data_exists(telemetry: tt.Telemetry, clock: tt.ManualClock) -> None:
    assert set(report_of(telemetry)) == {
        "loop_heartbeat",
        "circuit_breaker",
        "websocket_reconnects",
    }
    telemetry.record_account(equity=1.0)
    telemetry.record_daily_loss(100.0, limit=1_000.0)
    telemetry.record_mark("BTC-PERP")
    assert set(report_of(telemetry)) == {
        "loop_heartbeat",
        "circuit_breaker",
        "websocket_reconnects",
        "account_snapshot_age",
        "daily_loss",
        "stale_marks",
    }


@pytest.mark.parametrize(("loss", "expected"), [(800.0, H), (800.5, D), (999.0, D), (1_000.0, U)])
def test_daily_loss_boundaries(
    telemetry: tt.Telemetry, loss: float, expected: HealthStatus
) -> None:
    telemetry.record_daily_loss(loss, limit=1_000.0)
    assert report_of(telemetry)["daily_loss"] is expected


@pytest.mark.parametrize(("age", "expected"), [(900.0, H), (901.0, D), (1_800.0, U)])
def test_account_age_boundaries(
    telemetry: tt.Telemetry, clock: tt.ManualClock, age: float, expected: HealthStatus
) -> None:
    telemetry.record_account(equity=1.0)
    clock.advance(age)
    assert report_of(telemetry)["account_snapshot_age"] is expected


def test_marks_and_reconnects_come_from_recorded_telemetry(
    telemetry: tt.Telemetry, clock: tt.ManualClock
) -> None:
    telemetry.record_marks({"A": 1.0, "B": 1.0, "C": 1.0})
    clock.advance(31)
    telemetry.record_marks({"B": 1.0, "C": 1.0})
    assert report_of(telemetry)["stale_marks"] is D
    for _ in range(5):
        telemetry.record_ws_reconnect("marks")
    assert report_of(telemetry)["websocket_reconnects"] is U
    clock.advance(61)
    assert report_of(telemetry)["websocket_reconnects"] is H
    for _ in range(5):
        clock.advance(61)
        telemetry.record_ws_reconnect("marks")
    assert report_of(telemetry)["websocket_reconnects"] is D  # 10 in the hour


def test_circuit_breaker_is_degraded_not_unhealthy(telemetry: tt.Telemetry) -> None:
    telemetry.set_circuit_breaker(True, reason="daily_loss")
    result = next(r for r in telemetry.health_report().results if r.name == "circuit_breaker")
    assert result.status is D
    assert "daily_loss" in result.message


def test_health_status_gauge_and_state_changes_logged_once(
    telemetry: tt.Telemetry, clock: tt.ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    with telemetry.cycle_timer():
        pass
    assert value(telemetry, "health_status", check="loop_heartbeat") == 0
    with caplog.at_level(logging.INFO, logger="trader_telemetry.health"):
        clock.advance(20)
        for _ in range(5):
            clock.advance(1.5)  # past the 1 s cache each time
            telemetry.health_report()
    assert value(telemetry, "health_status", check="loop_heartbeat") == 1
    changes = [r.getMessage() for r in caplog.records if "loop_heartbeat" in r.getMessage()]
    assert changes == [
        "health check loop_heartbeat: healthy -> degraded (last cycle completed 21.5 s ago)"
    ]


# ------------------------------------------------------------------ /health over HTTP
def fetch(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.fixture
def served(clock: tt.ManualClock) -> Iterator[tuple[tt.Telemetry, str]]:
    # The probe storm below sends 100 requests at once from one address: above the default
    # per-client connection cap, which would answer part of them 503.
    limits = ServerLimits(max_connections_per_client=128)
    telemetry = tt.Telemetry(
        namespace="hx", port=0, clock=clock, profile="prod", server_limits=limits
    )
    assert telemetry.metrics_url is not None
    yield telemetry, telemetry.metrics_url.removesuffix("/metrics") + "/health"
    telemetry.shutdown()


def test_health_status_codes_over_http(
    served: tuple[tt.Telemetry, str], clock: tt.ManualClock
) -> None:
    telemetry, url = served
    code, doc = fetch(url)
    assert (code, doc["status"]) == (200, "unknown")  # starting: within the grace period
    assert doc["namespace"] == "hx"
    with telemetry.cycle_timer():
        pass
    clock.advance(1.5)
    code, doc = fetch(url)
    assert (code, doc["status"]) == (200, "healthy")
    assert doc["summary"] == {"healthy": 3, "degraded": 0, "unhealthy": 0, "unknown": 0, "total": 3}
    telemetry.set_circuit_breaker(True, reason="daily_loss")
    clock.advance(1.5)
    assert fetch(url)[0] == 200  # degraded
    clock.advance(60)  # the loop stopped: heartbeat critical
    code, doc = fetch(url)
    assert (code, doc["status"]) == (503, "unhealthy")
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["loop_heartbeat"]["status"] == "unhealthy"


def test_unknown_after_the_grace_period_is_503(
    served: tuple[tt.Telemetry, str], clock: tt.ManualClock
) -> None:
    telemetry, url = served
    telemetry.health.unregister("loop_heartbeat")
    telemetry.health.unregister("circuit_breaker")
    telemetry.health.unregister("websocket_reconnects")
    clock.advance(10)
    assert fetch(url)[0] == 200
    clock.advance(45)
    code, doc = fetch(url)
    assert (code, doc["status"]) == (503, "unknown")


def test_probe_storm_runs_the_checks_once(served: tuple[tt.Telemetry, str]) -> None:
    telemetry, url = served
    calls = 0

    class Slow:
        name = "slow"

        def check(self) -> HealthCheckResult:
            nonlocal calls
            calls += 1
            time.sleep(0.2)
            return HealthCheckResult(self.name, H, "slow but fine")

    telemetry.health.register(Slow())
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(fetch(url)[0])) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(codes) == 100
    assert calls == 1  # the clock does not move: one run, shared and then cached


def test_probe_command_exit_codes_against_the_real_endpoint(
    served: tuple[tt.Telemetry, str], clock: tt.ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from trader_telemetry.cli import main

    telemetry, url = served
    assert main(["health", "--url", url]) == 1  # unknown: no cycle yet
    with telemetry.cycle_timer():
        pass
    clock.advance(1.5)
    assert main(["health", "--url", url.removesuffix("/health")]) == 0
    assert "loop_heartbeat" in capsys.readouterr().out
    telemetry.set_circuit_breaker(True, reason="daily_loss")
    clock.advance(1.5)
    assert main(["health", "--url", url]) == 1
    clock.advance(60)
    capsys.readouterr()
    assert main(["health", "--url", url, "--format", "json"]) == 2
    assert json.loads(capsys.readouterr().out)["status"] == "unhealthy"
    port = telemetry.server_address[1] if telemetry.server_address else 0
    telemetry.shutdown()
    assert main(["health", "--url", f"http://127.0.0.1:{port}/health", "--timeout", "1"]) == 3
