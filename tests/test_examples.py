"""Every script in examples/ runs to completion as a real process, and its metrics reach a real
Prometheus.

One Prometheus serves the whole module, started on the scrape config that ``examples/fleet.py``
renders with ``trader-telemetry ops render --targets-file 'targets/*.json'``: the fleet writes its
three bots into ``targets/fleet.json``, and this module adds the four other examples in
``targets/examples.json`` beside it, so the rendered file_sd config discovers all seven targets
at once and the ~5.4 s discovery delay is paid once. All examples start together with bounded
``--cycles``, a fast ``--interval`` and a ``--linger`` that keeps them serving until each test
has read the final values from Prometheus; then SIGTERM stops them and each must exit 0.

``examples/own_providers.py`` also exports its slow and failed cycles' traces to a real OTLP
receiver on loopback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import require_tool
from tests.integration.conftest import Prometheus, SwappableSource
from tests.otlp_receiver import OtlpHttpReceiver, ReceivedSpan
from tests.prometheus_process import running_prometheus

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FAST = ("--interval", "0.02", "--linger", "120")  # stopped by SIGTERM once checked
CYCLES = {"sync_bot": 12, "async_bot": 12, "own_providers": 10, "file_bot": 12, "fleet": 8}
FLEET_BOTS = ("alpha", "bravo", "charlie")


@dataclass
class Example:
    """One example process; its stdout lines are collected by a reader thread."""

    name: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)  # stdout: the URL(s) first
    errors: list[str] = field(default_factory=list)  # stderr: logs, kept apart
    _first: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, name: str, *args: str, env: dict[str, str]) -> Example:
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        example = cls(name, process)
        threading.Thread(target=example._read, daemon=True).start()
        threading.Thread(target=example._read_errors, daemon=True).start()
        return example

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))
                self._first.set()
        self._first.set()

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr:
            self.errors.extend(line.rstrip("\n") for line in self.process.stderr)

    def urls(self, timeout: float = 30.0) -> list[str]:
        """The metrics URL(s) the example printed on its first line."""
        if not self._first.wait(timeout) or not self.lines:
            pytest.fail(f"{self.name} printed nothing in {timeout} s (exit {self.process.poll()})")
        urls = self.lines[0].split()
        assert urls, self.output
        for url in urls:
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", url), self.output
        return urls

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (as systemd or docker would send); the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            pytest.fail(f"{self.name} did not stop on SIGTERM:\n{self.output}")

    @property
    def output(self) -> str:
        return "\n".join([*self.lines, "--- stderr:", *self.errors])


@dataclass
class Run:
    """The examples, the Prometheus scraping them, and the trace receiver."""

    prometheus: Prometheus
    examples: dict[str, Example]
    instances: dict[str, str]  # example name (or fleet bot name) -> host:port
    receiver: OtlpHttpReceiver
    workdir: Path

    def value(self, expr: str, expected: float) -> None:
        """Wait until ``expr`` (one series) equals ``expected`` in Prometheus."""
        self.prometheus.wait_for(expr, lambda v: v == pytest.approx(expected), timeout=15.0)

    def instance(self, name: str) -> str:
        return f'instance="{self.instances[name]}"'


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADER_TELEMETRY_", "OTEL_"))}
    return {**env, **extra}


def _wait_targets_up(prom: Prometheus, count: int) -> None:
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        targets = prom.api("/api/v1/targets")["activeTargets"]
        if len(targets) == count and all(t["health"] == "up" for t in targets):
            return
        time.sleep(0.2)
    pytest.fail(f"targets not all up: {prom.api('/api/v1/targets')['activeTargets']}")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    require_tool("prometheus")  # before starting the examples: fail (CI) or skip early
    workdir = tmp_path_factory.mktemp("examples")
    receiver = OtlpHttpReceiver()
    env = _clean_env()
    started: dict[str, Example] = {}
    try:
        # All at once: seven Python processes importing OTel overlap on the two cores.
        started["fleet"] = Example.start(
            "fleet",
            *("--out", str(workdir / "fleet"), "--cycles", str(CYCLES["fleet"])),
            *("--scrape-interval", "1", *FAST),
            env=env,
        )
        for name in ("sync_bot", "async_bot"):
            started[name] = Example.start(
                name, "--cycles", str(CYCLES[name]), "--port", "0", *FAST, env=env
            )
        started["own_providers"] = Example.start(
            "own_providers",
            *("--cycles", str(CYCLES["own_providers"]), "--port", "0", *FAST),
            # Export kept traces within 0.2 s instead of the batch processor's default 5 s.
            env=_clean_env(
                OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="200"
            ),
        )
        started["file_bot"] = Example.start(
            "file_bot",
            *("--cycles", str(CYCLES["file_bot"]), "--port", "0", *FAST),
            *("--data-dir", str(workdir / "file_bot")),
            env=env,
        )
        instances = {}
        for name, example in started.items():
            urls = example.urls()
            names = FLEET_BOTS if name == "fleet" else (name,)
            assert len(urls) == len(names), example.output
            instances.update({n: urlsplit(u).netloc for n, u in zip(names, urls, strict=True)})
        # Beside the fleet's own targets file, where its rendered file_sd config looks.
        (workdir / "fleet" / "targets" / "examples.json").write_text(
            json.dumps(
                [
                    {"targets": [instances[name]], "labels": {"example": name}}
                    for name in started
                    if name != "fleet"
                ]
            )
        )
        with running_prometheus(workdir / "fleet" / "prometheus.yml", workdir=workdir) as url:
            prom = Prometheus(url, SwappableSource())  # nothing swapped: the examples serve
            _wait_targets_up(prom, len(instances))
            yield Run(prom, started, instances, receiver, workdir)
    finally:
        for example in started.values():
            if example.process.poll() is None:
                example.stop()
        receiver.close()


def test_sync_bot_records_cycles_errors_and_orders(run: Run) -> None:
    i = run.instance("sync_bot")
    run.value(f'trader_cycles_total{{{i},outcome="ok"}}', 11)  # the 7th cycle timed out
    run.value(f'trader_cycles_total{{{i},outcome="error"}}', 1)
    run.value(f'trader_cycle_errors_total{{{i},error_type="ExchangeTimeoutError"}}', 1)
    run.value(f'trader_cycle_phase_duration_seconds_count{{{i},phase="fetch_marks"}}', 12)
    run.value(f'trader_cycle_phase_duration_seconds_count{{{i},phase="place_orders"}}', 11)
    run.value(f"sum(trader_fills_total{{{i}}})", 11)
    run.value(f"trader_risk_daily_loss_limit{{{i}}}", 1_500)
    equity = run.prometheus.scalar(f"trader_equity{{{i}}}")
    assert equity is not None
    assert 9_000 < equity < 11_000
    run.value(f"count(trader_exposure_usd{{{i}}} > 0)", 2)


def test_async_bot_phases_from_concurrent_tasks_join_their_cycle(run: Run) -> None:
    i = run.instance("async_bot")
    run.value(f'trader_cycles_total{{{i},outcome="ok"}}', 11)  # the 9th account fetch failed
    run.value(f'trader_cycle_errors_total{{{i},error_type="ExchangeTimeoutError"}}', 1)
    # Opened in two tasks gathered inside each cycle: every cycle has both.
    run.value(f'trader_cycle_phase_duration_seconds_count{{{i},phase="fetch_account"}}', 12)
    run.value(f'trader_cycle_phase_duration_seconds_count{{{i},phase="fetch_orders"}}', 12)
    run.value(f"sum(trader_orders_submitted_total{{{i}}})", 22)
    run.value(f"trader_order_latency_seconds_count{{{i}}}", 22)  # the acknowledgement task
    run.value(f"count(trader_market_data_staleness_seconds{{{i}}} < 5)", 3)  # the feed task
    reconnects = run.prometheus.scalar(f'trader_websocket_reconnects_total{{{i},stream="marks"}}')
    assert reconnects is not None
    assert reconnects >= 1


def test_own_providers_serve_the_bots_instruments_and_export_its_traces(run: Run) -> None:
    i = run.instance("own_providers")
    run.value(f"sum(bot_signals_total{{{i}}})", 10)  # the bot's own counter, on its provider
    run.value(f'bot_signals_total{{{i},strategy="momentum",direction="long"}}', 5)
    run.value(f'trader_cycles_total{{{i},outcome="ok"}}', 9)
    run.value(f'trader_cycle_errors_total{{{i},error_type="RiskCheckError"}}', 1)
    run.value(f'trader_slow_cycle_traces_total{{{i},reason="slow"}}', 2)  # cycles 5 and 10
    run.value(f'trader_slow_cycle_traces_total{{{i},reason="error"}}', 1)  # cycle 8

    spans = run.receiver.wait_for_spans(3 * 4, timeout=10)  # cycle, 2 phases, the bot's span
    cycles: dict[Any, ReceivedSpan] = {
        s.attributes["cycle.number"]: s for s in spans if s.name == "cycle"
    }
    assert sorted(cycles) == [5, 8, 10]
    assert cycles[8].attributes["cycle.outcome"] == "error"
    for cycle in cycles.values():
        trace: list[ReceivedSpan] = [s for s in spans if s.trace_id == cycle.trace_id]
        assert {s.name for s in trace} == {"cycle", "evaluate", "risk_check", "strategy.evaluate"}
        assert all(s.resource.get("service.name") == "example-bot" for s in trace)


def test_file_bot_is_served_by_the_file_exporter(run: Run) -> None:
    i = run.instance("file_bot")
    run.value(f'trader_cycles_total{{{i},outcome="ok"}}', 12)
    run.value(f'trader_fills_total{{{i},symbol="BTC-PERP",side="buy"}}', 12)
    run.value(f"trader_equity{{{i}}}", 10_012)
    run.value(f'trader_exposure_usd{{{i},symbol="BTC-PERP"}}', 0.12 * 97_000)
    run.value(f'trader_websocket_reconnects_total{{{i},stream="marks"}}', 1)
    assert run.prometheus.query(f"trader_exporter_read_errors_total{{{i}}} > 0") == []
    lines = (run.workdir / "file_bot" / "events.jsonl").read_text().splitlines()
    assert sum(json.loads(line)["event_type"] == "cycle" for line in lines) == 12


def test_fleet_bots_are_discovered_through_the_rendered_file_sd_config(run: Run) -> None:
    # The rendered job scrapes all seven targets: the three bots and this module's four.
    run.value('count(up{job="fleet"} == 1)', 7)
    for bot in FLEET_BOTS:
        run.value(f'trader_cycles_total{{job="fleet",bot="{bot}",outcome="ok"}}', 7)
        run.value(f'trader_cycles_total{{job="fleet",bot="{bot}",outcome="error"}}', 1)
    # The rendered alert rules loaded too (rule_files: [alerts.yml] beside prometheus.yml).
    groups = run.prometheus.api("/api/v1/rules")["groups"]
    assert sum(len(group["rules"]) for group in groups) >= 5


def test_every_example_stops_cleanly_on_sigterm(run: Run) -> None:
    codes = {name: example.stop() for name, example in run.examples.items()}
    assert codes == dict.fromkeys(run.examples, 0), {n: e.output for n, e in run.examples.items()}
    for name, example in run.examples.items():
        if name == "fleet":
            for bot in FLEET_BOTS:
                assert f"[{bot}] done: {CYCLES['fleet']} cycles" in example.output
            assert "bots stopped: exit codes [0, 0, 0]" in example.output
        else:
            assert f"done: {CYCLES[name]} cycles" in example.lines, example.output
