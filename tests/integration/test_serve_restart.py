"""A real Prometheus scraping ``trader-telemetry serve`` across a restart of the exporter on a
large GPT-Trader file: while the restarted exporter catches up, /metrics answers 503, so
Prometheus never stores a partial counter and sees no counter go down (no false increase())."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ..prometheus_process import running_prometheus
from .conftest import Prometheus, SwappableSource

NS = "coinbase_trader"
ROOT = Path(__file__).resolve().parents[2]
COUNTERS = ("fills", "orders_submitted", "websocket_reconnects", "stale_marks", "cycles",
            "trades_executed", "orders_rejected")  # fmt: skip
LINES = 400_000  # a catch-up of a few seconds on this machine: several scrapes fall in it


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _serve(events: Path, port: int) -> subprocess.Popen[str]:
    """Start serve on ``port``; retried while the port is still held by the connections of the
    exporter just stopped (they linger in TIME_WAIT for a moment)."""
    deadline = time.monotonic() + 60
    while True:
        process = subprocess.Popen(
            [sys.executable, "-m", "trader_telemetry", "serve", "--events-file", str(events),
             "--port", str(port), "--namespace", NS, "--interval", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True,
        )  # fmt: skip
        assert process.stdout is not None
        line = process.stdout.readline()
        if re.search(r"metrics on http://127\.0\.0\.1:\d+/metrics", line):
            return process
        process.wait(timeout=20)
        assert time.monotonic() < deadline, "serve could not bind its port again"
        time.sleep(0.5)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return error.code
    except OSError:
        return 0


@pytest.mark.integration
def test_no_counter_goes_down_across_an_exporter_restart(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from file_exporter import (  # type: ignore[import-not-found]  # benchmarks/, on sys.path
            gpt_trader_lines,  # the benchmark's GPT-Trader-shaped lines
        )
    finally:
        sys.path.pop(0)
    events = tmp_path / "events.jsonl"
    with events.open("wb") as out:
        for first in range(0, LINES, 10_000):
            out.write(gpt_trader_lines(10_000, first))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
        f"  - job_name: serve\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    counters = f'{{job="serve",__name__=~"{NS}_(fills|orders_submitted|websocket_reconnects|stale_marks|cycles|trades_executed)_total"}}'  # noqa: E501
    process = _serve(events, port)
    try:
        with running_prometheus(config) as prometheus_url:
            prom = Prometheus(prometheus_url, SwappableSource())
            prom.wait_for(f"count({counters} > 0)", lambda v: v is not None and v >= 6, 120.0)
            full = prom.scalar(f'sum({NS}_websocket_reconnects_total{{job="serve"}})')
            assert full == LINES // 20 * 2
            _stop(process)
            process = _serve(events, port)  # the same file, read again from the start
            deadline = time.monotonic() + 120
            while _status(url) != 200:  # 503 (or a held request) until caught up
                assert time.monotonic() < deadline, "serve never caught up"
                time.sleep(0.05)
            caught_up = time.time()
            # A few scrapes of the restarted exporter: the newest is 3 s after it caught up.
            prom.wait_for(
                'timestamp(up{job="serve"} == 1)', lambda v: v is not None and v > caught_up + 3, 30
            )
            for name in COUNTERS:  # no counter went down: no false increase()
                resets = prom.query(f'resets({NS}_{name}_total{{job="serve"}}[5m]) > 0')
                assert resets == [], (name, resets)
            increase = prom.scalar(
                f'sum(increase({NS}_websocket_reconnects_total{{job="serve"}}[5m]))'
            )
            assert increase == 0  # the file did not grow
            # Every stored sample of the restarted exporter is the whole file's count: a scrape
            # during its catch-up was held (up to 2 s) or answered 503, never partial.
            lowest = prom.scalar(
                f'min_over_time({NS}_websocket_reconnects_total{{job="serve"}}[5m])'
            )
            assert lowest == full
    finally:
        _stop(process)
