"""``trader-telemetry serve`` under a real Prometheus: for each fixture pair it exposes the same
series (names and label sets) as the in-process library recording the same state, its output
passes ``promtool check metrics`` (bar the documented cycle_latency_ms), and it stops cleanly
on SIGTERM.

One Prometheus of our own (Debian's 2.42, then Prometheus 3) scrapes six targets (three
``serve`` processes, three library endpoints), so the 5.4 s first-scrape delay is paid once
per version.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import trader_telemetry as tt
from trader_telemetry.catalogue import CATALOGUE
from trader_telemetry.compat.legacy_names import LEGACY_SPECS

from ..compat.shapes import FIXTURES, SHAPES, library_state
from ..go_tools import go_tool
from ..prometheus_process import running_prometheus
from .conftest import Prometheus, SwappableSource
from .test_promtool import promtool_check

NS = "coinbase_trader"
SERVE_COUNTERS = re.compile(rf"^{NS}_\w+_total$")


def start_serve(shape: str) -> tuple[subprocess.Popen[str], str]:
    directory = FIXTURES / shape
    process = subprocess.Popen(
        [
            sys.executable, "-m", "trader_telemetry", "serve",
            "--metrics-file", str(directory / "metrics.json"),
            "--events-file", str(directory / "events.jsonl"),
            "--port", "0", "--namespace", NS, "--profile", "prod", "--interval", "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", first)
    if match is None:
        process.kill()
        pytest.fail(f"serve did not start: {first!r} {process.communicate()[1]}")
    return process, match.group(1)


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
    return process.returncode, out


class Targets:
    def __init__(self) -> None:
        self.serve: dict[str, tuple[subprocess.Popen[str], str]] = {}
        self.library: dict[str, tt.Telemetry] = {}


@pytest.fixture(scope="module")
def targets() -> Iterator[Targets]:
    found = Targets()
    try:
        for shape in SHAPES:
            found.serve[shape] = start_serve(shape)
            found.library[shape] = library_state(shape, NS, port=0, profile="prod")
        yield found
    finally:
        for process, _ in found.serve.values():
            if process.poll() is None:
                stop(process)
        for telemetry in found.library.values():
            telemetry.shutdown()


@pytest.fixture(scope="module", params=["prometheus-2", "prometheus-3"])
def prometheus(targets: Targets, request: pytest.FixtureRequest) -> Iterator[Prometheus]:
    binary = go_tool("TT_PROMETHEUS3") if request.param == "prometheus-3" else None
    workdir = Path(tempfile.mkdtemp(prefix="tt-prometheus-serve-"))
    jobs = []
    for shape, (_, url) in targets.serve.items():
        jobs.append((f"serve_{shape}", url.removeprefix("http://").removesuffix("/metrics")))
    for shape, telemetry in targets.library.items():
        assert telemetry.server_address is not None
        jobs.append((f"library_{shape}", f"127.0.0.1:{telemetry.server_address[1]}"))
    config = "global:\n  scrape_interval: 500ms\n  scrape_timeout: 500ms\nscrape_configs:\n"
    for job, target in jobs:
        config += f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
    (workdir / "prometheus.yml").write_text(config)
    with running_prometheus(workdir / "prometheus.yml", binary=binary) as url:
        prom = Prometheus(url, SwappableSource())
        prom.wait_for('count(up{job=~"serve_.*|library_.*"} == 1)', lambda v: v == 6, 30.0)
        yield prom


def scraped(prom: Prometheus, job: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """What Prometheus stored for ``job``: the library's names, without job/instance."""
    result = prom.query(f'{{job="{job}",__name__=~"{NS}_.+"}}')
    out = {}
    for item in result:
        labels = {k: v for k, v in item["metric"].items() if k not in ("job", "instance")}
        name = labels.pop("__name__")
        out[(name, tuple(sorted(labels.items())))] = float(item["value"][1])
    return out


@pytest.mark.integration
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_prometheus_sees_the_same_series_from_serve_as_from_the_library(
    prometheus: Prometheus, shape: str
) -> None:
    served = scraped(prometheus, f"serve_{shape}")
    library = scraped(prometheus, f"library_{shape}")
    legacy = {spec.full_name(NS) for spec in LEGACY_SPECS}  # GPT-Trader's exporter's names
    exporter_only = {
        key for key in served if key[0].startswith(f"{NS}_exporter_") or key[0] in legacy
    }
    assert (f"{NS}_exporter_source_age_seconds", (("file", "metrics.json"),)) in exporter_only
    assert set(served) - exporter_only == set(library)
    # Counters count the same events.
    for key, value in library.items():
        if SERVE_COUNTERS.match(key[0]) or key[0].endswith(("_bucket", "_count")):
            assert served[key] == value, key


@pytest.mark.integration
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_serve_output_passes_promtool_except_the_documented_latency_ms(
    targets: Targets, shape: str
) -> None:
    with urllib.request.urlopen(targets.serve[shape][1], timeout=5) as response:
        body = response.read()
    result = promtool_check(body)
    findings = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    tolerated = {f"{NS}_{spec.name}" for spec in (*CATALOGUE, *LEGACY_SPECS) if spec.lint_exception}
    assert result.returncode in (0, 3), findings
    assert all(finding.split()[0] in tolerated for finding in findings), findings


@pytest.mark.integration
def test_serve_stops_cleanly_on_sigterm() -> None:
    process, url = start_serve("ours")
    with urllib.request.urlopen(url, timeout=5) as response:
        assert f"{NS}_cycles_total".encode() in response.read()
    time.sleep(0.2)
    code, out = stop(process)
    assert code == 0
    assert "stopped" in out
