"""Real components: one session-scoped Prometheus (127.0.0.1, ephemeral port) scraping one
session-scoped endpoint, our own MetricsServer, whose source each test swaps. ``prometheus`` is
Debian's 2.42; ``prometheus3`` is Prometheus 3 (built by .ci/go-tools.sh), the same way.

A new target is first scraped about 5.4 s after Prometheus starts (a fixed discovery
throttle), so the suite pays that once; after it, a test waits for a scrape or two (500 ms).
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import trader_telemetry as tt
from trader_telemetry.exposition import MetricsServer
from trader_telemetry.readers import Exposition

from ..go_tools import go_tool
from ..prometheus_process import running_prometheus

SCRAPE_INTERVAL = 0.5


class ScriptedError(Exception):
    """What a scripted cycle raises when told to fail (caught by :func:`scripted_cycle`)."""


def scripted_cycle(bot: tt.Telemetry, after_marks: float, *, fail: bool = False) -> None:
    """One cycle on the bot's ManualClock: a ``fetch_marks`` phase of 0.1 s that records two
    marks, then ``after_marks`` seconds more; with ``fail``, the cycle raises ScriptedError."""
    clock = bot.clock
    assert isinstance(clock, tt.ManualClock)
    try:
        with bot.cycle_timer() as cycle:
            with cycle.phase("fetch_marks"):
                clock.advance(0.1)
                bot.record_marks({"BTC-PERP": 97_000.0, "ETH-PERP": 3_400.0})
            clock.advance(after_marks)
            if fail:
                raise ScriptedError
    except ScriptedError:
        pass


class SwappableSource:
    """Serves whichever Telemetry the current test installed (nothing before the first)."""

    def __init__(self) -> None:
        self.current: tt.Telemetry | None = None
        #: The Accept header of every scrape (what the scraper negotiated).
        self.accepts: list[str | None] = []

    def render_metrics(self, accept: str | None = None) -> Exposition:
        self.accepts.append(accept)
        if self.current is None:
            return Exposition(b"", "text/plain; version=0.0.4; charset=utf-8")
        return self.current.render_metrics(accept)

    def snapshot(self) -> dict[str, Any]:
        return {} if self.current is None else self.current.snapshot()

    def health_response(self) -> tuple[int, dict[str, Any]]:
        if self.current is None:
            return 503, {"status": "unhealthy", "checks": []}
        return self.current.health_response()

    def liveness_response(self) -> tuple[int, dict[str, Any]]:
        if self.current is None:
            return 503, {"status": "unhealthy", "checks": []}
        return self.current.liveness_response()


class Prometheus:
    """A running Prometheus and the helpers tests need."""

    def __init__(self, url: str, source: SwappableSource) -> None:
        self.url = url
        self.source = source

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("/api/v1/query", query=expr)["result"]
        return result

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, result
        return float(result[0]["value"][1])

    def wait_for(
        self, expr: str, predicate: Callable[[float | None], bool], timeout: float = 10.0
    ) -> float | None:
        """Poll ``expr`` until ``predicate(value)`` holds; fail with the last value otherwise."""
        deadline = time.monotonic() + timeout
        last: float | None = None
        while time.monotonic() < deadline:
            last = self.scalar(expr)
            if predicate(last):
                return last
            time.sleep(SCRAPE_INTERVAL / 2)
        pytest.fail(f"{expr}: still {last!r} after {timeout} s")

    def exemplars(
        self, query: str, since: float, count: int = 1, trace_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Poll ``/api/v1/query_exemplars`` until ``count`` exemplars of ``query`` are stored
        (only those of ``trace_id`` counted, when given)."""
        deadline = time.monotonic() + 10
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            data = self.api(
                "/api/v1/query_exemplars",
                query=query,
                start=str(since),
                end=str(time.time() + 60),
            )
            found = [
                e
                for series in data
                for e in series["exemplars"]
                if trace_id is None or e["labels"].get("trace_id") == trace_id
            ]
            if len(found) >= count:
                return found
            time.sleep(SCRAPE_INTERVAL / 2)
        pytest.fail(f"{query}: {len(found)} exemplars stored, wanted {count}")

    def install(self, telemetry: tt.Telemetry) -> None:
        """Serve ``telemetry`` and wait until Prometheus has scraped it at least once.

        The previous test's series are first seen to go stale (one empty scrape), so a query
        can never read the last test's values."""
        # Scraped by this fixture's job only (a bot that also pushes over OTLP has a second).
        marker = f'count({telemetry.config.namespace}_build_info{{job="bot"}})'
        self.source.current = None
        self.wait_for(marker, lambda v: v is None)
        self.source.current = telemetry
        self.wait_for(marker, lambda v: v == 1)


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Prometheus]:
    yield from _session_prometheus(None, "--enable-feature=exemplar-storage")


@pytest.fixture(scope="session")
def prometheus3() -> Iterator[Prometheus]:
    """Prometheus 3: exemplar storage is still a feature flag; the OTLP receiver is on too
    (tests/integration/test_prometheus3.py pushes to it)."""
    yield from _session_prometheus(
        go_tool("TT_PROMETHEUS3"),
        "--enable-feature=exemplar-storage",
        "--web.enable-otlp-receiver",
    )


def _session_prometheus(binary: str | None, *flags: str) -> Iterator[Prometheus]:
    source = SwappableSource()
    endpoint = MetricsServer(source, "127.0.0.1", 0)
    workdir = Path(tempfile.mkdtemp(prefix="tt-prometheus-"))
    (workdir / "prometheus.yml").write_text(
        "global:\n"
        f"  scrape_interval: {int(SCRAPE_INTERVAL * 1000)}ms\n"
        f"  scrape_timeout: {int(SCRAPE_INTERVAL * 1000)}ms\n"
        "scrape_configs:\n"
        "  - job_name: bot\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{endpoint.port}']\n"
    )
    try:
        with running_prometheus(
            workdir / "prometheus.yml", "--log.level=info", *flags, binary=binary
        ) as url:
            prom = Prometheus(url, source)
            _wait_target_up(prom)
            yield prom
    finally:
        endpoint.close()


def _wait_target_up(prom: Prometheus) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        targets = prom.api("/api/v1/targets")["activeTargets"]
        if targets and all(t["health"] == "up" for t in targets):
            return
        time.sleep(0.2)
    pytest.fail(f"target never up: {prom.api('/api/v1/targets')}")
