"""promtool check metrics on the whole exposition after the demo has run."""

from __future__ import annotations

import subprocess

import pytest

import trader_telemetry as tt
from trader_telemetry.catalogue import CATALOGUE
from trader_telemetry.simulation import run_demo

from ..conftest import require_tool


def demo_exposition(namespace: str, reader: str) -> bytes:
    clock = tt.ManualClock()
    telemetry = tt.Telemetry(namespace=namespace, serve=False, clock=clock, reader=reader)
    try:
        run_demo(telemetry, cycles=60, interval=2.0, seed=11, sleep=clock.sleep)
        telemetry.record_account(equity=float("nan"))  # telemetry_rejected_values_total shows
        return telemetry.render_metrics().body
    finally:
        telemetry.shutdown()


def promtool_check(
    exposition: bytes, binary: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary or require_tool("promtool"), "check", "metrics"],
        input=exposition.decode(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("reader", ["native", "otel-prometheus"])
def test_promtool_passes_except_the_documented_latency_ms(reader: str, promtool_path: str) -> None:
    result = promtool_check(demo_exposition("coinbase_trader", reader), promtool_path)
    findings = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    tolerated = {f"coinbase_trader_{s.name}" for s in CATALOGUE if s.lint_exception}
    assert result.returncode in (0, 3), findings  # 1 would be a parse error
    assert findings, "promtool found nothing: the known cycle_latency_ms finding vanished?"
    for finding in findings:
        assert finding.split()[0] in tolerated, finding


def test_promtool_flags_what_it_should(promtool_path: str) -> None:
    # The checker itself is live: an exposition with a bad counter name fails.
    bad = b"# HELP x_requests Requests.\n# TYPE x_requests counter\nx_requests 1\n"
    assert promtool_check(bad, promtool_path).returncode == 3
