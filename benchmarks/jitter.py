"""Loop jitter: how much scraping ``/metrics`` over HTTP delays a CPU-bound bot loop.

Run from the repository root::

    python benchmarks/jitter.py                # full run: 12 scenarios of 15 s, ~4 minutes
    python benchmarks/jitter.py --quick        # smoke run: 1,000 series only, 3 s per scenario
    python benchmarks/jitter.py --seconds 30   # longer scenarios (steadier p99)
    python benchmarks/jitter.py --upstream     # add the upstream OTel reader as a third row
    python benchmarks/jitter.py --json out.json

A scrape renders inside the bot's process, on the endpoint's thread, and holds the GIL while it
runs; every millisecond it holds is a millisecond the bot's loop waits. This measures that
delay where the bot feels it: in the duration of its cycles.

The bot is a loop of back-to-back cycles, each about 10 ms of pure-CPU work (a busy loop
calibrated at start) plus the recording a bot does every cycle (one gauge set, one histogram
observation, and the cycle itself timed: ``with t.cycle_timer():`` for trader_telemetry,
``with Histogram.time():`` for prometheus_client). ``time.perf_counter()`` around the whole
cycle gives its wall duration. The process pins itself to one core before it starts any
thread, so the bot and its HTTP server thread share that core, as in the issue's reference
measurement.

Each implementation exposes the same series: ``N`` gauge series with a ``symbol`` label
(trader_telemetry: ``record_exposure``, rendered at scrape time by an observable gauge) and one
histogram series per ten (an OTel histogram on the Telemetry's meter provider; a labelled
``Histogram`` for prometheus_client), with N = 1,000 and 10,000. prometheus_client uses a fresh
``CollectorRegistry`` (never the global one) with a ``ProcessCollector`` (our reader exports
process metrics too), served by ``prometheus_client.start_http_server`` on 127.0.0.1.

Every scenario (implementation x series x scrape rate) runs for a fixed time, split into three
segments (one below 9 s) taken round-robin across the rates, so a drift of the machine's speed
hits every rate of an implementation alike. The scrape rates are none, 1 Hz and 10 Hz; the
scraper is a separate process (this script re-invoked with ``--scraper``), pinned to another
core when there is one, that GETs the metrics URL on a fixed schedule with Prometheus'
``Accept`` (OpenMetrics first) and ``Accept-Encoding: gzip``, reading and decompressing every
body, and reports how long each scrape took. It makes one scrape
before each segment starts, so first-render costs (label caches) are not in the figures, and it
stops between scrapes when asked (its stdin closes), so no response is cut off.

Per scenario the table shows cycles, p50/p99/max cycle duration, the p99 inflation (p99 over the
unscraped p99 of the same implementation and series count), the share of cycles slower than
that unscraped p99, the scraper's median scrape duration, and the loop time lost per scrape
(the cycles' excess over the unscraped median, summed, over the number of scrapes; at 1 Hz a
drift of the median between segments weighs as much as the scrapes, read it at 10 Hz). A second
table gives the cost of one render measured in-process while nothing else runs (body size,
render, gzip at the level each server uses): the CPU each scrape takes from the bot's core.

Garbage collection stays on (a real bot has it on) and is run before each segment. This is a
measurement, not a gate: the verdicts print PASS or MISS and the exit status is 0.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import http.client
import json
import math
import os
import select
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import prometheus_client
from prometheus_client.exposition import choose_encoder

import trader_telemetry as tt
from trader_telemetry.catalogue import CYCLE_BUCKETS, ORDER_LATENCY_BUCKETS
from versions import versions

#: What Prometheus sends (OpenMetrics first), as the issue's reference measurement did.
ACCEPT = "application/openmetrics-text; version=1.0.0,text/plain;q=0.5"
ACCEPT_ENCODING = "gzip"

OURS = "trader_telemetry"
PROM = "prometheus_client"
UPSTREAM = "trader_telemetry (otel-prometheus)"

CYCLE_SECONDS = 0.010  # pure-CPU work per cycle
RATES: tuple[float, ...] = (0.0, 1.0, 10.0)  # scrapes per second; 0 = not scraped
HISTOGRAM_EVERY = 10  # one histogram series per this many gauge series

# Targets (the issue's): at 1,000 series and 1 Hz our p99 stays within 1.1x unscraped; at
# 10,000 series and 1 Hz our p99 inflation (ratio - 1) is at most half of prometheus_client's.
TARGET_SERIES_SMALL = 1_000
TARGET_SMALL_RATIO = 1.1
TARGET_SERIES_LARGE = 10_000
TARGET_LARGE_SHARE = 0.5
TARGET_RATE = 1.0
REFERENCE = (
    "issue's reference, prometheus_client pinned to one core, 1 Hz: p99 13.8 ms unscraped -> "
    "19.0 ms (1.4x) at 1,000 series, 27.3 ms (2.0x) at 10,000 series"
)


@dataclass(frozen=True, slots=True)
class Settings:
    """How long each scenario runs and what it covers."""

    seconds: float  # per scenario, split over the rounds
    rounds: int
    sizes: tuple[int, ...]
    implementations: tuple[str, ...]


@dataclass(slots=True)
class ScrapeLog:
    """What the scraper process reported."""

    durations: list[float] = field(default_factory=list)  # seconds, request sent -> body read
    body_bytes: int = 0  # decompressed size of the last body
    errors: int = 0


@dataclass(slots=True)
class Scenario:
    """One run of the loop: its cycle durations and what the scraper saw meanwhile."""

    implementation: str
    series: int
    rate_hz: float
    cycles: list[float]  # seconds
    scrapes: ScrapeLog

    @property
    def p50(self) -> float:
        return statistics.median(self.cycles)

    @property
    def p99(self) -> float:
        return percentile(self.cycles, 0.99)

    @property
    def max(self) -> float:
        return max(self.cycles)


@dataclass(frozen=True, slots=True)
class RenderCost:
    """One render measured in-process, nothing else running (medians of several)."""

    implementation: str
    series: int
    body_bytes: int
    render_seconds: float
    gzip_seconds: float
    renders: int


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile with linear interpolation between closest ranks.

    Example:
        >>> percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5)
        3.0
        >>> round(percentile([0.0, 10.0], 0.99), 6)
        9.9
    """
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ---------------------------------------------------------------------------------- the work
def spin(iterations: int) -> int:
    """Pure-CPU work: a Python loop that holds the GIL throughout."""
    acc = 0
    for i in range(iterations):
        acc ^= i * i
    return acc


def calibrate(target_seconds: float) -> tuple[int, float]:
    """Iterations of :func:`spin` that take about ``target_seconds``, and their median time."""

    def median_time(iterations: int, runs: int) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            spin(iterations)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    iterations = 10_000
    while median_time(iterations, 3) < target_seconds / 10:
        iterations *= 10
    for _ in range(3):  # refine: the loop is linear in its iterations
        iterations = max(1, round(iterations * target_seconds / median_time(iterations, 9)))
    return iterations, median_time(iterations, 21)


# ---------------------------------------------------------------------------------- the bots
class Bot(Protocol):
    """One implementation serving ``N`` series, and the cycle a bot runs."""

    name: str

    @property
    def url(self) -> str: ...

    def cycle(self, i: int) -> None:
        """One cycle: the work, one gauge set, one histogram observation, timed as a cycle."""
        ...

    def render_once(self) -> tuple[bytes, float, float]:
        """Render as a scrape would: (body, render seconds, gzip seconds)."""
        ...

    def close(self) -> None: ...


def symbols(series: int) -> list[str]:
    return [f"SYM{i:05d}-PERP" for i in range(series)]


class TelemetryBot:
    """trader_telemetry: ``Telemetry`` with its own endpoint (``reader`` picks the reader)."""

    def __init__(self, series: int, work: Callable[[], object], *, reader: str) -> None:
        self.name = OURS if reader == "native" else UPSTREAM
        self._work = work
        self.telemetry = tt.Telemetry(
            namespace="bench",
            host="127.0.0.1",
            port=0,
            max_label_values=max(20_000, series),
            reader=reader,
        )
        self._timer = self.telemetry.cycle_timer()
        self._symbols = symbols(series)
        for index, symbol in enumerate(self._symbols):
            self.telemetry.record_exposure(symbol, float(index))
        self._histogram = self.telemetry.meter_provider.get_meter("bench").create_histogram(
            "bench_fill_latency_seconds",
            unit="s",
            description="Fill latency per symbol.",
            explicit_bucket_boundaries_advisory=list(ORDER_LATENCY_BUCKETS),
        )
        self._attributes = [{"symbol": s} for s in self._symbols[: series // HISTOGRAM_EVERY]]
        for attributes in self._attributes:
            self._histogram.record(0.02, attributes)

    @property
    def url(self) -> str:
        url = self.telemetry.metrics_url
        assert url is not None
        return url

    def cycle(self, i: int) -> None:
        with self._timer:
            self._work()
            self.telemetry.record_exposure(self._symbols[i % len(self._symbols)], float(i))
            self._histogram.record(0.02, self._attributes[i % len(self._attributes)])

    def render_once(self) -> tuple[bytes, float, float]:
        start = time.perf_counter()
        body = self.telemetry.render_metrics(ACCEPT).body
        rendered = time.perf_counter()
        gzip.compress(body, compresslevel=1)  # as trader_telemetry's server does
        return body, rendered - start, time.perf_counter() - rendered

    def close(self) -> None:
        self.telemetry.shutdown()


class PrometheusClientBot:
    """Hand-written prometheus_client on a fresh registry and its own ``start_http_server``."""

    name = PROM

    def __init__(self, series: int, work: Callable[[], object]) -> None:
        self._work = work
        self.registry = prometheus_client.CollectorRegistry()  # never the global REGISTRY
        prometheus_client.ProcessCollector(registry=self.registry)
        self._cycle = prometheus_client.Histogram(
            "bench_cycle_duration_seconds",
            "Cycle duration.",
            registry=self.registry,
            buckets=CYCLE_BUCKETS,
        )
        self._gauge = prometheus_client.Gauge(
            "bench_exposure_usd", "Exposure per symbol.", ["symbol"], registry=self.registry
        )
        self._histogram = prometheus_client.Histogram(
            "bench_fill_latency_seconds",
            "Fill latency per symbol.",
            ["symbol"],
            registry=self.registry,
            buckets=ORDER_LATENCY_BUCKETS,
        )
        self._symbols = symbols(series)
        self._histogram_symbols = self._symbols[: series // HISTOGRAM_EVERY]
        for index, symbol in enumerate(self._symbols):
            self._gauge.labels(symbol).set(float(index))
        for symbol in self._histogram_symbols:
            self._histogram.labels(symbol).observe(0.02)
        # prometheus_client 0.26 returns (server, thread).
        self._server, self._thread = prometheus_client.start_http_server(
            0, addr="127.0.0.1", registry=self.registry
        )
        self._port: int = self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/metrics"

    def cycle(self, i: int) -> None:
        with self._cycle.time():
            self._work()
            self._gauge.labels(self._symbols[i % len(self._symbols)]).set(float(i))
            symbol = self._histogram_symbols[i % len(self._histogram_symbols)]
            self._histogram.labels(symbol).observe(0.02)

    def render_once(self) -> tuple[bytes, float, float]:
        encoder, _content_type = choose_encoder(ACCEPT)
        start = time.perf_counter()
        body = encoder(self.registry)
        rendered = time.perf_counter()
        gzip.compress(body)  # make_wsgi_app compresses at gzip's default level
        return body, rendered - start, time.perf_counter() - rendered

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)


def make_bot(implementation: str, series: int, work: Callable[[], object]) -> Bot:
    if implementation == PROM:
        return PrometheusClientBot(series, work)
    return TelemetryBot(
        series, work, reader="native" if implementation == OURS else "otel-prometheus"
    )


# ---------------------------------------------------------------------------------- the scraper
def _stop_requested(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the parent to close our stdin (its stop request)."""
    readable, _, _ = select.select([sys.stdin], [], [], max(0.0, timeout))
    return bool(readable)


def run_scraper(url: str, rate_hz: float, cpu: int | None) -> int:
    """Scraper process: GET ``url`` at ``rate_hz`` until stdin closes, then print a JSON report.

    Prints ``ready`` after a first scrape; the figures cover the scrapes after it. A scrape
    that takes longer than the interval is followed at once by the next (no burst to catch up).
    The stop request is only seen between scrapes, so no response is ever cut off.
    """
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    headers = {"Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING, "User-Agent": "jitter"}
    log = ScrapeLog()

    def scrape() -> None:
        start = time.perf_counter()
        try:
            conn.request("GET", parts.path, headers=headers)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()  # reconnects on the next request
            log.errors += 1
            print(f"scraper: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        elapsed = time.perf_counter() - start
        if response.status != 200:
            log.errors += 1
            return
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        log.durations.append(elapsed)
        log.body_bytes = len(body)

    try:
        scrape()
        log.durations.clear()
        print("ready", flush=True)
        interval = 1.0 / rate_hz
        next_at = time.perf_counter()
        while True:
            scrape()
            next_at += interval
            # Fell behind (a scrape longer than the interval): go on at once, no catching up.
            next_at = max(next_at, time.perf_counter())
            if _stop_requested(next_at - time.perf_counter()):
                break
    finally:
        conn.close()
    report = {"durations": log.durations, "body_bytes": log.body_bytes, "errors": log.errors}
    print(json.dumps(report), flush=True)
    return 0


class ScraperProcess:
    """This script re-invoked with ``--scraper``; asked to stop by closing its stdin, killed
    by its pid if it does not."""

    def __init__(self, url: str, rate_hz: float, cpu: int | None) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--scraper", url, str(rate_hz)]
        if cpu is not None:
            command += ["--scraper-cpu", str(cpu)]
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # blocks until the first scrape is done
        if line.strip() != "ready":
            self.kill()
            raise RuntimeError(f"the scraper did not start (said {line!r})")

    def stop(self) -> ScrapeLog:
        """Close its stdin, wait for its report (the scrape in flight completes first)."""
        try:
            out, _ = self._proc.communicate(timeout=60)  # closes stdin: the stop request
        except subprocess.TimeoutExpired:
            self.kill()
            return ScrapeLog(errors=1)
        try:
            report = json.loads(out.strip().splitlines()[-1])
        except (IndexError, ValueError):
            return ScrapeLog(errors=1)
        return ScrapeLog(report["durations"], report["body_bytes"], report["errors"])

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()  # SIGKILL to this pid only
        self._proc.communicate()


# ---------------------------------------------------------------------------------- running
def run_loop(bot: Bot, seconds: float) -> list[float]:
    """Back-to-back cycles for ``seconds``; the wall duration of each."""
    cycle = bot.cycle
    clock = time.perf_counter
    durations: list[float] = []
    append = durations.append
    end = clock() + seconds
    i = 0
    while True:
        start = clock()
        cycle(i)
        stop = clock()
        append(stop - start)
        if stop >= end:
            return durations
        i += 1


def measure_render(bot: Bot, series: int, budget_seconds: float = 1.5) -> RenderCost:
    """Render in-process until ``budget_seconds`` are spent (3 to 21 renders); medians."""
    renders: list[float] = []
    gzips: list[float] = []
    body = b""
    start = time.perf_counter()
    while len(renders) < 3 or (len(renders) < 21 and time.perf_counter() - start < budget_seconds):
        body, render_seconds, gzip_seconds = bot.render_once()
        renders.append(render_seconds)
        gzips.append(gzip_seconds)
    return RenderCost(
        bot.name,
        series,
        len(body),
        statistics.median(renders),
        statistics.median(gzips),
        len(renders),
    )


def run_segment(
    bot: Bot, rate_hz: float, seconds: float, scraper_cpu: int | None
) -> tuple[list[float], ScrapeLog]:
    """The loop for ``seconds``, scraped at ``rate_hz`` (0: not scraped)."""
    gc.collect()
    if rate_hz <= 0:
        return run_loop(bot, seconds), ScrapeLog()
    scraper = ScraperProcess(bot.url, rate_hz, scraper_cpu)
    try:
        cycles = run_loop(bot, seconds)
    except BaseException:
        scraper.kill()
        raise
    return cycles, scraper.stop()


def run_all(
    settings: Settings, work: Callable[[], object], scraper_cpu: int | None
) -> tuple[list[Scenario], list[RenderCost]]:
    """Every implementation and size; for each, the rates round-robin in ``settings.rounds``
    segments, so a drift of the machine's speed hits every rate alike."""
    scenarios: list[Scenario] = []
    costs: list[RenderCost] = []
    segment_seconds = settings.seconds / settings.rounds
    for series in settings.sizes:
        for implementation in settings.implementations:
            progress(f"{implementation}, {series:,} series: setting up")
            bot = make_bot(implementation, series, work)
            try:
                run_loop(bot, 0.5)  # warm up
                costs.append(measure_render(bot, series))
                rows = [Scenario(bot.name, series, rate, [], ScrapeLog()) for rate in RATES]
                for round_ in range(settings.rounds):
                    progress(
                        f"{implementation}, {series:,} series: round {round_ + 1}/"
                        f"{settings.rounds} of {segment_seconds:g} s per rate"
                    )
                    for row in rows:
                        cycles, log = run_segment(bot, row.rate_hz, segment_seconds, scraper_cpu)
                        row.cycles += cycles
                        row.scrapes.durations += log.durations
                        row.scrapes.body_bytes = log.body_bytes or row.scrapes.body_bytes
                        row.scrapes.errors += log.errors
                scenarios += rows
            finally:
                bot.close()
    return scenarios, costs


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- report
def rate_label(rate_hz: float) -> str:
    return "unscraped" if rate_hz <= 0 else f"{rate_hz:g} Hz"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def baseline_of(scenario: Scenario, scenarios: Sequence[Scenario]) -> Scenario | None:
    """The unscraped run of the same implementation and series count."""
    for other in scenarios:
        if (
            other.rate_hz <= 0
            and other.implementation == scenario.implementation
            and other.series == scenario.series
        ):
            return other
    return None


def inflation(scenario: Scenario, scenarios: Sequence[Scenario]) -> float | None:
    base = baseline_of(scenario, scenarios)
    return None if base is None else scenario.p99 / base.p99


def slow_share(scenario: Scenario, scenarios: Sequence[Scenario]) -> float | None:
    """Share of cycles slower than the unscraped p99 (1% when scrapes change nothing)."""
    base = baseline_of(scenario, scenarios)
    if base is None:
        return None
    limit = base.p99
    return sum(1 for c in scenario.cycles if c > limit) / len(scenario.cycles)


def lost_per_scrape(scenario: Scenario, scenarios: Sequence[Scenario]) -> float | None:
    """Loop time lost per scrape, in seconds: the cycles' excess over the unscraped median,
    summed, over the number of scrapes (about what one scrape takes from the bot's core)."""
    base = baseline_of(scenario, scenarios)
    if base is None or not scenario.scrapes.durations:
        return None
    median = base.p50
    excess = sum(c - median for c in scenario.cycles)
    return excess / len(scenario.scrapes.durations)


def find(
    scenarios: Sequence[Scenario], implementation: str, series: int, rate_hz: float
) -> Scenario | None:
    for s in scenarios:
        if s.implementation == implementation and s.series == series and s.rate_hz == rate_hz:
            return s
    return None


def format_table(scenarios: Sequence[Scenario]) -> list[str]:
    lines = [
        "| implementation | series | scrape | cycles | p50 ms | p99 ms | max ms "
        "| p99 inflation | cycles > unscraped p99 | scrapes | scrape p50 ms "
        "| loop ms lost / scrape |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scenarios:
        ratio = inflation(s, scenarios)
        share = slow_share(s, scenarios)
        lost = lost_per_scrape(s, scenarios)
        scraped = s.rate_hz > 0
        scrape_ms = ms(statistics.median(s.scrapes.durations)) if s.scrapes.durations else "-"
        scrapes = f"{len(s.scrapes.durations)}" if scraped else "-"
        if s.scrapes.errors:
            scrapes += f" ({s.scrapes.errors} failed)"
        lines.append(
            f"| {s.implementation} | {s.series:,} | {rate_label(s.rate_hz)} | {len(s.cycles):,} "
            f"| {ms(s.p50)} | {ms(s.p99)} | {ms(s.max)} "
            f"| {'-' if ratio is None else f'{ratio:.2f}x'} "
            f"| {'-' if share is None else f'{share:.1%}'} "
            f"| {scrapes} | {scrape_ms} | {'-' if lost is None else ms(lost)} |"
        )
    return lines


def format_costs(costs: Sequence[RenderCost]) -> list[str]:
    lines = [
        "| implementation | series | body KiB | render ms | gzip ms | renders |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {c.implementation} | {c.series:,} | {c.body_bytes / 1024:,.0f} "
        f"| {ms(c.render_seconds)} | {ms(c.gzip_seconds)} | {c.renders} |"
        for c in costs
    )
    return lines


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    passed: bool | None  # None: not measured in this run
    text: str

    @property
    def label(self) -> str:
        return {True: "PASS", False: "MISS", None: "SKIP"}[self.passed]


def verdicts(scenarios: Sequence[Scenario]) -> list[Verdict]:
    results: list[Verdict] = []
    small = find(scenarios, OURS, TARGET_SERIES_SMALL, TARGET_RATE)
    ratio = None if small is None else inflation(small, scenarios)
    name = f"{TARGET_SERIES_SMALL:,} series at {TARGET_RATE:g} Hz"
    if ratio is None:
        results.append(Verdict(name, None, f"{name}: not measured in this run"))
    else:
        results.append(
            Verdict(
                name,
                ratio <= TARGET_SMALL_RATIO,
                f"{name}: {OURS} p99 is {ratio:.2f}x its unscraped p99 "
                f"(target <= {TARGET_SMALL_RATIO:.1f}x)",
            )
        )

    name = f"{TARGET_SERIES_LARGE:,} series at {TARGET_RATE:g} Hz"
    ours = find(scenarios, OURS, TARGET_SERIES_LARGE, TARGET_RATE)
    prom = find(scenarios, PROM, TARGET_SERIES_LARGE, TARGET_RATE)
    ours_ratio = None if ours is None else inflation(ours, scenarios)
    prom_ratio = None if prom is None else inflation(prom, scenarios)
    if ours_ratio is None or prom_ratio is None:
        results.append(Verdict(name, None, f"{name}: not measured in this run"))
    else:
        allowed = TARGET_LARGE_SHARE * (prom_ratio - 1)
        results.append(
            Verdict(
                name,
                ours_ratio - 1 <= allowed,
                f"{name}: {OURS} p99 inflation {ours_ratio - 1:+.0%} vs {PROM} "
                f"{prom_ratio - 1:+.0%} (target: at most half of it, <= {allowed:+.0%})",
            )
        )
    return results


def summary(scenarios: Sequence[Scenario], results: Sequence[Verdict]) -> str:
    parts = []
    for series in sorted({s.series for s in scenarios}):
        figures = []
        for implementation in (OURS, PROM, UPSTREAM):
            s = find(scenarios, implementation, series, TARGET_RATE)
            ratio = None if s is None else inflation(s, scenarios)
            if ratio is not None:
                figures.append(f"{implementation} {ratio:.2f}x")
        parts.append(f"{series:,} series: " + ", ".join(figures))
    measured = [v for v in results if v.passed is not None]
    met = sum(1 for v in measured if v.passed)
    return (
        f"summary: p99 inflation at {TARGET_RATE:g} Hz, " + "; ".join(parts) + f"; "
        f"{met}/{len(measured)} targets met"
    )


def as_json(
    scenarios: Sequence[Scenario],
    costs: Sequence[RenderCost],
    results: Sequence[Verdict],
    meta: dict[str, object],
) -> object:
    return {
        **meta,
        "scenarios": [
            {
                "implementation": s.implementation,
                "series": s.series,
                "rate_hz": s.rate_hz,
                "cycles": len(s.cycles),
                "p50_ms": s.p50 * 1e3,
                "p99_ms": s.p99 * 1e3,
                "max_ms": s.max * 1e3,
                "p99_inflation": inflation(s, scenarios),
                "share_slower_than_unscraped_p99": slow_share(s, scenarios),
                "loop_ms_lost_per_scrape": None
                if (lost := lost_per_scrape(s, scenarios)) is None
                else lost * 1e3,
                "scrapes": len(s.scrapes.durations),
                "scrape_errors": s.scrapes.errors,
                "scrape_p50_ms": statistics.median(s.scrapes.durations) * 1e3
                if s.scrapes.durations
                else None,
                "scrape_ms": [d * 1e3 for d in s.scrapes.durations],
                "body_bytes": s.scrapes.body_bytes or None,
                "cycle_ms": [c * 1e3 for c in s.cycles],
            }
            for s in scenarios
        ],
        "render_costs": [
            {
                "implementation": c.implementation,
                "series": c.series,
                "body_bytes": c.body_bytes,
                "render_ms": c.render_seconds * 1e3,
                "gzip_ms": c.gzip_seconds * 1e3,
                "renders": c.renders,
            }
            for c in costs
        ],
        "verdicts": [{"target": v.name, "verdict": v.label, "text": v.text} for v in results],
    }


# ---------------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="1,000 series only, 3 s per scenario: a smoke run"
    )
    parser.add_argument(
        "--seconds", type=float, metavar="S", help="seconds per scenario (default 15, --quick 3)"
    )
    parser.add_argument(
        "--upstream",
        action="store_true",
        help="also run trader_telemetry with the upstream otel-prometheus reader",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    # Internal: this script re-invoked as the scraper process.
    parser.add_argument("--scraper", nargs=2, metavar=("URL", "RATE"), help=argparse.SUPPRESS)
    parser.add_argument("--scraper-cpu", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seconds is not None and not args.seconds > 0:
        parser.error("--seconds must be > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scraper is not None:
        url, rate = args.scraper
        return run_scraper(url, float(rate), args.scraper_cpu)

    # Pin before any thread starts: threads inherit the affinity of the thread creating them.
    cpus = sorted(os.sched_getaffinity(0))
    bot_cpu = cpus[0]
    scraper_cpu = cpus[1] if len(cpus) > 1 else None
    os.sched_setaffinity(0, {bot_cpu})
    assert threading.active_count() == 1

    seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 15.0)
    settings = Settings(
        seconds=seconds,
        rounds=3 if seconds >= 9 else 1,
        sizes=(1_000,) if args.quick else (1_000, 10_000),
        implementations=(OURS, PROM, UPSTREAM) if args.upstream else (OURS, PROM),
    )
    info = versions("opentelemetry-sdk", "opentelemetry-exporter-prometheus", "prometheus_client")
    for name, value in info.items():
        print(f"{name}: {value}")
    load_before = os.getloadavg()[0]
    iterations, work_seconds = calibrate(CYCLE_SECONDS)
    pinning = (
        f"bot pinned to CPU {bot_cpu}, scraper to CPU {scraper_cpu}"
        if scraper_cpu is not None
        else f"bot pinned to CPU {bot_cpu}; one CPU only, the scraper shares it"
    )
    print(f"cpus: {len(cpus)} usable; {pinning}")
    if load_before > 0.75:
        print(
            f"warning: load average {load_before:.2f} before the run: other processes compete "
            "for the CPUs and their noise lands in the percentiles"
        )
    print(
        f"method: back-to-back cycles of {ms(work_seconds)} ms pure-CPU work "
        f"({iterations:,} iterations) + one gauge set + one histogram observation; "
        f"{settings.seconds:g} s per scenario in {settings.rounds} round-robin segment(s); "
        "scrapes over HTTP from a separate process "
        f"(Accept: {ACCEPT}; Accept-Encoding: {ACCEPT_ENCODING}); gc on"
        + (" (--quick: figures are indicative only)" if args.quick else "")
    )
    work = partial(spin, iterations)
    scenarios, costs = run_all(settings, work, scraper_cpu)
    results = verdicts(scenarios)
    # This run keeps about one CPU busy; well above that, something else ran meanwhile.
    load_after = os.getloadavg()[0]

    print()
    for line in format_table(scenarios):
        print(line)
    print()
    print("One render in-process, nothing else running (what each scrape costs the bot's core):")
    print()
    for line in format_costs(costs):
        print(line)
    print()
    if load_after > 1.5:
        print(f"warning: load average {load_after:.2f} at the end: the run shared the machine")
    print(REFERENCE)
    for result in results:
        print(f"{result.label}: {result.text}")
    print(summary(scenarios, results))

    if args.json is not None:
        meta: dict[str, object] = {
            "versions": info,
            "settings": {
                "seconds_per_scenario": settings.seconds,
                "rounds": settings.rounds,
                "series": list(settings.sizes),
                "implementations": list(settings.implementations),
                "rates_hz": list(RATES),
                "work_iterations": iterations,
                "work_ms": work_seconds * 1e3,
                "bot_cpu": bot_cpu,
                "scraper_cpu": scraper_cpu,
                "load_average_before": load_before,
                "load_average_after": load_after,
                "accept": ACCEPT,
                "accept_encoding": ACCEPT_ENCODING,
            },
        }
        document = as_json(scenarios, costs, results, meta)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0  # a measurement, not a gate


if __name__ == "__main__":
    sys.exit(main())
